"""Issue 13 §1, the audit ledger on Crona's PAXml channel: operations written into an import file are stored
``awaiting import`` (values masked like any other row), are open like ``pending`` ones (`Ledger.pending`) until a
later export concludes them (`Ledger.resolve`: applied / not applied, once), and each run's counts show them."""

from __future__ import annotations

import pandas as pd
import pytest

from humacrona_pipeline.connectors.paxml.import_file import write_import_file
from humacrona_pipeline.core.outcomes import APPLIED, AWAITING_IMPORT, SKIPPED
from humacrona_pipeline.state import NOT_APPLIED, PENDING, Ledger, db
from tests.connectors.test_paxml_import_file import ACCOUNT, ACCOUNT_DIGITS, OLD_ACCOUNT, create_ops, frame, op
from tests.state.test_ledger import plan_row

FILE_RUN, KILLED_RUN = "run-file", "run-killed"


@pytest.fixture
def ledger(tmp_path):
    yield Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.dispose_all()


def _plan() -> pd.DataFrame:
    return frame(op("ada@nordljus.se", "given_name", "Ada", current="Adda"),
                 op("ada@nordljus.se", "bank_account", ACCOUNT, current=OLD_ACCOUNT,
                    rule="approved_bank_account_change"),
                 op("bo@nordljus.se", "end_date", None, current="2026-06-30", record_id="1002"),  # skipped
                 *create_ops("eva@nordljus.se", "2045"))


def _write_file(ledger: Ledger, folder, run_id: str = FILE_RUN) -> pd.DataFrame:
    outcomes, _ = write_import_file(_plan(), folder, run_id,
                                    journal=lambda pending, finished: ledger.write_ahead(run_id, pending, finished))
    return outcomes


def test_rows_written_to_a_file_are_stored_awaiting_import_masked_and_open(ledger, tmp_path):
    outcomes = _write_file(ledger, tmp_path)
    stored = ledger.operations(FILE_RUN)
    assert len(stored) == len(outcomes)  # one row per operation, skipped ones included
    by_key = stored.set_index(["employee", "field"])
    assert by_key.loc[("bo@nordljus.se", "end_date"), "status"] == SKIPPED
    awaiting = stored[stored["status"] == AWAITING_IMPORT]
    assert len(awaiting) == len(stored) - 1
    assert awaiting["error"].str.contains("awaiting import").all() and awaiting["resolved_at"].isna().all()
    assert (by_key.loc[("eva@nordljus.se", "given_name"), "record_id"]) == "2045"  # the AnstNr it will get
    assert by_key.loc[("ada@nordljus.se", "bank_account"), "value_after"] == "•••• 7897"
    assert not any(d in " ".join(map(str, stored.to_numpy().ravel())) for d in ACCOUNT_DIGITS)
    open_rows = ledger.pending()
    assert sorted(open_rows["id"]) == sorted(awaiting["id"]) and (open_rows["status"] == AWAITING_IMPORT).all()


def test_pending_returns_awaiting_and_pending_rows_oldest_first_and_leaves_a_run_out(ledger, tmp_path):
    ledger.record_pending(KILLED_RUN, [plan_row("cy@nordljus.se")])
    _write_file(ledger, tmp_path)
    ledger.record_pending("later", [plan_row("dy@nordljus.se")])
    open_rows = ledger.pending()
    assert open_rows["id"].tolist() == sorted(open_rows["id"].tolist())
    assert set(open_rows["status"]) == {PENDING, AWAITING_IMPORT}
    assert open_rows["employee"].iloc[0] == "cy@nordljus.se" and open_rows["employee"].iloc[-1] == "dy@nordljus.se"
    assert FILE_RUN not in set(ledger.pending(except_run=FILE_RUN)["run_id"])
    assert set(ledger.pending(except_run=KILLED_RUN)["status"]) == {PENDING, AWAITING_IMPORT}


def test_resolve_concludes_awaiting_rows_and_keeps_open_the_ones_not_concluded(ledger, tmp_path):
    _write_file(ledger, tmp_path)
    ids = ledger.pending()["id"].tolist()
    concluded = ledger.resolve([
        {"id": ids[0], "status": APPLIED, "note": None},
        {"id": ids[1], "status": NOT_APPLIED, "note": "not applied after its PAXml import file: no"},
        {"id": ids[2], "status": AWAITING_IMPORT, "note": "awaiting import: the export is older than the file"},
    ])
    assert concluded == 2
    stored = ledger.operations(FILE_RUN).set_index("id")
    assert stored.loc[ids[0], "status"] == APPLIED and stored.loc[ids[0], "resolved_at"]
    assert stored.loc[ids[1], "status"] == NOT_APPLIED and stored.loc[ids[1], "resolved_at"]
    assert stored.loc[ids[1], "error"] == "not applied after its PAXml import file: no"
    assert stored.loc[ids[2], "status"] == AWAITING_IMPORT and stored.loc[ids[2], "resolved_at"] is None
    assert stored.loc[ids[2], "error"] == "awaiting import: the export is older than the file"
    assert set(ledger.pending()["id"]) == set(ids[2:])
    with pytest.raises(ValueError):
        ledger.resolve([{"id": ids[3], "status": SKIPPED}])
    assert ledger.operations(FILE_RUN).set_index("id").loc[ids[3], "status"] == AWAITING_IMPORT


