"""Issue 14 §3: a backfill of `sync_users` over three connections, launched with `dagster job backfill` and run by
`dagster-daemon run` on a PostgreSQL instance (deploy/dagster-postgres.yaml) with the state database on the same
server, against three connections' sandboxes (`humacrona_sandbox.fleet`: each its own Huma organisation, Crona Lön
company, Aktiveringskod variable and policy, named by a connections file).

First with one connection's Crona Lön down: its run fails, the other two runs succeed and both of their
connections end synced. Then, Crona Lön back, a second backfill over all three: every run succeeds, the third
connection is synced, the two already synced have nothing left to write. Each connection ends with what its plan
wrote and nothing left to write (its systems read and reconciled again), the first connection's systems end as
`humacrona sync` leaves the same seeded sandboxes on SQLite, no employee is created twice, and the ledger rows are
in PostgreSQL under their own connection's name, none under another's."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from typing import NamedTuple

import dagster as dg
import pytest

from humacrona_pipeline.connection.check import confirm_connection
from humacrona_pipeline.core.fields import BY_NAME
from humacrona_pipeline.core.plan import plan
from humacrona_pipeline.core.policy import load_policy
from humacrona_pipeline.state.home import STATE_URL_ENV
from humacrona_sandbox.fleet import (
    DEFAULT_VARIABLES,
    Daemon,
    Fleet,
    backfill_runs,
    fleet_environment,
    launch_backfill,
    write_connections_file,
    write_policy,
)
from tests.defs.sync_testkit import read_both, reconcile_both
from tests.deploy.deploy_files import POSTGRES_INSTANCE, REPO_ROOT
from tests.postgres_server import DAGSTER_DB, STATE_DB

# PostgreSQL, two daemon starts (each loads the code location) and six runs of 36 people on a shared 2-core machine.
pytestmark = pytest.mark.timeout(900)

CONNECTIONS, EMPLOYEES, SEED = 3, 36, 11
DOWN = "c02"  # the connection whose Crona Lön is stopped during the first backfill
WAIT_S = 600


def _field(value) -> str | None:
    return value if isinstance(value, str) and value else None  # a create's: none (NaN in a plan)


def _writes(sandboxes, policy) -> set[tuple]:
    """What a sync of these systems would write now: (target, action, employee, field) of each planned write."""
    ops = plan(reconcile_both(sandboxes, policy), policy).operations
    ops = ops[ops["action"] != "held"]
    return {(row.target, row.action, row.employee, _field(row.field)) for row in ops.itertuples(index=False)}


def _crona_duplicates(sandboxes) -> dict[str, int]:
    """Work addresses more than one Crona Lön employee carries (an employee created twice)."""
    _, crona = read_both(sandboxes)
    (column,) = BY_NAME["work_email"].crona_columns
    return {email: n for email, n in Counter(crona[column].str.lower()).items() if n > 1}


class Row(NamedTuple):
    connection: str
    run_id: str
    system: str
    action: str
    employee: str
    field: str | None
    status: str

    @property
    def write(self) -> tuple:
        """As `_writes` names a write."""
        return self.system, self.action, self.employee, self.field


def _ledger(postgres) -> list[Row]:
    """Every ledger row, read in PostgreSQL."""
    rows = postgres.query(STATE_DB, "select connection, run_id, system, action, employee, field, status "
                                    "from ledger_operations")
    return [Row(c, r, s, a, e.lower(), _field(f), status) for c, r, s, a, e, f, status in rows]


def _applied(ledger: list[Row]) -> Counter:
    """(connection, write) -> how often the ledger records it applied."""
    return Counter((row.connection, row.write) for row in ledger if row.status == "applied")


def _what_is_left(sandboxes, policy) -> tuple[set, set]:
    """Both systems as far as a sync could change them: who is matched or on one side only, and the differences
    still between them (field and both values per employee)."""
    after = reconcile_both(sandboxes, policy)
    who = {(row.employee, row.status) for row in after.matches.itertuples(index=False)}
    left = {(row.employee, row.field, row.kind, str(row.huma_value), str(row.crona_value))
            for row in after.conflicts.itertuples(index=False)}
    return who, left


def _sync_on_sqlite(home, policy_file, policy) -> tuple[set, set]:
    """The reference: `humacrona sync` of the first connection's sandboxes, seeded afresh, as one connection (today's
    five variables) on a SQLite instance and state database."""
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    drop = {"DAGSTER_HOME", STATE_URL_ENV, "HUMACRONA_CONNECTIONS_FILE", "HUMACRONA_STORAGE_KEY", *DEFAULT_VARIABLES}
    with Fleet(1, EMPLOYEES, SEED) as reference:
        (member,) = reference.members
        env = {**{k: v for k, v in os.environ.items() if k not in drop}, **member.single_env(),
               "DAGSTER_HOME": str(home)}
        humacrona = shutil.which("humacrona") or "humacrona"
        for args in (["check", "--confirm", "--by", "pytest"], ["sync", "--policy", str(policy_file)]):
            done = subprocess.run([humacrona, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=300, check=False)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return _what_is_left(reference.sandboxes[member.name], policy)


def _failures(instance, run) -> list:
    """A run's failure events."""
    return [event for event in instance.all_logs(run.run_id)
            if event.is_dagster_event and event.dagster_event.is_failure]


