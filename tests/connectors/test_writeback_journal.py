"""The write-back's journal (the audit ledger in group commits) against both sandboxes over real HTTP: no
request writes an employee before the transaction holding its pending rows has committed; every operation
ends with one ledger row that says how it ended, in fewer transactions than one employee at a time takes;
a journal that fails stops the run before anything is written."""

from __future__ import annotations

import json
import threading

import httpx
import pandas as pd
import pytest

from humacrona_pipeline.connectors.crona import CronaClient
from humacrona_pipeline.connectors.huma import HumaClient
from humacrona_pipeline.connectors.writeback import apply_plan
from humacrona_pipeline.core.plan import HELD
from humacrona_pipeline.state import PENDING, Ledger, db
from tests.connectors.connector_testkit import CRONA_CODE, FAST_RETRY, HUMA_ID, HUMA_SECRET
from tests.connectors.test_writeback import make_plan, sandboxes


@pytest.fixture
def ledger(tmp_path):
    yield Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.dispose_all()


class WriteWatcher(httpx.AsyncBaseTransport):
    """Names the employee each write request (not a read, not a token) is for, from its path or body, and
    notes it when that employee's pending rows were not committed yet."""

    def __init__(self, owner_of: dict[str, str], committed: set[str]):
        self.inner = httpx.AsyncHTTPTransport()
        self.owner_of, self.committed = owner_of, committed
        self.writes: list[str] = []
        self.early: list[tuple[str, str]] = []

    def _employee(self, request: httpx.Request) -> str | None:
        for segment in request.url.path.split("/"):
            if segment in self.owner_of:
                return self.owner_of[segment]
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            return None
        if isinstance(body, dict):
            for key in ("AnstNr", "email", "EpostArb"):
                if str(body.get(key, "")).lower() in self.owner_of:
                    return self.owner_of[str(body[key]).lower()]
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET" and "/auth/" not in request.url.path:
            employee = self._employee(request)
            if employee is not None:
                self.writes.append(employee)
                if employee not in self.committed:
                    self.early.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _owners(operations: pd.DataFrame) -> dict[str, str]:
    """Record id, AnstNr-to-be and work email -> the employee (work email)."""
    owners = {}
    for row in operations.itertuples():
        owners[row.employee] = row.employee
        if isinstance(row.record_id, str) and row.record_id:
            owners[row.record_id] = row.employee
        if row.action == "create" and row.field == "employment_id" and isinstance(row.new_value, str):
            owners[row.new_value] = row.employee
    return owners


@pytest.mark.parametrize("target", ["crona", "huma"])
def test_no_write_before_its_pending_rows_are_committed_and_every_operation_ends_recorded(ledger, target):
    with sandboxes(employees=60, seed=3) as running:
        operations = make_plan(running).operations
        ops = operations[operations["target"] == target]
        committed: set[str] = set()
        calls: list[tuple[int, int]] = []
        lock = threading.Lock()

        def journal(pending: list[list[dict]], finished: list[list[dict]]) -> None:
            assert threading.current_thread() is not threading.main_thread()  # off the event loop
            ledger.write_ahead("run-1", pending, finished)
            with lock:
                committed.update(rows[0]["employee"] for rows in pending)
                calls.append((len(pending), len(finished)))

        watcher = WriteWatcher(_owners(ops), committed)
        client = (HumaClient(running.huma_url, HUMA_ID, HUMA_SECRET, retry=FAST_RETRY, transport=watcher)
                  if target == "huma" else
                  CronaClient(running.crona_url, CRONA_CODE, retry=FAST_RETRY, transport=watcher))
        outcomes = apply_plan(client, target, ops, journal=journal)

    employees = ops["employee"].nunique()
    assert len(set(watcher.writes)) > employees // 2, "the watcher could not tell whose writes these were"
    assert watcher.early == []
    stored = ledger.operations("run-1")
    assert not (stored["status"] == PENDING).any()
    assert len(stored) == len(outcomes) == len(ops)
    ended = outcomes.set_index(["employee", "field", "action"])["status"]
    recorded = stored.set_index(["employee", "field", "action"])["status"]
    pd.testing.assert_series_equal(recorded.sort_index(), ended.sort_index(), check_names=False)
    assert sum(p for p, _ in calls) == ops.loc[ops["action"] != HELD, "employee"].nunique()
    assert sum(f for _, f in calls) == employees
    assert len(calls) < 2 * employees  # group commits: one employee at a time would take two each


def test_a_failing_journal_stops_the_run_before_any_write(ledger):
    with sandboxes(employees=30, seed=3) as running:
        ops = make_plan(running).operations
        ops = ops[ops["target"] == "crona"]

        def broken(pending, finished) -> None:
            raise RuntimeError("the ledger is unavailable")

        with pytest.raises(RuntimeError, match="unavailable"):
            apply_plan(CronaClient(running.crona_url, CRONA_CODE, retry=FAST_RETRY), "crona", ops, journal=broken)
        again = make_plan(running).operations
        pd.testing.assert_frame_equal(again[again["target"] == "crona"], ops)  # nothing was written
