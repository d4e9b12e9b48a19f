"""The five connection variables are listed once in code (`connection.variables`) and once in README's
"Connecting the real systems" table; these tests keep the two equal, and check the one line a missing or
malformed variable gives."""

from __future__ import annotations

import re

from humacrona_pipeline.connection.variables import BY_NAME, VARIABLES, Settings, missing, missing_line, problem_line
from tests.test_readme import _section as readme_section
from tests.test_readme import _table as readme_table


def _table() -> list[list[str]]:
    """The first table of the section: one row per source, its variables named in backticks."""
    header, rows = readme_table(readme_section("Connecting the real systems"))
    assert header == ["variable", "where it comes from"], header
    return rows


def mismatches(rows: list[list[str]]) -> list[str]:
    """Where README and the code differ: a variable's source, or which variables are named, in what order."""
    found, named = [], []
    for cell, where in rows:
        for name in re.findall(r"`([A-Z_]+)`", cell):
            named.append(name)
            if name not in BY_NAME or BY_NAME[name].where != where:
                found.append(f"{name}: README says {where!r}")
    if named != [v.name for v in VARIABLES]:
        found.append(f"README names {named}")
    return found


def test_readme_names_each_variable_once_in_the_codes_order_with_the_codes_source():
    assert mismatches(_table()) == []


def test_the_comparison_notices_drift():
    rows = _table()
    assert mismatches([[rows[0][0], "https://example.org"], *rows[1:]])  # another source
    assert mismatches(rows[1:])  # a variable left out
    assert mismatches([["`HUMA_GROUP_ID`", "Huma"], *rows])  # one the code does not know


def test_missing_and_blank_variables_are_named_with_their_source_in_one_line():
    values = {"HUMA_BASE_URL": "https://openapi.humahr.com", "HUMA_CLIENT_ID": " ", "CRONA_BASE_URL": "https://c"}
    assert missing(values) == ["HUMA_CLIENT_ID", "HUMA_CLIENT_SECRET", "CRONA_ACTIVATION_CODE"]
    line = problem_line(values)
    assert line == missing_line(missing(values))
    assert "\n" not in line and "*" not in line and "`" not in line
    assert "HUMA_CLIENT_ID, HUMA_CLIENT_SECRET — Huma → System settings → Open API → create an API key" in line
    assert "CRONA_ACTIVATION_CODE — Crona Lön → Inställningar → Kopplingar → Skapa ny → API-koppling" in line
    assert "HUMA_BASE_URL" not in line


def test_a_base_url_without_a_scheme_is_named():
    values = {v.name: "x-set" for v in VARIABLES} | {"HUMA_BASE_URL": "https://h", "CRONA_BASE_URL": "crona.se"}
    assert problem_line(values).startswith("a base URL must start with https://")
    assert "CRONA_BASE_URL='crona.se'" in problem_line(values)
    assert problem_line(values | {"CRONA_BASE_URL": "https://crona.se"}) is None


def test_settings_never_show_a_secret():
    settings = Settings.from_env({"HUMA_BASE_URL": "https://h/", "HUMA_CLIENT_ID": "id", "HUMA_CLIENT_SECRET": "s3cr3t",
                                  "CRONA_BASE_URL": "https://c", "CRONA_ACTIVATION_CODE": "k0d"})
    assert "s3cr3t" not in repr(settings) and "k0d" not in repr(settings)
    assert settings.problem() is None
