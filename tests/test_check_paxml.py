"""Issue 13 §1, `humacrona check` on Crona's PAXml channel (`connection.check.run_checks`): Huma is checked as
ever (the running sandbox), Crona Lön by reading its export (valid PAXml 2.0, naming the company) and by putting
a file into the import folder; an invalid or missing export, or a folder that cannot take a file, fails its row
with one line and no confirmation can be recorded. The Crona API's variables are not needed."""

from __future__ import annotations

import os
import re
import stat

import httpx
import pytest

from humacrona_pipeline.connection.check import FAILED, NOT_RUN, OK, confirm, connection_of, record, run_checks
from humacrona_pipeline.connection.crona_channel import (
    CRONA_CHANNEL,
    CRONA_PAXML_DIR,
    CRONA_PAXML_EXPORT,
    CRONA_PAXML_IMPORT_DIR,
)
from humacrona_pipeline.connection.variables import Settings
from humacrona_pipeline.state import db
from humacrona_pipeline.state.confirmations import Confirmations
from tests.connectors.test_paxml_export_reader import export_document, person, write_export
from tests.test_cli_errors import assert_one_line, run_humacrona

CRONA = "Crona Lön"


@pytest.fixture
def huma_only(sandboxes) -> dict[str, str]:
    """The running sandboxes' Huma variables, and none of the Crona API's."""
    return {k: v for k, v in sandboxes.env.items() if k.startswith("HUMA_")}


@pytest.fixture
def crona_export(sandboxes) -> bytes:
    """The Crona sandbox's employees exported as Crona Lön exports them."""
    response = httpx.get(sandboxes.crona_url + "/_sandbox/paxml/export", timeout=30)
    response.raise_for_status()
    return response.content


@pytest.fixture(autouse=True)
def _dispose():
    yield
    db.dispose_all()


def _paxml(env: dict, **variables: str) -> Settings:
    return Settings.from_env({**env, CRONA_CHANNEL: "paxml", **variables})


def _rows(report, system: str = CRONA) -> dict[str, tuple[str, str]]:
    return {r.check: (r.status, r.detail) for r in report.rows if r.system == system}


def test_a_valid_export_and_a_writable_folder_pass_without_the_crona_api_variables(huma_only, crona_export, tmp_path):
    folder = tmp_path / "crona"
    write_export(folder / "export" / "crona-2026-12.xml", crona_export)
    settings = _paxml(huma_only, **{CRONA_PAXML_DIR: str(folder)})
    assert settings.problem() is None

    report = run_checks(settings)
    assert report.ok, report.problem_line()
    crona = _rows(report)
    assert list(crona) == ["read export", "import folder"]
    assert crona["read export"][0] == OK and "valid PAXml 2.0" in crona["read export"][1]
    assert "crona-2026-12.xml" in crona["read export"][1]
    assert f"{crona_export.count(b'<person ')} employees" in crona["read export"][1]
    assert crona["import folder"][0] == OK and str(folder / "import") in crona["import folder"][1]
    assert all(status == OK for status, _ in _rows(report, "Huma").values() if status != "not checked")
    assert report.crona_company == "Nordljus Tech AB (556677-8899)"
    assert (folder / "import").is_dir() and list((folder / "import").iterdir()) == []  # the probe is gone
    # nothing secret in what the check prints
    shown = " ".join(f"{r.check} {r.status} {r.detail}" for r in report.rows)
    assert huma_only["HUMA_CLIENT_SECRET"] not in shown


def test_a_passed_check_confirms_the_paxml_folder_as_the_crona_side(huma_only, crona_export, tmp_path):
    folder = tmp_path / "crona"
    write_export(folder / "export" / "e.xml", crona_export)
    settings = _paxml(huma_only, **{CRONA_PAXML_DIR: str(folder)})
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    report, confirmation = confirm(settings, "Ada Admin", url)
    assert report.ok and confirmation is not None
    found = Confirmations(url).latest(connection_of(settings))
    assert found is not None and found.confirmed_by == "Ada Admin"
    assert found.crona_company == "Nordljus Tech AB (556677-8899)"
    assert connection_of(settings).crona_base_url == f"paxml:{folder.resolve()}"
    # the same folder written another way is the same, confirmed connection
    assert Confirmations(url).latest(connection_of(_paxml(huma_only, **{CRONA_PAXML_DIR: f"{folder}/"})))


