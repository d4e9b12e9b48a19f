"""Issue 5 end to end, in one process, every hop real: an HR administrator changes an employee in the Huma
sandbox → the sandbox POSTs a signed webhook → the receiver verifies it and stores it in the inbox → a
`huma_changes_sensor` tick requests a run → `push_huma_changes` runs → the Crona sandbox holds the new value.
And a new Huma-only employee with auto-create off reaches nothing and is reported."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.realtime.jobs import JOB_NAME
from humacrona_pipeline.defs.realtime.resources import InboxResource
from humacrona_pipeline.defs.realtime.sensors import huma_changes_sensor
from humacrona_pipeline.state.inbox import Inbox
from humacrona_pipeline.webhook import build_app
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from humacrona_sandbox.server import BackgroundServer
from tests.defs.sync_testkit import confirm, read_both, resources

SECRET = "end-to-end-secret"


@pytest.fixture
def wired(tmp_path, dagster_home):
    """Sandboxes whose Huma sends signed webhooks to a running receiver that stores into the inbox."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    receiver = BackgroundServer(build_app(SECRET, None, Inbox(url)), port=0).start()
    with start_sandboxes(SandboxOptions(employees=30, seed=5, huma_port=0, crona_port=0)) as sandboxes:
        sandboxes.huma.register_webhook(receiver.url + "/huma/webhook", secret=SECRET)
        confirm(sandboxes, dagster_home)  # the administrator's confirmation: a push writes nothing otherwise
        try:
            yield sandboxes, url
        finally:
            receiver.stop()


def _wait_for_events(url: str, count: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while Inbox(url).count() < count:
        assert time.monotonic() < deadline, f"only {Inbox(url).count()} of {count} webhook events arrived"
        time.sleep(0.05)


def _tick_and_run(sandboxes, url: str, home, instance, policy: Policy):
    context = dg.build_sensor_context(instance=instance, resources={"inbox": InboxResource(url=url)})
    tick = huma_changes_sensor(context)
    (request,) = tick.run_requests
    located = build_defs({**resources(sandboxes, policy, home), "inbox": InboxResource(url=url)})
    result = located.resolve_job_def(JOB_NAME).execute_in_process(
        run_config=request.run_config, tags=request.tags, partition_key=request.partition_key, instance=instance,
        raise_on_error=False)
    return result


def _crona_by_email(sandboxes):
    _, crona = read_both(sandboxes)
    return crona.set_index(crona["EpostArb"].str.lower())


def test_a_change_made_in_huma_reaches_crona_through_webhook_inbox_sensor_and_run(wired, dagster_home):
    sandboxes, url = wired
    seeded = sandboxes.seeded
    planted = {d.email for d in seeded.discrepancies}
    crona = _crona_by_email(sandboxes)
    person = next(u for u in seeded.huma_users if u["email"].lower() in crona.index
                  and u["email"].lower() not in planted)
    email = person["email"].lower()
    assert crona.loc[email, "EfNamn"] != "Realtidsson"

    sandboxes.huma.admin_update_user(person["id"], {"familyName": "Realtidsson"})
    _wait_for_events(url, 1)
    with dg.instance_for_test() as instance:
        result = _tick_and_run(sandboxes, url, dagster_home, instance, Policy())
        assert result.success, [e.message for e in result.all_events if e.is_failure]
    after = _crona_by_email(sandboxes)
    assert after.loc[email, "EfNamn"] == "Realtidsson"
    unchanged = [c for c in after.columns if c not in ("EfNamn", "Andrad")]  # Andrad: Crona's modified time
    assert after.loc[email, unchanged].equals(crona.loc[email, unchanged])  # only what changed in Huma


def test_a_new_huma_only_employee_is_not_created_with_auto_create_off_and_is_reported(wired, dagster_home):
    sandboxes, url = wired
    (huma_only,) = [d for d in sandboxes.seeded.discrepancies if d.kind == "huma_only"]
    user = sandboxes.huma.find_user(huma_only.email)
    before = _crona_by_email(sandboxes)
    # The user is edited in Huma; Crona has no such employee and the policy does not create on its own.
    sandboxes.huma.admin_update_user(user["id"], {"familyName": "Nyanställd"})
    _wait_for_events(url, 1)
    with dg.instance_for_test() as instance:
        result = _tick_and_run(sandboxes, url, dagster_home, instance, Policy(auto_create_in_crona=False))
        assert result.success
        (not_pushed,) = result.output_for_node("push_report")["not_pushed"]
    after = _crona_by_email(sandboxes)
    assert set(after.index) == set(before.index) and huma_only.email not in after.index
    assert not_pushed["employee"] == huma_only.email and "nothing is created" in not_pushed["reason"], not_pushed
