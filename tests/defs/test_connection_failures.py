"""Issue 9 §3 in the Dagster UI: a misconfiguration is the FIRST line of the failed step's error (a
`dg.Failure` whose description is the one line), not a traceback; a missing variable fails the step that
needs it (not the whole run's config); and every job that writes refuses a connection nobody confirmed,
ahead of the write-back, with the how-to as that first line."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest
from cryptography.fernet import Fernet

from humacrona_pipeline.connection.variables import VARIABLES
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.connection import PROBLEM_KEY
from humacrona_pipeline.defs.huma.resources import HumaResource
from humacrona_pipeline.defs.realtime.jobs import JOB_NAME, READ_OP
from humacrona_pipeline.defs.storage import STORAGE_KEY_ENV
from humacrona_pipeline.state.confirmations import ConnectionIdentity
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.defs.sync_testkit import confirm, huma_policy, resources

FAILURE_PREFIX = "dagster._core.definitions.events.Failure: "


@pytest.fixture
def fresh_sandboxes():
    with start_sandboxes(SandboxOptions(employees=20, seed=11, huma_port=0, crona_port=0)) as running:
        yield running


def _failures(result: dg.ExecuteInProcessResult) -> dict[str, dg.DagsterEvent]:
    return {e.step_key: e for e in result.all_events if e.is_step_failure}


def _first_line_is(event: dg.DagsterEvent, line: str) -> None:
    """The step failure's error message starts with the cause (nothing before it but the exception's name),
    and the Failure's description, which the UI shows with it, is exactly the one line."""
    data = event.event_specific_data
    first = data.error.message.splitlines()[0]
    assert first == FAILURE_PREFIX + data.user_failure_data.description, data.error.message
    assert data.user_failure_data.description.startswith(line), data.user_failure_data.description
    assert "\n" not in data.user_failure_data.description
    assert data.error.cause is None  # no chained traceback under it either


def _writes(sandboxes) -> int:
    total = 0
    for url in (sandboxes.huma_url, sandboxes.crona_url):
        requests = httpx.get(url + "/_sandbox/stats", timeout=10).json()["requests"]
        total += sum(n for route, n in requests.items()
                     if route.split()[0] in ("POST", "PATCH", "DELETE") and "auth" not in route)
    return total


def test_a_refused_secret_is_the_first_line_of_the_failed_extract_step(sandboxes, dagster_home):
    bound = resources(sandboxes, Policy(), dagster_home)
    bound["huma"] = HumaResource(base_url=sandboxes.huma_url, client_id=sandboxes.env["HUMA_CLIENT_ID"],
                                 client_secret="not-the-secret")
    with dg.instance_for_test() as instance:
        result = build_defs(bound).resolve_job_def("plan_sync").execute_in_process(instance=instance,
                                                                                   raise_on_error=False,
                                                                                       partition_key="default")
    failed = _failures(result)
    assert set(failed) == {"huma_users_raw"}
    _first_line_is(failed["huma_users_raw"], "Huma: the client credentials were refused (HUMA_CLIENT_ID / "
                                             "HUMA_CLIENT_SECRET): invalid_client")
    metadata = failed["huma_users_raw"].event_specific_data.user_failure_data.metadata
    assert metadata[PROBLEM_KEY].value == "credentials_refused"
    assert "not-the-secret" not in str(failed["huma_users_raw"].event_specific_data)


def test_an_unset_variable_fails_the_step_with_one_line_not_the_runs_config(monkeypatch, dagster_home):
    for variable in VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("CRONA_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CRONA_ACTIVATION_CODE", "   ")
    with dg.instance_for_test() as instance:
        result = build_defs().resolve_job_def("extract_employees").execute_in_process(instance=instance,
                                                                                      raise_on_error=False,
                                                                                          partition_key="default")
    failed = _failures(result)
    assert set(failed) == {"huma_users_raw", "crona_employees_raw"}
    _first_line_is(failed["huma_users_raw"], "Huma: missing environment variables: HUMA_BASE_URL — "
                                             "https://openapi.humahr.com (or Huma's demo server); HUMA_CLIENT_ID, "
                                             "HUMA_CLIENT_SECRET — Huma → System settings → Open API")
    _first_line_is(failed["crona_employees_raw"], "Crona Lön: missing environment variable: CRONA_ACTIVATION_CODE —"
                                                  " Crona Lön → Inställningar → Kopplingar → Skapa ny → API-koppling")


