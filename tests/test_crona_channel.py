"""Issue 13 §1: choosing how humacrona reaches Crona Lön. The API by default; PAXml files from one folder or two
explicit paths; a misspelt channel or a PAXml channel without its paths is one clear line; on PAXml only Huma's
variables are needed; the newest export (by modification time) is read, and none says how to make one; the
connection's identity (what a confirmation names) is stable and holds no secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from humacrona_pipeline.connection.crona_channel import (
    CRONA_CHANNEL,
    CRONA_PAXML_DIR,
    CRONA_PAXML_EXPORT,
    CRONA_PAXML_IMPORT_DIR,
    CronaChannel,
    import_file_name,
)
from humacrona_pipeline.connection.variables import VARIABLES, Settings, of_system
from humacrona_pipeline.connectors.problems import ConnectionProblem
from humacrona_pipeline.defs.crona.resources import CronaResource

HUMA_ENV = {"HUMA_BASE_URL": "https://openapi.humahr.com", "HUMA_CLIENT_ID": "client-1",
            "HUMA_CLIENT_SECRET": "huma-secret-s3cr3t"}
CRONA_ENV = {"CRONA_BASE_URL": "https://crona.example.se", "CRONA_ACTIVATION_CODE": "AKTIV-9f8e7d6c"}
SECRETS = (HUMA_ENV["HUMA_CLIENT_SECRET"], CRONA_ENV["CRONA_ACTIVATION_CODE"])


def _one_line(line: str | None) -> str:
    assert line is not None
    assert "\n" not in line and line.strip() == line and line
    return line


def _export(path: Path, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<paxml><header><version>2.0</version>"
                     b"</header></paxml>\n")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# --- which channel -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  ", "api", " API "])
def test_the_api_is_the_default_channel_and_needs_all_five_variables(value):
    environ = {**HUMA_ENV, **CRONA_ENV} | ({} if value is None else {CRONA_CHANNEL: value})
    settings = Settings.from_env(environ)
    assert not settings.crona_channel.paxml and settings.crona_channel.kind == "api"
    assert settings.problem() is None
    assert settings.crona_identity == CRONA_ENV["CRONA_BASE_URL"]
    line = _one_line(Settings.from_env({**environ, "CRONA_ACTIVATION_CODE": ""}).problem())
    assert "CRONA_ACTIVATION_CODE" in line


def test_a_paxml_folder_reads_its_export_folder_and_writes_to_its_import_folder(tmp_path):
    folder = tmp_path / "crona-files"
    channel = Settings.from_env({**HUMA_ENV, CRONA_CHANNEL: "PAXml", CRONA_PAXML_DIR: f" {folder} "}).crona_channel
    assert channel.paxml and channel.problem() is None
    assert channel.import_folder() == folder / "import"
    newest = _export(folder / "export" / "crona.xml")
    assert channel.export_file() == newest


def test_explicit_export_and_import_folder_win_over_the_folder(tmp_path):
    export = _export(tmp_path / "elsewhere" / "lon-2026-12.xml")
    _export(tmp_path / "folder" / "export" / "newer.xml", mtime=export.stat().st_mtime + 100)
    channel = CronaChannel.from_env({CRONA_CHANNEL: "paxml", CRONA_PAXML_DIR: str(tmp_path / "folder"),
                                     CRONA_PAXML_EXPORT: str(export),
                                     CRONA_PAXML_IMPORT_DIR: str(tmp_path / "to-crona")})
    assert channel.problem() is None
    assert channel.export_file() == export
    assert channel.import_folder() == tmp_path / "to-crona"


@pytest.mark.parametrize("channel", ["paxm", "file", "xml", "apii"])
def test_a_misspelt_channel_is_one_line_naming_the_variable_and_both_channels(channel):
    settings = Settings.from_env({**HUMA_ENV, **CRONA_ENV, CRONA_CHANNEL: channel})
    line = _one_line(settings.problem())
    assert CRONA_CHANNEL in line and repr(channel) in line
    assert "'api'" in line and "'paxml'" in line


@pytest.mark.parametrize("paths", [{}, {CRONA_PAXML_EXPORT: "/data/crona.xml"},
                                   {CRONA_PAXML_IMPORT_DIR: "/data/import"},
                                   {CRONA_PAXML_DIR: "  ", CRONA_PAXML_EXPORT: "", CRONA_PAXML_IMPORT_DIR: ""}])
def test_a_paxml_channel_without_its_paths_is_one_line_naming_what_to_set(paths):
    settings = Settings.from_env({**HUMA_ENV, CRONA_CHANNEL: "paxml", **paths})
    line = _one_line(settings.problem())
    for name in (CRONA_PAXML_DIR, CRONA_PAXML_EXPORT, CRONA_PAXML_IMPORT_DIR):
        assert name in line


def test_on_paxml_the_crona_api_variables_are_not_needed_but_humas_are(tmp_path):
    paxml = {CRONA_CHANNEL: "paxml", CRONA_PAXML_DIR: str(tmp_path)}
    assert Settings.from_env({**HUMA_ENV, **paxml}).problem() is None
    assert Settings.from_env({**HUMA_ENV, **paxml, "CRONA_BASE_URL": "not a url"}).problem() is None
    for variable in of_system("huma"):
        line = _one_line(Settings.from_env({**HUMA_ENV, **paxml, variable.name: ""}).problem())
        assert variable.name in line
        assert not any(v.name in line for v in VARIABLES if v.system == "crona")
    line = _one_line(Settings.from_env({**HUMA_ENV, **paxml, "HUMA_BASE_URL": "openapi.humahr.com"}).problem())
    assert "HUMA_BASE_URL" in line


# --- the export read ---------------------------------------------------------------------------------


def test_the_newest_export_by_modification_time_is_read_not_the_last_by_name(tmp_path):
    exports = tmp_path / "export"
    older = _export(exports / "zz-oldest-name-last.xml", mtime=1_700_000_000)
    newest = _export(exports / "aa-newest.xml", mtime=1_700_000_500)
    _export(exports / "mm-middle.xml", mtime=1_700_000_200)
    (exports / "notes.txt").write_text("newer, but not an export")
    os.utime(exports / "notes.txt", (1_700_000_900, 1_700_000_900))
    (exports / "folder.xml").mkdir()  # a folder that looks like an export is not one
    os.utime(exports / "folder.xml", (1_700_000_900, 1_700_000_900))
    channel = CronaChannel("paxml", folder=str(tmp_path))
    assert channel.export_file() == newest
    os.utime(older, (1_700_001_000, 1_700_001_000))  # the administrator exports again
    assert channel.export_file() == older


@pytest.mark.parametrize("make", ["no export folder", "an empty export folder", "only other files"])
def test_no_export_in_the_folder_says_to_export_from_crona_lon(tmp_path, make):
    if make != "no export folder":
        (tmp_path / "export").mkdir()
    if make == "only other files":
        (tmp_path / "export" / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError) as raised:
        CronaChannel("paxml", folder=str(tmp_path)).export_file()
    line = _one_line(str(raised.value))
    assert "export the employees from Crona Lön" in line
    assert str(tmp_path / "export") in line and CRONA_PAXML_DIR in line


def test_a_missing_explicit_export_says_to_export_from_crona_lon_to_that_path(tmp_path):
    missing = tmp_path / "crona.xml"
    with pytest.raises(FileNotFoundError) as raised:
        CronaChannel("paxml", export=str(missing), import_dir=str(tmp_path)).export_file()
    line = _one_line(str(raised.value))
    assert "export the employees from Crona Lön" in line and str(missing) in line and CRONA_PAXML_EXPORT in line


def test_the_resource_without_an_export_is_a_one_line_connection_problem(tmp_path):
    resource = CronaResource(channel="paxml", paxml_dir=str(tmp_path))
    with pytest.raises(ConnectionProblem) as raised:
        resource.client()
    line = _one_line(raised.value.line)
    assert line.startswith("Crona Lön: ") and "export the employees from Crona Lön" in line
    with pytest.raises(ConnectionProblem) as unset:
        CronaResource(channel="paxml").client()
    assert CRONA_PAXML_DIR in _one_line(unset.value.line)


# --- identity and file names -------------------------------------------------------------------------


def test_the_identity_is_the_absolute_folder_however_it_is_written_and_holds_no_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crona").mkdir()
    written = ["crona", "./crona/", str(tmp_path / "crona"), str(tmp_path / "crona") + "/"]
    identities = {Settings.from_env({**HUMA_ENV, **CRONA_ENV, CRONA_CHANNEL: "paxml", CRONA_PAXML_DIR: w})
                  .crona_identity for w in written}
    assert identities == {f"paxml:{(tmp_path / 'crona').resolve()}"}
    # a new export in the folder is the same connection
    _export(tmp_path / "crona" / "export" / "1.xml")
    settings = Settings.from_env({**HUMA_ENV, **CRONA_ENV, CRONA_CHANNEL: "paxml", CRONA_PAXML_DIR: "crona"})
    assert settings.crona_identity in identities
    for identity in identities:
        assert not any(secret in identity for secret in SECRETS)
        assert CRONA_ENV["CRONA_BASE_URL"] not in identity
    # the Dagster resource names the same connection as the settings (a confirmation is found by it)
    assert CronaResource(channel="paxml", paxml_dir="crona", activation_code=SECRETS[1]).identity in identities


def test_the_identity_of_explicit_paths_names_both_and_differs_from_the_apis(tmp_path):
    environ = {**HUMA_ENV, **CRONA_ENV, CRONA_CHANNEL: "paxml", CRONA_PAXML_EXPORT: str(tmp_path / "e.xml"),
               CRONA_PAXML_IMPORT_DIR: str(tmp_path / "in")}
    identity = Settings.from_env(environ).crona_identity
    assert identity == Settings.from_env(dict(environ)).crona_identity
    assert identity.startswith("paxml:") and str(tmp_path / "e.xml") in identity and str(tmp_path / "in") in identity
    assert identity != Settings.from_env({**HUMA_ENV, **CRONA_ENV}).crona_identity
    assert not any(secret in identity for secret in SECRETS)


def test_the_settings_repr_holds_no_secret_on_either_channel(tmp_path):
    for extra in ({}, {CRONA_CHANNEL: "paxml", CRONA_PAXML_DIR: str(tmp_path)}):
        shown = repr(Settings.from_env({**HUMA_ENV, **CRONA_ENV, **extra}))
        assert not any(secret in shown for secret in SECRETS)


def test_an_import_file_is_named_by_its_run():
    assert import_file_name("0f3c-run") == "humacrona-import-0f3c-run.xml"
    assert import_file_name("a") != import_file_name("b")
