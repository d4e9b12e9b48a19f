"""Hostile values from Huma or Crona (HTML, pipes, links, line breaks, a right-to-left override, zero-width
and NUL characters) reach no Dagster Markdown, HTML report, email or CLI line as markup or as hidden text.

They are planted where data comes in: the raw extracts (frames) for the metadata builders and the canonical
and reconcile assets, and the Crona sandbox (which accepts them) for `plan_sync` and `sync_users` end to end,
with Crona refusing the writes in a hostile message, so the report lists them too. Whether the values end up
quarantined or planned, every place that shows them must escape them."""

from __future__ import annotations

import asyncio
import email
import re
import unicodedata
from dataclasses import replace
from email import policy as email_policy
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from humacrona_pipeline.connectors.crona import CRONA_COLUMNS, employee_row
from humacrona_pipeline.connectors.huma import HUMA_COLUMNS, flatten_employee
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.defs.canonical.assets import crona_employees, huma_employees
from humacrona_pipeline.defs.canonical.checks import (
    crona_employees_schema,
    huma_employees_schema,
)
from humacrona_pipeline.defs.crona.resources import CronaResource
from humacrona_pipeline.defs.metadata import (
    counts_md,
    list_md,
    markdown_table,
    table_metadata,
)
from humacrona_pipeline.defs.policy import SyncPolicy
from humacrona_pipeline.defs.reconcile.assets import (
    employee_conflicts,
    employee_matches,
    sync_plan,
)
from humacrona_pipeline.defs.reconcile.checks import plan_within_guards
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from humacrona_sandbox.seed import generate
from tests.defs.sync_testkit import confirm, huma_policy, plan_resources, run

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
RLO = "\u202egnp.exe"
LINK = "[link](javascript:alert(1))"
IMAGE = "![](http://evil.example/x.png)"
HOSTILE = (SCRIPT, IMG, "a|b", "x\ny", RLO, "an\u200bna", "n\x00l", LINK, IMAGE, "`", "**x**")
HIDING = ("Cc", "Cf", "Zl", "Zp")


def hidden_characters(text: str, allowed: str = "") -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in HIDING and c not in allowed]


def unescaped(pattern: str, text: str) -> list[str]:
    """Matches of ``pattern`` in Markdown ``text`` not escaped by a backslash."""
    return re.findall(rf"(?<!\\)(?:\\\\)*{pattern}", text)


def assert_safe_markdown(text: str, where: str) -> None:
    """No raw HTML, hidden character, link, image or code from data; every table row keeps its columns."""
    assert not re.search(r"<[A-Za-z/!?]", text), (where, text)
    assert not hidden_characters(text, allowed="\n"), (where, hidden_characters(text, "\n"))
    # Where data is shown: table rows and list items (the rest is the report's own headings and notes).
    data = "\n".join(line for line in text.split("\n") if line.startswith(("|", "- ")))
    for pattern in (r"\[", r"\]", "`", r"\*", "~"):
        assert not unescaped(pattern, data), (where, pattern, text)
    assert not re.search(r"(?<!\\)://", data), (where, text)
    table: list[int] = []
    for line in text.split("\n") + [""]:
        if line.startswith("|"):
            table.append(len(unescaped(r"\|", line)))
        elif table:
            assert len(set(table)) == 1, (where, "a row with other columns than its header", text)
            table = []


