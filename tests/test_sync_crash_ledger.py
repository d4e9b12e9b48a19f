"""The audit ledger survives a killed sync (issue 10, section 1): `humacrona sync` is SIGKILLed twice in the
middle of its writes and then run to the end; every field that changed in either system has exactly one
ledger row saying it was applied — written by the run that wrote it, or by the next run's resolution of the
killed run's `pending` row — and no row claims a write that did not happen. Everything runs as a user runs
it: `humacrona sandbox` and `humacrona sync` in their own processes, the sync killed with SIGKILL once the
ledger holds a given number of rows."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pandas as pd

from humacrona_pipeline.core.fields import CRONA, FIELD_NAMES, HUMA
from humacrona_pipeline.state.ledger import NOT_APPLIED, PENDING, stored_value
from tests.test_cli import SandboxProcess
from tests.test_sync_crash import POLICY, _confirm, _finish, _state, _sync

SEED = ["--employees", "60", "--seed", "3", "--latency-ms", "40"]
KILL_AFTER_ROWS = (6, 40)  # ledger rows the run has written when it is killed: early, and deep in the writes


def _ledger(home: Path) -> pd.DataFrame:
    path = home / "humacrona_state.sqlite"
    if not path.exists():
        return pd.DataFrame(columns=["run_id", "system", "employee", "field", "value_after", "status"])
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return pd.read_sql_query("SELECT run_id, system, employee, field, value_after, status "
                                     "FROM ledger_operations ORDER BY id", conn)
        except pd.errors.DatabaseError:  # the table is not there yet
            return pd.DataFrame(columns=["run_id", "system", "employee", "field", "value_after", "status"])


def _kill_after(env: dict, home: Path, policy: Path, rows: int) -> None:
    """Start a sync and SIGKILL it (its whole process group) once the ledger holds ``rows`` more rows."""
    start = len(_ledger(home))
    proc = _sync(env, home, policy)
    deadline = time.monotonic() + 120
    while len(_ledger(home)) < start + rows and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the sync finished before it could be killed:\n" + proc.communicate()[0]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _changes(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> dict[tuple, str | None]:
    """(system, work email, field) -> the value now, as the ledger stores it, for every field that differs;
    an employee that is new has every field it holds (its work email too)."""
    changed = {}
    for side in (HUMA, CRONA):
        old, new = before[side], after[side]
        for email, row in new.iterrows():
            for name in FIELD_NAMES:
                now = stored_value(name, email if name == "work_email" else row[name])
                if email in old.index:
                    was = stored_value(name, email if name == "work_email" else old.at[email, name])
                else:
                    was = None
                if now != was:
                    changed[(side, email, name)] = now
    return changed


def test_every_change_has_exactly_one_applied_row_after_two_kills_and_a_rerun(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    home = tmp_path / "home"
    home.mkdir()
    sandbox = SandboxProcess(*SEED)
    try:
        _confirm(sandbox.env, home)
        before = _state(sandbox)
        left_pending = []
        for rows in KILL_AFTER_ROWS:
            _kill_after(sandbox.env, home, policy, rows)
            left_pending.append(int((_ledger(home)["status"] == PENDING).sum()))
        assert left_pending[0] > 0, "the first kill left no pending row: it did not land between record and answer"
        _finish(_sync(sandbox.env, home, policy))
        after = _state(sandbox)
    finally:
        sandbox.stop()

    ledger = _ledger(home)
    assert ledger["run_id"].nunique() == 3
    assert not (ledger["status"] == PENDING).any(), ledger[ledger["status"] == PENDING]
    assert (ledger["status"] == NOT_APPLIED).sum() + (ledger["status"] == "applied").sum() > 0

    changed = _changes(before, after)
    assert changed, "the sync changed nothing: the test would prove nothing"
    applied = ledger[ledger["status"] == "applied"]
    claims: dict[tuple, list] = {}
    for row in applied.itertuples(index=False):
        claims.setdefault((row.system, row.employee, row.field), []).append(row.value_after)
    missing = sorted(k for k in changed if k not in claims)
    twice = {k: v for k, v in claims.items() if len(v) > 1}
    phantom = sorted(k for k in claims if k not in changed)
    wrong = {k: (claims[k], changed[k]) for k in changed if k in claims and claims[k] != [changed[k]]}
    assert not missing, f"{len(missing)} changed fields without an applied row, e.g. {missing[:5]}"
    assert not twice, f"{len(twice)} fields applied twice, e.g. {list(twice.items())[:5]}"
    assert not phantom, f"{len(phantom)} applied rows for fields that did not change, e.g. {phantom[:5]}"
    assert not wrong, f"applied rows whose value is not the one written, e.g. {list(wrong.items())[:5]}"