def test_sync_users_stops_ahead_of_the_write_back_on_an_unconfirmed_connection(fresh_sandboxes, dagster_home,
                                                                                monkeypatch):
    sandboxes = fresh_sandboxes
    # Outputs kept between runs (encrypted), so the write-back can be materialised alone from a stored plan.
    monkeypatch.setenv(STORAGE_KEY_ENV, Fernet.generate_key().decode())
    line = _identity(sandboxes).not_confirmed_line()
    located = build_defs(resources(sandboxes, huma_policy(), dagster_home))
    writes = _writes(sandboxes)
    with dg.instance_for_test() as instance:
        planned = located.resolve_job_def("plan_sync").execute_in_process(instance=instance,
            partition_key="default")  # a dry run warns
        (warning,) = [e for e in planned.get_asset_check_evaluations() if e.check_name == "connection_confirmed"]
        assert warning.passed is False and warning.severity == dg.AssetCheckSeverity.WARN
        assert warning.description.startswith(line)

        refused = located.resolve_job_def("sync_users").execute_in_process(instance=instance, raise_on_error=False,
            partition_key="default")
        assert not refused.success
        failed = _failures(refused)
        assert set(failed) == {"sync_plan_connection_confirmed"}, set(failed)
        _first_line_is(failed["sync_plan_connection_confirmed"], line)
        ran = {e.step_key for e in refused.all_events if e.event_type_value == "STEP_START"}
        assert not ran & {"crona_writeback", "huma_writeback", "sync_report"}
        assert _writes(sandboxes) == writes

        # The write-back's own gate holds too, when it is materialised without the check ahead of it.
        alone = located.resolve_job_def("sync_users").execute_in_process(
            instance=instance, raise_on_error=False, asset_selection=[dg.AssetKey("crona_writeback")],
                partition_key="default")
        _first_line_is(_failures(alone)["crona_writeback"], line)
        assert _writes(sandboxes) == writes

        confirm(sandboxes, dagster_home)
        synced = located.resolve_job_def("sync_users").execute_in_process(instance=instance, raise_on_error=False,
            partition_key="default")
        assert synced.success, [e.message for e in synced.all_events if e.is_failure]
        (passed,) = [e for e in synced.get_asset_check_evaluations() if e.check_name == "connection_confirmed"]
        assert passed.passed and "confirmed by pytest" in passed.description
    assert _writes(sandboxes) > writes


def test_push_huma_changes_refuses_an_unconfirmed_connection_before_writing(fresh_sandboxes, dagster_home):
    sandboxes = fresh_sandboxes
    seeded = sandboxes.seeded
    planted = {d.email for d in seeded.discrepancies}
    crona_emails = {e["EpostArb"].lower() for e in seeded.crona_employees}
    person = next(u for u in seeded.huma_users if u["email"].lower() in crona_emails - planted)
    sandboxes.huma.admin_update_user(person["id"], {"familyName": person["familyName"] + "-Ny"})
    config = {"ops": {READ_OP: {"config": {"users": [
        {"id": person["id"], "email": person["email"].lower(), "topics": ["users-update"]}]}}}}
    located = build_defs(resources(sandboxes, Policy(), dagster_home))
    writes = _writes(sandboxes)
    with dg.instance_for_test() as instance:
        refused = located.resolve_job_def(JOB_NAME).execute_in_process(run_config=config, instance=instance,
                                                                         raise_on_error=False, partition_key="default")
        line = _identity(sandboxes).not_confirmed_line()
        _first_line_is(_failures(refused)["crona_push"], line)
        assert _writes(sandboxes) == writes

        confirm(sandboxes, dagster_home)
        pushed = located.resolve_job_def(JOB_NAME).execute_in_process(run_config=config, instance=instance,
                                                                        raise_on_error=False, partition_key="default")
        assert pushed.success, [e.message for e in pushed.all_events if e.is_failure]
    assert _writes(sandboxes) > writes


def _identity(sandboxes) -> ConnectionIdentity:
    return ConnectionIdentity(sandboxes.huma_url, sandboxes.env["HUMA_CLIENT_ID"], sandboxes.crona_url)