def markdown_values(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Every Markdown metadata value of a run's materializations and check evaluations, by where it is."""
    found = {}
    for event in result.get_asset_materialization_events():
        for key, value in event.materialization.metadata.items():
            if isinstance(value, dg.MarkdownMetadataValue):
                found[f"{event.asset_key.to_user_string()}.{key}"] = value.value
    for evaluation in result.get_asset_check_evaluations():
        for key, value in evaluation.metadata.items():
            if isinstance(value, dg.MarkdownMetadataValue):
                found[f"{evaluation.check_name}.{key}"] = value.value
    return found


# --- the metadata builders, fed hostile frames ------------------------------------------------------------


def hostile_frame() -> pd.DataFrame:
    return pd.DataFrame({"field": [f"f{i}" for i in range(len(HOSTILE))], "value": list(HOSTILE),
                         "reason": [f"refused: {v}" for v in reversed(HOSTILE)],
                         "x|<b>col</b>": list(HOSTILE)})


def test_every_metadata_builder_escapes_hostile_values():
    frame = hostile_frame()
    shown = {
        "markdown_table": markdown_table(frame),
        "counts_md": counts_md(frame, ["value", "reason"]).value,
        "list_md": list_md(HOSTILE).value,
        "preview": table_metadata(frame, masked_columns=())["preview"].value,
    }
    for where, text in shown.items():
        assert_safe_markdown(text, where)
        assert "&lt;script&gt;" in text and "&lt;U+202E&gt;gnp.exe" in text and "a\\|b" in text, (where, text)
        assert "x&lt;U+000A&gt;y" in text and "\\[link\\](javascript:alert(1))" in text, (where, text)
    assert len(shown["markdown_table"].split("\n")) == len(frame) + 2  # one line per row: newlines stay inside


# --- canonical and reconcile assets, hostile raw extracts ---------------------------------------------------

HUMA_PLANTED = {"givenName": SCRIPT, "familyName": "a|b", "position.title": RLO, "phone": IMG,
                "homeAddress.line1": LINK, "homeAddress.city": "x\ny", "privateEmail": "an\u200bna@example.org",
                "homeAddress.postalCode": "n\x00l"}
CRONA_PLANTED = {"FoNamn": IMG, "EfNamn": LINK, "Befattning": SCRIPT, "Mobil": RLO, "Adress1": IMAGE,
                 "Ort": "`x`|y", "EpostPriv": "a\u200b@example.org", "PostNr": "\x00"}


def plant(frame: pd.DataFrame, values: dict[str, str]) -> pd.DataFrame:
    """Each value in its own row (row i gets the i-th value), so each reaches a table of its own kind."""
    frame = frame.copy()
    for row, (column, value) in enumerate(values.items()):
        assert column in frame.columns, column
        frame.loc[frame.index[row], column] = value
    return frame


def test_canonical_and_reconcile_metadata_escape_hostile_extracts(dagster_home):
    seeded = generate(12, seed=5)
    huma = pd.DataFrame([flatten_employee(u, u["positions"]) for u in seeded.huma_users], columns=list(HUMA_COLUMNS))
    crona = pd.DataFrame([employee_row(e) for e in seeded.crona_employees], columns=list(CRONA_COLUMNS))

    def stand_in(name: str, value: pd.DataFrame) -> dg.AssetsDefinition:
        @dg.asset(name=name, group_name="extract")
        def _value():
            return value

        return _value

    assets = [stand_in("huma_users_raw", plant(huma, HUMA_PLANTED)),
              stand_in("crona_employees_raw", plant(crona, CRONA_PLANTED)),
              huma_employees, crona_employees, huma_employees_schema, crona_employees_schema, employee_matches,
              employee_conflicts, sync_plan, plan_within_guards]
    policy = SyncPolicy.from_policy(replace(Policy(default_winner="huma"), approve_mass_change=True,
                                            quarantine_error_share=1.0))  # so the plan runs past the checks
    with dg.instance_for_test() as instance:
        result = dg.materialize(assets, resources=plan_resources(policy), instance=instance, raise_on_error=False,
            partition_key="default")
    shown = markdown_values(result)
    assert {"huma_employees.quarantine", "crona_employees.preview", "employee_conflicts.conflicts",
            "sync_plan.operations_preview", "huma_employees_schema.failure_cases"} <= set(shown)
    for where, text in shown.items():
        assert_safe_markdown(text, where)
    everything = "\n".join(shown.values())
    # The hostile values were shown (escaped), not dropped: the escaping was exercised.
    for escaped in ("&lt;script&gt;", "&lt;img src=x", "&lt;U+202E&gt;", "\\[link\\]"):
        assert escaped in everything, escaped


# --- plan_sync and sync_users against sandboxes holding hostile values ------------------------------------

REFUSAL = f"\u202eRefused {IMG} | `x`\n**now** [again]({LINK}) \u200b\x00"


@pytest.fixture
def hostile_sandboxes(dagster_home):
    """Sandboxes whose Crona holds hostile values (written through its API, which accepts them) and refuses
    every write in a hostile message; the connection confirmed, so sync_users writes (and fails)."""
    with start_sandboxes(SandboxOptions(employees=10, seed=3, huma_port=0, crona_port=0)) as running:
        env = running.env
        client = CronaResource(base_url=env["CRONA_BASE_URL"], activation_code=env["CRONA_ACTIVATION_CODE"]).client()

        async def plant_in_crona() -> list[dict]:
            async with client:
                employees = await client.list_employees()
                for (column, value), employee in zip(CRONA_PLANTED.items(), employees):
                    await client.patch_employee(employee["AnstNr"], {column: value})
                return employees

        for employee in asyncio.run(plant_in_crona()):
            running.crona.reject_writes(employee["EpostArb"], 422, message=REFUSAL)
        confirm(running, dagster_home)
        yield running


def test_plan_sync_and_sync_users_show_hostile_values_escaped(hostile_sandboxes, dagster_home):
    policy = huma_policy(quarantine_error_share=1.0)  # a plan despite the quarantined values
    with dg.instance_for_test() as instance:
        planned = run("plan_sync", hostile_sandboxes, policy, dagster_home, instance)
        synced = run("sync_users", hostile_sandboxes, policy, dagster_home, instance)
        html_file = Path(synced.output_for_node("sync_report")["report_path"]).read_text(encoding="utf-8")
    assert planned.success, [e.message for e in planned.all_events if e.is_failure]
    shown = {**{f"plan_sync {k}": v for k, v in markdown_values(planned).items()},
             **{f"sync_users {k}": v for k, v in markdown_values(synced).items()}}
    assert "sync_users sync_report.summary" in shown and "sync_users crona_writeback.failed_or_unverified" in shown
    for where, text in shown.items():
        assert_safe_markdown(text, where)
    everything = "\n".join(shown.values())
    for escaped in ("&lt;script&gt;", "&lt;img src=x", "&lt;U+202E&gt;"):
        assert escaped in everything, escaped
    # Crona's hostile refusal reaches the report's failed list: shown, escaped, every hidden character marked
    # (the connector already put it on one line).
    md = shown["sync_users sync_report.summary"]
    assert ("&lt;U+202E&gt;Refused &lt;img src=x onerror=alert(1)&gt; \\| \\`x\\` \\*\\*now\\*\\* \\[again\\]"
            "(\\[link\\](javascript:alert(1))) &lt;U+200B&gt;&lt;U+0000&gt;") in md

    (eml,) = (dagster_home / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email_policy.default)
    html, text = (message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("html", "plain"))
    assert html.strip() == html_file.strip()
    subject = str(message["Subject"])
    assert not hidden_characters(subject) and "failed" in subject
    for part, allowed in ((html, "\n"), (text, "\n")):
        assert not hidden_characters(part, allowed), hidden_characters(part, allowed)
    assert not re.search(r"<(script|img)\b", html, re.IGNORECASE)
    assert "&lt;U+202E&gt;Refused &lt;img src=x onerror=alert(1)&gt;" in html
    # Each value isolated in its own <bdi>: a right-to-left value cannot reorder the text around it.
    assert re.search(r"<td [^>]*><bdi>[^<]*&lt;U\+202E&gt;Refused[^<]*</bdi></td>", html)
    assert f"<U+202E>Refused {IMG} | `x` **now** [again]({LINK}) <U+200B><U+0000>" in text


# --- the CLI -----------------------------------------------------------------------------------------------


def test_the_cli_shows_hidden_characters_in_what_it_prints(capsys):
    from humacrona_pipeline.cli import _fail, _say

    _say(f"  Changed {RLO} to an\u200bna\nsecond line")
    assert _fail("refused: n\x00l \u2066x\u2069") == 2
    out, err = capsys.readouterr()
    assert out == "  Changed <U+202E>gnp.exe to an<U+200B>na\nsecond line\n"
    assert err == "refused: n<U+0000>l <U+2066>x<U+2069>\n"
