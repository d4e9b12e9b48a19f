"""Issue 13 §1, `humacrona sync` on Crona's PAXml channel as an administrator reads it: the summary says how many
operations await import, where the import file is and what to do with it; `--detailed-exitcode` counts a written
file as writes made (3); and the next sync says what became of the earlier file's writes, once read back from
Crona's new export (applied or not applied). Fast checks of the same lines from a run of stand-in assets follow."""

from __future__ import annotations

import re
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from humacrona_pipeline.connection.crona_channel import import_file_name
from humacrona_pipeline.connectors.paxml.import_file import write_import_file
from humacrona_pipeline.core.outcomes import OUTCOME_COLUMNS
from humacrona_pipeline.core.plan_columns import HELD, PLAN_COLUMNS, UPDATE
from humacrona_pipeline.defs.apply.recorded_writes import IMPORT_FILE_KEY
from humacrona_pipeline.launch import say_sync, writes_made
from tests.defs import paxml_testkit as px

INSTRUCTION = ("import it in Crona Lön (its PAXml import), then export the employees again into the export folder"
               " before the next sync, which marks each operation applied or not applied")


def _lines(text: str) -> dict[str, str]:
    """The summary's aligned lines, by label (`launch.line`: five spaces, the label, the text)."""
    return {m.group(1): m.group(2) for m in re.finditer(r"(?m)^ {5}(\S(?:\S| (?! ))*) +(\S.*)$", text)}


def test_a_paxml_sync_says_what_awaits_import_and_the_next_sync_what_became_of_it(tmp_path, monkeypatch, capsys):
    from humacrona_pipeline.cli import main
    from humacrona_pipeline.connection.check import confirm_connection
    from humacrona_sandbox.runner import SandboxOptions, start_sandboxes

    policy = tmp_path / "policy.yaml"
    policy.write_text("default_winner: huma\napprove_mass_change: true\n")
    folder = tmp_path / "paxml"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HUMACRONA_STATE_URL", raising=False)
    with start_sandboxes(SandboxOptions(employees=20, seed=4, huma_port=0, crona_port=0)) as sandboxes:
        env = px.channel_env(sandboxes, folder)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        px.export(sandboxes, folder, "crona-1.xml")
        confirm_connection(env, "pytest")
        sync = ["sync", "--policy", str(policy), "--detailed-exitcode"]

        assert main(sync) == 3  # a file was written: writes were made
        first = _lines(capsys.readouterr().out)
        (written,) = px.import_files(folder)
        awaiting = re.fullmatch(r"(\d+) employees? written to the PAXml import file \((\d+) operations? awaits? "
                                r"import\)(, .*)?", first["Crona"])
        assert awaiting, first["Crona"]
        operations = int(awaiting.group(2))
        assert operations > 0 and "read back" not in first["Crona"]
        assert first["Import file"] == str(written.resolve())
        assert first["To do"] == INSTRUCTION
        assert "Ledger" not in first  # nothing earlier was open

        time.sleep(0.01)  # the new export is taken after the file was written, and the file never imported
        px.export(sandboxes, folder, "crona-2.xml")
        assert main(sync) == 3  # written again, in a new file
        second = _lines(capsys.readouterr().out)
        assert second["Ledger"] == f"earlier open writes resolved: 0 applied, {operations} not applied"
        newer = [p for p in px.import_files(folder) if p != written]
        assert len(newer) == 1 and second["Import file"] == str(newer[0].resolve())

        px.import_into(sandboxes, newer[0])  # the administrator imports it in Crona Lön, then exports again
        time.sleep(0.01)
        px.export(sandboxes, folder, "crona-3.xml")
        assert main(sync) == 0  # nothing left to write
        third = _lines(capsys.readouterr().out)
        assert third["Ledger"] == f"earlier open writes resolved: {operations} applied, 0 not applied"
        assert third["Crona"] == "nothing to write" and "Import file" not in third


# --- the same lines from a run of stand-ins: the write-back's real outcomes and metadata ----------------


def _plan(*rows: tuple[str, str, str, object]) -> pd.DataFrame:
    return pd.DataFrame([{"target": "crona", "action": action, "employee": employee, "record_id": "1001",
                          "field": field, "current_value": None, "new_value": new, "rule": "default_winner"}
                         for action, employee, field, new in rows], columns=list(PLAN_COLUMNS))


def _run(tmp_path: Path, plan: pd.DataFrame, resolved: dict[str, int]) -> dg.ExecuteInProcessResult:
    """crona_writeback writing ``plan`` to the run's import file, with its metadata as the real one gives it;
    interrupted_writes with ``resolved`` as its metadata (status -> rows, keys as the asset spells them)."""
    from humacrona_pipeline.defs.apply.recorded_writes import outcome_output

    @dg.asset(name="interrupted_writes")
    def interrupted_writes():
        return dg.MaterializeResult(metadata={"pending_found": sum(resolved.values()), **resolved})

    @dg.asset(name="crona_writeback", deps=[interrupted_writes])
    def crona_writeback(context):
        outcomes, path = write_import_file(plan, tmp_path / "import", context.run.run_id)
        extra = {IMPORT_FILE_KEY: dg.MetadataValue.path(str(path))} if path is not None else {}
        return outcome_output(context, "crona", outcomes, extra)

    @dg.asset(name="huma_writeback")
    def huma_writeback():
        return pd.DataFrame(columns=list(OUTCOME_COLUMNS))

    with dg.instance_for_test() as instance:
        return dg.materialize([interrupted_writes, crona_writeback, huma_writeback], instance=instance)


def _said(result: dg.ExecuteInProcessResult) -> list[str]:
    said: list[str] = []
    say_sync(result, said.append, paths=False)
    return said


@pytest.mark.parametrize("resolved, expected", [
    ({"applied": 3, "not_applied": 1, "awaiting_import": 2},
     "earlier open writes resolved: 3 applied, 1 not applied, 2 still awaiting import"),
    ({"applied": 0, "not_applied": 0, "awaiting_import": 4, "pending": 1},
     "earlier open writes resolved: 0 applied, 0 not applied, 4 still awaiting import, 1 still pending"),
])
def test_the_summary_counts_awaiting_writes_and_what_earlier_runs_left_open(tmp_path, resolved, expected):
    plan = _plan((UPDATE, "anna@nordljus.se", "job_title", "Controller"),
                 (UPDATE, "anna@nordljus.se", "given_name", "Anne"),
                 (UPDATE, "bo@nordljus.se", "end_date", None),  # PAXml cannot clear a date: not tried
                 (HELD, "cy@nordljus.se", "bank_account", "83279 1234567897"))
    result = _run(tmp_path, plan, resolved)
    path = tmp_path / "import" / import_file_name(result.run_id)
    assert path.is_file()
    assert _said(result) == [
        f"     {'Ledger':<16} {expected}",
        "     Crona            1 employee written to the PAXml import file (2 operations await import), 1 write not"
        " tried, 1 salary-account change held, not written",
        f"     {'Import file':<16} {path}",
        f"     {'To do':<16} {INSTRUCTION}",
        "     Huma             nothing to write",
    ]
    assert writes_made(result) == 2  # the two in the file; the skipped and the held one were not written


def test_nothing_written_and_nothing_open_says_neither(tmp_path):
    result = _run(tmp_path, _plan((HELD, "cy@nordljus.se", "bank_account", "83279 1234567897")), {})
    said = _said(result)
    assert said == ["     Crona            nothing written, 1 salary-account change held, not written",
                    "     Huma             nothing to write"]
    assert writes_made(result) == 0 and not list((tmp_path / "import").glob("*.xml"))