def _failed_steps(instance, run) -> set[str]:
    return {event.step_key for event in _failures(instance, run) if event.step_key}


def test_a_backfill_of_three_connections_through_the_daemon_on_postgres(postgres, tmp_path, monkeypatch):
    home, logs = tmp_path / "dagster_home", tmp_path / "logs"
    home.mkdir()
    logs.mkdir()
    (home / "dagster.yaml").write_text(POSTGRES_INSTANCE.read_text(encoding="utf-8"), encoding="utf-8")
    instance_env = {"DAGSTER_HOME": str(home), "DAGSTER_POSTGRES_USER": postgres.user,
                    "DAGSTER_POSTGRES_PASSWORD": postgres.password, "DAGSTER_POSTGRES_HOSTNAME": postgres.host,
                    "DAGSTER_POSTGRES_PORT": str(postgres.port), "DAGSTER_POSTGRES_DB": DAGSTER_DB,
                    STATE_URL_ENV: postgres.url(STATE_DB)}
    for name, value in instance_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HUMACRONA_STORAGE_KEY", raising=False)

    with Fleet(CONNECTIONS, EMPLOYEES, SEED) as fleet, dg.DagsterInstance.from_config(str(home)) as instance:
        policy_file = write_policy(tmp_path / "policy.yaml")
        policy = load_policy(policy_file)
        connections_file = write_connections_file(fleet.members, tmp_path / "connections.yaml", policy_file)
        env = fleet_environment(fleet.members, connections_file, {**os.environ, "PYTHONUNBUFFERED": "1"})
        for member in fleet.members:  # each connection is a connection of its own: each is confirmed
            confirm_connection(member.single_env(), "pytest", postgres.url(STATE_DB), name=member.name)
        names = [m.name for m in fleet.members]
        expected = {name: _writes(fleet.sandboxes[name], policy) for name in names}
        assert all(expected.values())  # every connection's sync has something to write
        domains = {m.name: m.email_domain for m in fleet.members}

        # 1. One connection's Crona Lön is down: only its run fails.
        fleet.sandboxes[DOWN].servers[1].stop()
        daemon = Daemon(env, logs)
        try:
            first = backfill_runs(instance, launch_backfill("sync_users", env, logs), CONNECTIONS, WAIT_S, daemon)
        finally:
            daemon.stop()
        assert {r.tags["dagster/partition"]: r.status for r in first} == {
            name: dg.DagsterRunStatus.FAILURE if name == DOWN else dg.DagsterRunStatus.SUCCESS for name in names}
        (down_run,) = [r for r in first if r.tags["dagster/partition"] == DOWN]
        assert _failed_steps(instance, down_run) == {"crona_employees_raw"}  # where it could not reach Crona Lön
        fleet.sandboxes[DOWN].servers[1].start()  # on its port again
        for name in names:
            assert _writes(fleet.sandboxes[name], policy) == (expected[name] if name == DOWN else set()), name
        ledger = _ledger(postgres)
        assert {row.connection for row in ledger} == set(names) - {DOWN}
        run_of = {r.tags["dagster/partition"]: r.run_id for r in first}
        for row in ledger:  # each row under its own run's connection, naming that connection's employee
            assert row.run_id == run_of[row.connection] and row.employee.endswith("@" + domains[row.connection])
        applied = _applied(ledger)
        for name in set(names) - {DOWN}:  # the writes its plan had, every one applied, each recorded once
            assert {write for (c, write) in applied if c == name} == expected[name], name
        assert set(applied.values()) == {1}

        # 2. Crona Lön back: a backfill over every connection; every run succeeds.
        daemon = Daemon(env, logs)
        try:
            second = backfill_runs(instance, launch_backfill("sync_users", env, logs), CONNECTIONS, WAIT_S, daemon)
        finally:
            daemon.stop()
        assert {r.tags["dagster/partition"]: r.status for r in second} == dict.fromkeys(
            names, dg.DagsterRunStatus.SUCCESS), [e.message for r in second for e in _failures(instance, r)]
        for name in names:
            assert _writes(fleet.sandboxes[name], policy) == set(), name
            assert _crona_duplicates(fleet.sandboxes[name]) == {}, name
        first_connection = _what_is_left(fleet.sandboxes[names[0]], policy)
    assert first_connection == _sync_on_sqlite(tmp_path / "sqlite_home", policy_file, policy)

    ledger = _ledger(postgres)
    connection_of = {r.run_id: r.tags["dagster/partition"] for r in (*first, *second)}
    for row in ledger:
        assert connection_of[row.run_id] == row.connection and row.employee.endswith("@" + domains[row.connection])
    applied = _applied(ledger)
    assert set(applied.values()) == {1}  # no write recorded twice, across both backfills
    assert {write for (c, write) in applied if c == DOWN} == expected[DOWN]
    second_runs = {r.run_id for r in second}
    assert {row.connection for row in ledger if row.run_id in second_runs} == {DOWN}  # the others: nothing to write
    # Dagster's runs are in PostgreSQL, queried there.
    stored = dict(postgres.query(DAGSTER_DB, "select run_id, status from runs"))
    assert stored == {r.run_id: r.status.value for r in (*first, *second)}
