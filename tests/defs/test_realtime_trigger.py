"""Issue 11 §1: the receiver asks for the push itself right after storing (no sensor tick), the sensor never
requests a second run for events already claimed and takes over what the receiver left (nothing is lost), and
two pushes of one employee never overlap: an update that arrives while its create is in flight waits for it
and ends in Crona too."""

from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import execute_run

from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.realtime import sensors
from humacrona_pipeline.defs.realtime.jobs import JOB_NAME, lock_subject
from humacrona_pipeline.defs.realtime.resources import InboxResource
from humacrona_pipeline.defs.realtime.sensors import (
    CLAIM_GRACE_S,
    batch_events,
    huma_changes_sensor,
)
from humacrona_pipeline.defs.realtime.trigger import PushTrigger
from humacrona_pipeline.state.inbox import PENDING, Inbox, inbox_events
from humacrona_pipeline.state.push_locks import PushLocks
from humacrona_pipeline.webhook import build_app
from humacrona_sandbox.server import BackgroundServer
from tests.defs.sync_testkit import read_both, resources, state_url

SECRET = "trigger-test-secret"
_bodies = itertools.count()


def _add(inbox: Inbox, topic: str, user: tuple[str, str], claimed_by: str | None = None) -> int:
    payload = {"topic": topic, "users": [{"id": user[0], "email": user[1]}], "n": next(_bodies)}
    event_id = inbox.add(topic, payload["users"], json.dumps(payload).encode(), claimed_by=claimed_by)
    assert event_id is not None
    return event_id


def _age(inbox: Inbox, event_id: int, seconds: float) -> None:
    """As if the event had been claimed ``seconds`` ago."""
    when = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    with inbox.engine.begin() as conn:
        conn.execute(sa.update(inbox_events).where(inbox_events.c.id == event_id).values(claimed_at=when))


def _cursor(last: int) -> str:
    return json.dumps({"default": last}, separators=(",", ":"))


def _tick(instance, url: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, instance=instance, resources={"inbox": InboxResource(url=url)})
    return huma_changes_sensor(context)


def _claims(inbox: Inbox) -> dict[int, str | None]:
    return {e.id: e.claimed_by for e in inbox.after(0)}


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


# --- the sensor as backstop -------------------------------------------------------------------------------


def test_the_sensor_requests_no_second_run_for_events_the_receiver_claimed(url):
    inbox = Inbox(url)
    first = _add(inbox, "users-update", ("u-1", "a@x.se"))
    second = _add(inbox, "users-update", ("u-2", "b@x.se"))
    (batch,) = batch_events([e for e in inbox.after(0) if e.id == second])
    assert inbox.claim([second], sensors.claim(sensors.RECEIVER, batch.claim_key), held=None)
    with dg.instance_for_test() as instance:
        # The receiver's run exists, with the tags a run of that batch has.
        instance.create_run_for_job(build_defs().resolve_job_def(JOB_NAME), run_config=batch.run_config(),
                                    tags=batch.run_tags(sensors.RECEIVER))
        result = _tick(instance, url, None)
        (request,) = result.run_requests  # the other event only
        assert request.run_key == f"default/inbox-{first}-{first}"
        assert result.cursor == _cursor(second)
        assert _claims(inbox) == {first: f"sensor:default/inbox-{first}-{first}",
                                  second: f"receiver:default/inbox-{second}-{second}"}
        # Evaluated again from the same cursor (a daemon restart): the same key, never the receiver's.
        assert [r.run_key for r in _tick(instance, url, None).run_requests] == [request.run_key]


