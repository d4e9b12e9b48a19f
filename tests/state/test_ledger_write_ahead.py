"""The ledger's group commit (`Ledger.write_ahead`, the write-back's journal): several employees' pending rows
and other employees' outcomes in one transaction, each employee's rows as `record_pending` and `complete`
would store them one employee at a time."""

from __future__ import annotations

import pytest

from humacrona_pipeline.state import PENDING, Ledger, db
from tests.state.test_ledger import ACCOUNT, plan_row


@pytest.fixture
def ledger(tmp_path):
    yield Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.dispose_all()


def test_one_call_records_employees_ahead_and_completes_others(ledger):
    cy = [plan_row("cy@x.se", name, target="crona", action="create", record_id="huma-9", new=value)
          for name, value in (("employment_id", "2044"), ("given_name", "Cy"))]
    dy = [plan_row("dy@x.se", name, target="crona", action="create", record_id="huma-10", new=value)
          for name, value in (("employment_id", "2045"), ("bank_account", ACCOUNT))]
    ey = [plan_row("ey@x.se", "family_name", target="crona", record_id="1001", new="Ek")]
    ledger.write_ahead("run-1", [cy, ey], [])
    ledger.write_ahead("run-1", [dy], [[{**r, "status": "applied", "created_id": "2044"} for r in cy],
                                       [{**ey[0], "status": "failed", "error": "422: family name refused"}]])
    stored = ledger.operations("run-1").set_index(["employee", "field"])
    assert len(stored) == 5  # completed in place, nothing appended
    # each employee's pending Crona create names its own AnstNr, not the first employee's of the batch
    assert stored.loc[("dy@x.se", "employment_id"), "record_id"] == "2045"
    assert stored.loc[("dy@x.se", "bank_account"), "record_id"] == "2045"
    assert stored.loc[("dy@x.se", "bank_account"), "value_after"] == "•••• 7897"
    assert stored.loc[("cy@x.se", "given_name"), "status"] == "applied"
    assert stored.loc[("ey@x.se", "family_name"), "status"] == "failed"
    assert stored.loc[("ey@x.se", "family_name"), "error"] == "422: family name refused"
    assert ledger.pending()["employee"].tolist() == ["dy@x.se", "dy@x.se"]
    assert (ledger.pending()["status"] == PENDING).all()


def test_nothing_to_record_writes_nothing(ledger):
    ledger.write_ahead("run-1", [], [])
    ledger.write_ahead("run-1", [[]], [[]])
    assert ledger.operations().empty