def test_a_concluded_row_is_not_concluded_twice(ledger, tmp_path):
    _write_file(ledger, tmp_path)
    ids = ledger.pending()["id"].tolist()
    ledger.resolve([{"id": i, "status": APPLIED} for i in ids[:2]])
    first = ledger.operations(FILE_RUN).set_index("id")
    ledger.resolve([{"id": ids[0], "status": NOT_APPLIED, "note": "a later export lost it"},
                    {"id": ids[1], "status": AWAITING_IMPORT, "note": "reopened?"}])
    again = ledger.operations(FILE_RUN).set_index("id")
    for i in ids[:2]:
        assert (again.loc[i, "status"], again.loc[i, "error"], again.loc[i, "resolved_at"]) == (
            APPLIED, first.loc[i, "error"], first.loc[i, "resolved_at"])
    assert set(ledger.pending()["id"]) == set(ids[2:])
    # a skipped row was never open: resolving it changes nothing
    skipped = int(again.index[again["status"] == SKIPPED][0])
    ledger.resolve([{"id": skipped, "status": APPLIED}])
    assert ledger.operations(FILE_RUN).set_index("id").loc[skipped, "status"] == SKIPPED


def test_runs_count_awaiting_import_until_it_is_concluded(ledger, tmp_path):
    outcomes = _write_file(ledger, tmp_path)
    ledger.record_pending(KILLED_RUN, [plan_row("cy@nordljus.se")])
    counts = ledger.runs().set_index("run_id")
    awaiting = int((outcomes["status"] == AWAITING_IMPORT).sum())
    assert counts.loc[FILE_RUN, AWAITING_IMPORT] == awaiting > 0
    assert counts.loc[FILE_RUN, SKIPPED] == 1 and counts.loc[FILE_RUN, "operations"] == len(outcomes)
    assert counts.loc[KILLED_RUN, AWAITING_IMPORT] == 0 and counts.loc[KILLED_RUN, PENDING] == 1
    ids = ledger.pending(except_run=KILLED_RUN)["id"].tolist()
    ledger.resolve([{"id": ids[0], "status": NOT_APPLIED}] + [{"id": i, "status": APPLIED} for i in ids[1:]])
    counts = ledger.runs().set_index("run_id")
    assert counts.loc[FILE_RUN, AWAITING_IMPORT] == 0
    assert (counts.loc[FILE_RUN, APPLIED], counts.loc[FILE_RUN, NOT_APPLIED]) == (awaiting - 1, 1)


def test_a_retried_write_back_of_the_same_run_records_each_operation_once(ledger, tmp_path):
    """A retried step rewrites the same import file (its name is the run's); the audit trail must not then
    show every operation twice."""
    outcomes = _write_file(ledger, tmp_path)
    _write_file(ledger, tmp_path)
    stored = ledger.operations(FILE_RUN)
    assert len(stored) == len(outcomes), stored[["employee", "field", "status"]]
    assert ledger.runs().set_index("run_id").loc[FILE_RUN, "operations"] == len(outcomes)


def test_a_step_retried_in_a_new_process_records_each_operation_once_and_ends_with_its_outcome(ledger, tmp_path):
    """Dagster re-executes a failed step in a new process: a new Ledger on the same database. Its rows of the
    earlier attempt are taken back to pending and completed again, never a second copy."""
    outcomes = _write_file(ledger, tmp_path)
    ledger.resolve([{"id": int(i), "status": NOT_APPLIED, "note": "meanwhile"} for i in ledger.pending()["id"]])
    again = Ledger(ledger.url)
    _write_file(again, tmp_path)
    stored = again.operations(FILE_RUN)
    assert len(stored) == len(outcomes)
    assert (stored["status"] == AWAITING_IMPORT).sum() == len(stored) - 1
    assert stored.loc[stored["status"] == AWAITING_IMPORT, "resolved_at"].isna().all()
