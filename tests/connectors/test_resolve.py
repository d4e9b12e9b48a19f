"""Writes recorded ahead and resolved after a kill, against both sandboxes over real HTTP: the write-back
announces each employee's operations before its first request; pending rows a killed run left are read back
and marked applied where the system holds the new value (bank accounts compared masked) and not applied where
it does not (a create that never happened included); an employee that cannot be read stays pending."""

from __future__ import annotations

import pandas as pd
import pytest

from humacrona_pipeline.connectors.http import RetryPolicy
from humacrona_pipeline.connectors.resolve import resolve_pending
from humacrona_pipeline.connectors.writeback import apply_plan
from humacrona_pipeline.core.outcomes import APPLIED
from humacrona_pipeline.core.plan import HELD
from humacrona_pipeline.state import NOT_APPLIED, PENDING, Ledger, db
from tests.connectors.test_writeback import crona, huma, make_plan, sandboxes


@pytest.fixture
def ledger(tmp_path):
    yield Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.dispose_all()


def _killed_run(ledger: Ledger, running, target: str, operations: pd.DataFrame) -> pd.DataFrame:
    """What a run killed halfway leaves: every employee's operations recorded pending, half of the employees
    written (their outcomes never recorded). Answers the outcomes of what was written."""
    ops = operations[(operations["target"] == target) & (operations["action"] != HELD)]
    for _, rows in ops.groupby("employee", sort=False):
        ledger.record_pending("killed", rows.to_dict("records"))
    employees = list(dict.fromkeys(ops["employee"]))
    written = ops[ops["employee"].isin(employees[::2])]
    client = huma(running.huma_url) if target == "huma" else crona(running.crona_url)
    return apply_plan(client, target, written)


@pytest.mark.parametrize("target", ["crona", "huma"])
def test_pending_rows_resolve_to_what_the_system_holds(ledger, target):
    with sandboxes(employees=40, seed=3) as running:
        operations = make_plan(running).operations
        outcomes = _killed_run(ledger, running, target, operations)
        assert {"create", "update"} <= set(outcomes["action"])
        pending = ledger.pending()
        assert (pending["system"] == target).all() and len(pending) > len(outcomes)

        resolution = resolve_pending(ledger, lambda: huma(running.huma_url), lambda: crona(running.crona_url))
        stored = ledger.operations("killed")
        assert len(stored) == len(pending)  # concluded in place: no row added
        by_key = stored.set_index(["employee", "field", "action"])
        applied = {(r.employee, r.field, r.action) for r in outcomes.itertuples() if r.status == APPLIED}
        for key, row in by_key.iterrows():
            expected = APPLIED if key in applied else NOT_APPLIED
            assert row["status"] == expected, (key, row["error"])
            assert row["resolved_at"]
        assert set(resolution.rows["status"]) == {APPLIED, NOT_APPLIED}
        # the creates that happened now name the record they got; bank accounts were compared masked
        created = stored[(stored["action"] == "create") & (stored["status"] == APPLIED)]
        assert len(created) and created["record_id"].notna().all()
        if target == "crona":
            assert (stored.loc[stored["field"] == "bank_account", "value_after"].str.startswith("•")).all()
        assert ledger.pending().empty
        # nothing left: a second resolution reads nothing and changes nothing
        assert resolve_pending(ledger, None, None).rows.empty
        pd.testing.assert_frame_equal(ledger.operations("killed"), stored)


def test_an_employee_that_cannot_be_read_stays_pending_until_it_can(ledger):
    with sandboxes(employees=20, seed=3) as running:
        operations = make_plan(running).operations
        outcomes = _killed_run(ledger, running, "crona", operations)
        before = ledger.pending()
        refused = RetryPolicy(attempts=1, base_delay_s=0.001, max_delay_s=0.001)
        first = resolve_pending(ledger, None, lambda: crona("http://127.0.0.1:9", retry=refused))
        assert set(first.rows["status"]) == {PENDING}
        still = ledger.pending()
        assert still["id"].tolist() == before["id"].tolist() and still["resolved_at"].isna().all()
        assert still["error"].str.contains("could not be read back").all()

        resolve_pending(ledger, None, lambda: crona(running.crona_url))
        assert ledger.pending().empty
        assert (ledger.operations()["status"] == APPLIED).sum() == (outcomes["status"] == APPLIED).sum()


def test_each_employee_is_announced_before_its_first_request_and_a_failing_record_stops_the_run():
    with sandboxes(employees=30, seed=3) as running:
        ops = make_plan(running).operations
        ops = ops[ops["target"] == "crona"]

        def broken(rows: list[dict]) -> None:
            raise RuntimeError("the ledger is unavailable")

        with pytest.raises(RuntimeError, match="unavailable"):
            apply_plan(crona(running.crona_url), "crona", ops, before_write=broken)
        again = make_plan(running).operations
        pd.testing.assert_frame_equal(again[again["target"] == "crona"], ops)  # nothing was written

        announced: list[list[dict]] = []

        def before_write(rows: list[dict]) -> None:
            email = rows[0]["employee"]
            crona_emails = {e["EpostArb"].strip().lower() for e in running.crona.store.values("employees")}
            assert all(r["status"] is None and r["action"] != HELD and r["employee"] == email for r in rows)
            if rows[0]["action"] == "create":
                assert email not in crona_emails  # announced before it is written
            announced.append(rows)

        out = apply_plan(crona(running.crona_url), "crona", ops, before_write=before_write)
        assert sorted(r["employee"] for batch in announced for r in batch) == sorted(
            ops.loc[ops["action"] != HELD, "employee"])
        assert len({batch[0]["employee"] for batch in announced}) == len(announced)  # each employee once
        assert (out["status"] == APPLIED).any()