@pytest.mark.parametrize(("data", "said"), [
    (export_document(person("1001", fornamn="Ada", lonesumma="1")), "lonesumma"),
    (export_document(person("1001", avgdatum="30/06/2026")), "avgdatum"),
    (b"<paxml><header><version>2.0</version>", "not an XML document"),
])
def test_an_invalid_export_fails_with_the_schemas_line(huma_only, tmp_path, data, said):
    folder = tmp_path / "crona"
    write_export(folder / "export" / "bad.xml", data)
    report = run_checks(_paxml(huma_only, **{CRONA_PAXML_DIR: str(folder)}))
    assert not report.ok
    crona = _rows(report)
    status, detail = crona["read export"]
    assert status == FAILED and said in detail and "line " in detail and "\n" not in detail
    assert crona["import folder"][0] == NOT_RUN
    line = report.problem_line()
    assert line.startswith("Crona Lön: ") and said in line and "\n" not in line
    assert all(status != FAILED for status, _ in _rows(report, "Huma").values())
    with pytest.raises(ValueError, match="cannot be confirmed"):  # no confirmation of a failed check
        record(report, _paxml(huma_only, **{CRONA_PAXML_DIR: str(folder)}), "Ada", f"sqlite:///{tmp_path / 's'}")


def test_no_export_fails_saying_to_export_from_crona_lon(huma_only, tmp_path):
    report = run_checks(_paxml(huma_only, **{CRONA_PAXML_DIR: str(tmp_path)}))
    status, detail = _rows(report)["read export"]
    assert status == FAILED and "export the employees from Crona Lön" in detail
    assert report.problem_line().startswith("Crona Lön: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder: a read-only folder cannot be shown")
def test_an_import_folder_without_write_permission_fails(huma_only, crona_export, tmp_path):
    export = write_export(tmp_path / "export.xml", crona_export)
    folder = tmp_path / "to-crona"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        report = run_checks(_paxml(huma_only, **{CRONA_PAXML_EXPORT: str(export),
                                                 CRONA_PAXML_IMPORT_DIR: str(folder)}))
    finally:
        folder.chmod(stat.S_IRWXU)
    crona = _rows(report)
    assert crona["read export"][0] == OK
    status, detail = crona["import folder"]
    assert status == FAILED and str(folder) in detail and "cannot take a file" in detail
    assert not report.ok and "\n" not in report.problem_line()


def test_an_import_folder_that_is_a_file_fails(huma_only, crona_export, tmp_path):
    export = write_export(tmp_path / "export.xml", crona_export)
    not_a_folder = tmp_path / "import.txt"
    not_a_folder.write_text("a file where the import folder should be")
    report = run_checks(_paxml(huma_only, **{CRONA_PAXML_EXPORT: str(export),
                                             CRONA_PAXML_IMPORT_DIR: str(not_a_folder)}))
    crona = _rows(report)
    assert crona["read export"][0] == OK
    status, detail = crona["import folder"]
    assert status == FAILED and str(not_a_folder) in detail and "cannot take a file" in detail
    assert not report.ok and report.problem_line().startswith("Crona Lön: ")
    assert not_a_folder.read_text() == "a file where the import folder should be"


def test_the_command_checks_the_paxml_channel_and_records_the_confirmation(huma_only, crona_export, tmp_path):
    """`humacrona check --confirm` as an administrator runs it, with only Huma's and the channel's variables."""
    folder = tmp_path / "crona"
    write_export(folder / "export" / "e.xml", crona_export)
    env = {**huma_only, CRONA_CHANNEL: "paxml", CRONA_PAXML_DIR: str(folder)}
    home = tmp_path / "home"
    result = run_humacrona(["check", "--confirm", "--by", "Ada Admin"], env, home)
    assert result.returncode == 0, result.stdout + result.stderr
    cells = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]
    table = {(c[0], c[1]): c[2] for c in cells if c[0] == CRONA and len(c) == 4}
    assert table == {(CRONA, "read export"): OK, (CRONA, "import folder"): OK}
    assert f"paxml:{folder.resolve()}" in result.stdout and "Confirmed by Ada Admin" in result.stdout
    assert huma_only["HUMA_CLIENT_SECRET"] not in result.stdout + result.stderr
    confirmations = Confirmations(f"sqlite:///{home / 'humacrona_state.sqlite'}")
    assert confirmations.latest(connection_of(Settings.from_env(env))) is not None

    (folder / "export" / "e.xml").write_bytes(export_document(person("1001", lonesumma="1")))
    failed = run_humacrona(["check"], env, home)
    assert_one_line(failed, "Crona Lön: ", "not valid PAXml 2.0", "lonesumma",
                    secrets=(huma_only["HUMA_CLIENT_SECRET"],))