def test_a_receiver_claim_without_its_run_holds_the_cursor_then_the_sensor_takes_it_over(url):
    inbox = Inbox(url)
    claimed = _add(inbox, "users-create", ("u-1", "a@x.se"))
    later = _add(inbox, "users-update", ("u-2", "b@x.se"))
    assert inbox.claim([claimed], f"receiver:default/inbox-{claimed}-{claimed}")
    with dg.instance_for_test() as instance:
        young = _tick(instance, url, None)
        # The receiver is creating the run right now: not requested, and the cursor does not pass it.
        assert [r.run_key for r in young.run_requests] == [f"default/inbox-{later}-{later}"]
        assert young.cursor == _cursor(claimed - 1)
        # The receiver died before creating it: after the grace the sensor asks for that very run.
        _age(inbox, claimed, CLAIM_GRACE_S + 1)
        old = _tick(instance, url, young.cursor)
        assert sorted(r.run_key for r in old.run_requests) == sorted([f"default/inbox-{claimed}-{claimed}",
                                                                      f"default/inbox-{later}-{later}"])
        (taken,) = [r for r in old.run_requests if r.run_key == f"default/inbox-{claimed}-{claimed}"]
        assert taken.run_config["ops"]["huma_changes"]["config"]["users"][0]["topics"] == ["users-create"]
        assert old.cursor == _cursor(later)


def test_pending_events_are_the_receivers_until_the_grace_then_nothing_is_lost(url):
    inbox = Inbox(url)
    pending = _add(inbox, "users-update", ("u-1", "a@x.se"), claimed_by=PENDING)
    with dg.instance_for_test() as instance:
        waiting = _tick(instance, url, None)
        assert not waiting.run_requests and waiting.cursor == _cursor(pending - 1)
        assert _claims(inbox) == {pending: PENDING}
        # The receiver's workers never took it (they failed to start, or died): the sensor pushes it.
        _age(inbox, pending, CLAIM_GRACE_S + 1)
        (request,) = _tick(instance, url, waiting.cursor).run_requests
        assert request.run_key == f"default/inbox-{pending}-{pending}"
        assert _claims(inbox) == {pending: f"sensor:default/inbox-{pending}-{pending}"}


def test_a_released_claim_goes_back_to_the_sensor(url):
    inbox = Inbox(url)
    event = _add(inbox, "users-update", ("u-1", "a@x.se"), claimed_by=PENDING)
    key = f"receiver:default/inbox-{event}-{event}"
    assert inbox.claim([event], key, held=PENDING)
    assert not inbox.claim([event], "sensor:other", held=PENDING)  # one claimant at a time
    assert inbox.release(key) == 1  # the worker could not create the run
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, url, None).run_requests
    assert request.run_key == f"default/inbox-{event}-{event}"


# --- the push locks ---------------------------------------------------------------------------------------


def test_push_locks_are_taken_all_at_once_and_free_once_the_holder_is_over(url):
    locks = PushLocks(url)
    running = {"run-a"}

    def over(run_id: str) -> bool:
        return run_id not in running

    assert locks.try_take(["user:1", "user:2"], "run-a", over) == []
    assert locks.try_take(["user:2", "user:3"], "run-b", over) == ["run-a"]
    assert locks.holders() == {"user:1": "run-a", "user:2": "run-a"}  # nothing of run-b's taken
    running.discard("run-a")  # run-a failed before giving them back
    assert locks.try_take(["user:2", "user:3"], "run-b", over) == []
    assert locks.holders() == {"user:1": "run-a", "user:2": "run-b", "user:3": "run-b"}
    assert locks.release("run-b") == 2


# --- against the sandboxes --------------------------------------------------------------------------------


def _crona_by_email(sandboxes):
    _, crona = read_both(sandboxes)
    return crona.set_index(crona["EpostArb"].str.lower())


