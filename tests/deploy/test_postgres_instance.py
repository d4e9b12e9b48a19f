"""Issue 14 §3 on a real PostgreSQL server: a Dagster instance made from deploy/dagster-postgres.yaml, with the
state database on the same server through HUMACRONA_STATE_URL, runs `sync_users` against the sandboxes. Both
systems end as the same sync leaves them on SQLite, a second sync has nothing to write, and the run, its events
and the ledger rows are in PostgreSQL (queried there, not through Dagster)."""

from __future__ import annotations

import dagster as dg
import pytest

from humacrona_pipeline.connection.check import confirm_connection
from humacrona_pipeline.core.plan import plan
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.apply.resources import LedgerResource
from humacrona_pipeline.state import db
from humacrona_pipeline.state.home import STATE_URL_ENV
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.defs.sync_testkit import confirm, huma_policy, reconcile_both, resources, run
from tests.deploy.deploy_files import POSTGRES_INSTANCE, env_names, limits_of, load, readme_limits
from tests.postgres_server import DAGSTER_DB, STATE_DB

# Starting PostgreSQL and creating Dagster's tables take seconds; three syncs of 40 people about as long.
pytestmark = pytest.mark.timeout(240)

SANDBOX_OPTIONS = dict(employees=40, seed=3, huma_port=0, crona_port=0)
WRITEBACKS = ("crona_writeback", "huma_writeback")


def _policy(sandboxes):
    (huma_only,) = [d for d in sandboxes.seeded.discrepancies if d.kind == "huma_only"]
    return huma_policy(create_in_crona=(huma_only.email,))


def _what_is_left(sandboxes, policy) -> tuple[set, set]:
    """Both systems after a sync, as far as a backend could change them: who is matched or on one side only,
    and the differences still between them (field and both values per employee)."""
    after = reconcile_both(sandboxes, policy)
    who = {(row.employee, row.status) for row in after.matches.itertuples(index=False)}
    left = {(row.employee, row.field, row.kind, str(row.huma_value), str(row.crona_value))
            for row in after.conflicts.itertuples(index=False)}
    return who, left


def _sync_on_sqlite(tmp_path, monkeypatch) -> tuple[set, set]:
    """The reference: the same sync of the same seeded sandboxes on a SQLite instance and state database."""
    home = tmp_path / "sqlite"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv(STATE_URL_ENV, raising=False)
    with start_sandboxes(SandboxOptions(**SANDBOX_OPTIONS)) as sandboxes, dg.instance_for_test() as instance:
        confirm(sandboxes, home)
        policy = _policy(sandboxes)
        result = run("sync_users", sandboxes, policy, home, instance)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        return _what_is_left(sandboxes, policy)


def test_sync_users_on_a_postgres_instance_ends_as_on_sqlite_with_runs_and_ledger_in_postgres(
        postgres, tmp_path, monkeypatch):
    on_sqlite = _sync_on_sqlite(tmp_path, monkeypatch)

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(POSTGRES_INSTANCE.read_text(encoding="utf-8"), encoding="utf-8")
    settings = {"DAGSTER_POSTGRES_USER": postgres.user, "DAGSTER_POSTGRES_PASSWORD": postgres.password,
                "DAGSTER_POSTGRES_HOSTNAME": postgres.host, "DAGSTER_POSTGRES_PORT": str(postgres.port),
                "DAGSTER_POSTGRES_DB": DAGSTER_DB}
    assert set(settings) == env_names(load(POSTGRES_INSTANCE))
    for name, value in {**settings, "DAGSTER_HOME": str(home), STATE_URL_ENV: postgres.url(STATE_DB)}.items():
        monkeypatch.setenv(name, value)

    with start_sandboxes(SandboxOptions(**SANDBOX_OPTIONS)) as sandboxes, \
            dg.DagsterInstance.from_config(str(home)) as instance:
        assert limits_of(instance.get_concurrency_config()) == readme_limits()
        confirm_connection(sandboxes.env, "pytest")  # into the state database HUMACRONA_STATE_URL names
        policy = _policy(sandboxes)
        # The ledger bound as the code location binds it from the environment: HUMACRONA_STATE_URL.
        job = build_defs({**resources(sandboxes, policy, home), "ledger": LedgerResource.from_env()}) \
            .resolve_job_def("sync_users")

        result = job.execute_in_process(instance=instance, raise_on_error=False, partition_key="default")
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        outcomes = [result.output_for_node(node) for node in WRITEBACKS]
        assert all(len(frame) for frame in outcomes)
        assert _what_is_left(sandboxes, policy) == on_sqlite
        assert not (plan(reconcile_both(sandboxes, policy), policy).operations["action"] != "held").any()

        again = job.execute_in_process(instance=instance, raise_on_error=False, partition_key="default")
        assert again.success
        assert not any((again.output_for_node(node)["status"] == "applied").any() for node in WRITEBACKS)
        assert again.output_for_node("sync_report")["converged"] is True

    # Dagster's records are in PostgreSQL: both runs, succeeded, with their events.
    runs = dict(postgres.query(DAGSTER_DB, "select run_id, status from runs"))
    assert runs == {result.run_id: "SUCCESS", again.run_id: "SUCCESS"}
    ((events,),) = postgres.query(DAGSTER_DB, "select count(*) from event_logs where run_id = %s", (result.run_id,))
    assert events > 0
    # The ledger holds every operation the first run attempted, in PostgreSQL; no SQLite state file appeared.
    stored = postgres.query(STATE_DB, "select status from ledger_operations where run_id = %s", (result.run_id,))
    assert len(stored) == sum(len(frame) for frame in outcomes)
    assert {"applied"} <= {status for (status,) in stored}
    assert not (home / db.SQLITE_FILE).exists()