def test_an_update_arriving_while_its_create_is_pushed_waits_and_both_end_in_crona(sandboxes30, dagster_home):
    sandboxes = sandboxes30
    (new,) = [d for d in sandboxes.seeded.discrepancies if d.kind == "huma_only"]
    user = sandboxes.huma.find_user(new.email)
    inbox = Inbox(state_url(dagster_home))
    created = _add(inbox, "users-create", (user["id"], new.email))
    updated = _add(inbox, "users-update", (user["id"], new.email))
    create, update = batch_events(inbox.after(created - 1, limit=1)), batch_events(inbox.after(created, limit=1))
    job = build_defs(resources(sandboxes, Policy(auto_create_in_crona=True), dagster_home)).resolve_job_def(JOB_NAME)
    # In memory: two runs of one process writing a file-based test instance at once trip over its SQLite files.
    with dg.DagsterInstance.ephemeral() as instance:
        # The create's run exists and holds the user, as it does from its first step on.
        create_run = instance.create_run_for_job(job, run_config=create[0].run_config(),
                                                 tags={"dagster/partition": "default"})
        PushLocks(state_url(dagster_home)).try_take([lock_subject(user["id"])], create_run.run_id, lambda _: False)
        results = {}
        pushing = threading.Thread(target=lambda: results.setdefault("update", job.execute_in_process(
            run_config=update[0].run_config(), partition_key="default", instance=instance, raise_on_error=False)))
        pushing.start()
        time.sleep(0.5)  # the update's run gets under way while the create is still to come
        execute_run(InMemoryJob(job), create_run, instance)
        pushing.join(timeout=120)
        after_update = results["update"]
        create_result = instance.get_run_by_id(create_run.run_id)
        said = [e.user_message for e in instance.all_logs(after_update.run_id)]
    assert create_result.is_success and after_update.success
    report = after_update.output_for_node("push_report")
    assert report["not pushed"] == 0 and report["pushed"] + report["in sync"] == 1, report["not_pushed"]
    assert any(f"for run(s) {create_run.run_id} pushing the same employee" in m for m in said), said
    crona = _crona_by_email(sandboxes)
    assert crona.loc[new.email, "FoNamn"] == user["givenName"]
    assert crona.loc[new.email, "AnstNr"] == user["employmentId"]
    assert PushLocks(state_url(dagster_home)).holders() == {}  # both gave the user back
    assert updated > created


def test_a_change_stored_by_the_receiver_is_pushed_without_a_sensor_tick(sandboxes30, dagster_home, monkeypatch):
    sandboxes = sandboxes30
    url = state_url(dagster_home)
    for name, value in {**sandboxes.env, "HUMACRONA_STATE_URL": url}.items():
        monkeypatch.setenv(name, value)
    trigger = PushTrigger(url).start()
    receiver = BackgroundServer(build_app(SECRET, None, Inbox(url), on_stored=trigger.notify), port=0).start()
    try:
        sandboxes.huma.register_webhook(receiver.url + "/huma/webhook", secret=SECRET)
        crona = _crona_by_email(sandboxes)
        planted = {d.email for d in sandboxes.seeded.discrepancies}
        person = next(u for u in sandboxes.seeded.huma_users
                      if u["email"].lower() in crona.index and u["email"].lower() not in planted)
        email = person["email"].lower()
        sandboxes.huma.admin_update_user(person["id"], {"familyName": "Utanklocksson"})
        deadline = time.monotonic() + 120
        while _crona_by_email(sandboxes).loc[email, "EfNamn"] != "Utanklocksson":
            assert time.monotonic() < deadline, "the change never reached Crona without a sensor tick"
            time.sleep(0.2)
    finally:
        receiver.stop()
        trigger.stop()
    inbox = Inbox(url)
    (event,) = inbox.after(0)
    assert event.claimed_by == f"receiver:default/inbox-{event.id}-{event.id}"
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(filters=dg.RunsFilter(job_name=JOB_NAME))
        assert run.is_success and run.tags["dagster/run_key"] == f"default/inbox-{event.id}-{event.id}"
        assert run.tags["humacrona/launched_by"] == "receiver"
        # The sensor, the backstop, finds nothing to ask for: no second run of that batch.
        result = _tick(instance, url, None)
        assert not result.run_requests and result.cursor == _cursor(event.id)
