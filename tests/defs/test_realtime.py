"""Issue 5 §3: the `huma_changes_sensor` turns the webhook inbox into `push_huma_changes` runs (one per batch,
each run key once, the cursor advancing), the push job writes the named Huma users' current values to the
Crona sandbox with the sync's write-back and ledger, creates only with auto_create_in_crona, never deletes;
and the nightly full sync is scheduled, off by default."""

from __future__ import annotations

import asyncio
import itertools
import json

import dagster as dg
import pandas as pd
import pytest

from humacrona_pipeline.connectors.crona import employee_row
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.definitions import build_defs, defs
from humacrona_pipeline.defs.crona.resources import CronaResource
from humacrona_pipeline.defs.huma.resources import HumaResource
from humacrona_pipeline.defs.realtime import sensors
from humacrona_pipeline.defs.realtime.jobs import JOB_NAME, READ_OP
from humacrona_pipeline.defs.realtime.resources import InboxResource
from humacrona_pipeline.defs.realtime.sensors import BATCH_USERS, huma_changes_sensor
from humacrona_pipeline.state.inbox import Inbox, InboxEvent
from humacrona_pipeline.state.ledger import Ledger
from tests.defs.sync_testkit import resources

_bodies = itertools.count()


def _add(inbox: Inbox, topic: str, *users: tuple[str, str]) -> int:
    payload = {"topic": topic, "users": [{"id": i, "email": e} for i, e in users], "n": next(_bodies)}
    event_id = inbox.add(topic, payload["users"], json.dumps(payload).encode())
    assert event_id is not None
    return event_id


@pytest.fixture
def inbox_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


def _tick(instance, inbox_url: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, instance=instance,
                                      resources={"inbox": InboxResource(url=inbox_url)})
    return huma_changes_sensor(context)


def _key(first: int, last: int) -> str:
    """The run key of the default connection's batch of these inbox events."""
    return f"default/inbox-{first}-{last}"


def _cursor(last: int) -> str:
    return json.dumps({"default": last}, separators=(",", ":"))


def _users(request: dg.RunRequest) -> list[dict]:
    return request.run_config["ops"][READ_OP]["config"]["users"]


# --- the sensor -----------------------------------------------------------------------------------------


def test_an_empty_inbox_requests_nothing(inbox_url):
    with dg.instance_for_test() as instance:
        result = _tick(instance, inbox_url, None)
        assert not result.run_requests
        assert result.skip_reason is not None and "no Huma webhook event" in result.skip_reason.skip_message
        assert result.cursor is None  # nothing handled: the cursor stays where it was
        again = _tick(instance, inbox_url, "7")
        assert not again.run_requests and again.cursor is None


def test_events_become_one_run_request_with_every_user_once_and_the_cursor_advances(inbox_url):
    inbox = Inbox(inbox_url)
    first = _add(inbox, "users-create", ("u-1", "anna.berg@nordljus.se"))
    _add(inbox, "users-update", ("u-1", "anna.berg@nordljus.se"), ("u-2", "erik.ek@nordljus.se"))
    last = _add(inbox, "users-update", ("u-2", "Erik.Ek@nordljus.se"))
    with dg.instance_for_test() as instance:
        result = _tick(instance, inbox_url, None)
        (request,) = result.run_requests
        assert request.run_key == _key(first, last) and request.partition_key == "default"
        assert _users(request) == [
            {"id": "u-1", "email": "anna.berg@nordljus.se", "topics": ["users-create", "users-update"]},
            {"id": "u-2", "email": "erik.ek@nordljus.se", "topics": ["users-update"]},
        ]
        config = request.run_config["ops"][READ_OP]["config"]
        assert (config["first_event_id"], config["last_event_id"]) == (first, last)
        assert request.tags["humacrona/inbox_events"] == f"{first}-{last}" and request.tags["humacrona/users"] == "2"
        assert result.cursor == _cursor(last)

        # The same cursor again gives the same run key (Dagster launches a key once); the new one, nothing.
        assert [r.run_key for r in _tick(instance, inbox_url, None).run_requests] == [request.run_key]
        after = _tick(instance, inbox_url, result.cursor)
        assert not after.run_requests and after.cursor is None

        # A later event is the next batch, from the advanced cursor.
        newer = _add(inbox, "users-delete", ("u-1", "anna.berg@nordljus.se"))
        (next_request,) = _tick(instance, inbox_url, result.cursor).run_requests
        assert next_request.run_key == _key(newer, newer)
        assert _users(next_request) == [{"id": "u-1", "email": "anna.berg@nordljus.se", "topics": ["users-delete"]}]


def test_the_run_config_is_valid_for_the_push_job(inbox_url):
    _add(Inbox(inbox_url), "users-update", ("u-1", "anna.berg@nordljus.se"))
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, inbox_url, None).run_requests
    offline = {"huma": HumaResource(base_url="http://127.0.0.1:9", client_id="id", client_secret="secret"),
               "crona": CronaResource(base_url="http://127.0.0.1:9", activation_code="code"),
               "inbox": InboxResource(url=inbox_url)}
    job = build_defs(offline).resolve_job_def(JOB_NAME)
    assert request.job_name in (None, JOB_NAME)
    assert dg.validate_run_config(job, request.run_config)


def test_more_users_than_a_batch_holds_make_several_requests(inbox_url):
    inbox = Inbox(inbox_url)
    per_event = BATCH_USERS // 2 - 10  # two events fit in a batch, three do not
    ids = []
    for e in range(5):
        users = [(f"u-{e}-{k}", f"p{e}.{k}@nordljus.se") for k in range(per_event)]
        ids.append(_add(inbox, "users-update", *users))
    export = _add(inbox, "users-export", *((f"x-{k}", f"x{k}@nordljus.se") for k in range(2 * BATCH_USERS + 5)))
    with dg.instance_for_test() as instance:
        result = _tick(instance, inbox_url, "0")
        keys = [r.run_key for r in result.run_requests]
        assert keys == [_key(ids[0], ids[1]), _key(ids[2], ids[3]), _key(ids[4], ids[4]),
                        f"{_key(export, export)}-1of3", f"{_key(export, export)}-2of3",
                        f"{_key(export, export)}-3of3"]
        sizes = [len(_users(r)) for r in result.run_requests]
        assert sizes == [2 * per_event, 2 * per_event, per_event, BATCH_USERS, BATCH_USERS, 5]
        assert all(s <= BATCH_USERS for s in sizes)
        pushed = [u["id"] for r in result.run_requests for u in _users(r)]
        assert len(pushed) == len(set(pushed)) == 5 * per_event + 2 * BATCH_USERS + 5
        assert result.cursor == _cursor(export)
        assert [r.run_key for r in _tick(instance, inbox_url, "0").run_requests] == keys


def test_the_batches_cut_at_event_boundaries():
    events = [InboxEvent(1, "users-create", ("a",), ("a@x.se",), ""),
              InboxEvent(2, "users-update", ("a", "b"), ("a@x.se", "b@x.se"), ""),
              InboxEvent(3, "users-update", ("c",), ("c@x.se",), "")]
    batches = sensors.batch_events(events, cap=2)
    assert [(b.first_id, b.last_id, list(b.users)) for b in batches] == [(1, 2, ["a", "b"]), (3, 3, ["c"])]
    assert batches[0].users["a"]["topics"] == ["users-create", "users-update"]


def test_the_sensor_is_on_by_default_and_the_nightly_sync_is_off():
    sensor = defs.resolve_sensor_def("huma_changes_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds <= 5 and sensor.job_name == JOB_NAME
    schedule = defs.resolve_schedule_def("nightly_sync_users")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "sync_users" and schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Stockholm"
    assert "inbox" in defs.resources and isinstance(defs.resources["inbox"], InboxResource)


# --- the push job against the sandboxes -----------------------------------------------------------------


def _clients(sandboxes):
    env = sandboxes.env
    huma = HumaResource(base_url=env["HUMA_BASE_URL"], client_id=env["HUMA_CLIENT_ID"],
                        client_secret=env["HUMA_CLIENT_SECRET"]).client()
    crona = CronaResource(base_url=env["CRONA_BASE_URL"], activation_code=env["CRONA_ACTIVATION_CODE"]).client()
    return huma, crona


def _crona(sandboxes) -> pd.DataFrame:
    _, crona = _clients(sandboxes)

    async def go():
        async with crona:
            return await crona.list_employees()

    frame = pd.DataFrame([employee_row(e) for e in asyncio.run(go())])
    return frame.sort_values("AnstNr").reset_index(drop=True)


def _patch_huma(sandboxes, user_id: str, body: dict) -> None:
    huma, _ = _clients(sandboxes)

    async def go():
        async with huma:
            await huma.patch_user(user_id, body)

    asyncio.run(go())


def _in_sync_person(sandboxes) -> dict:
    """A seeded Huma user whose Crona employee holds the same values (no planted discrepancy)."""
    seeded = sandboxes.seeded
    planted = {d.email for d in seeded.discrepancies}
    crona_emails = {e["EpostArb"].lower() for e in seeded.crona_employees}
    return next(u for u in seeded.huma_users
                if u["email"].lower() in crona_emails and u["email"].lower() not in planted)


def _only(seeded, kind: str):
    (found,) = [d for d in seeded.discrepancies if d.kind == kind]
    return found


def _huma_user(seeded, email: str) -> dict:
    return next(u for u in seeded.huma_users if u["email"].lower() == email)


def _push(sandboxes, policy: Policy, home, instance, inbox_url, cursor=None):
    """One sensor tick, then the run it requests executed in process; (result, request, tick)."""
    tick = _tick(instance, inbox_url, cursor)
    (request,) = tick.run_requests
    located = build_defs({**resources(sandboxes, policy, home), "inbox": InboxResource(url=inbox_url)})
    result = located.resolve_job_def(JOB_NAME).execute_in_process(
        run_config=request.run_config, tags=request.tags, partition_key=request.partition_key, instance=instance,
        raise_on_error=False)
    return result, request, tick


def _ledger(home, run_id: str) -> list[tuple]:
    """The run's audit ledger rows (system, action, employee, field, value_after, status)."""
    stored = Ledger(f"sqlite:///{home / 'ledger.sqlite'}").operations(run_id)
    return list(stored[["system", "action", "employee", "field", "value_after", "status"]].itertuples(
        index=False, name=None))


def test_a_changed_huma_user_reaches_crona_and_the_ledger(sandboxes30, dagster_home, inbox_url):
    sandboxes = sandboxes30
    person = _in_sync_person(sandboxes)
    email = person["email"].lower()
    before = _crona(sandboxes)
    _patch_huma(sandboxes, person["id"], {"familyName": "Strömqvist", "phone": "+46 70 999 12 34"})
    _add(Inbox(inbox_url), "users-update", (person["id"], email))

    with dg.instance_for_test() as instance:
        # The default policy (no side wins a conflict): a push still lets Huma's new values through.
        result, request, tick = _push(sandboxes, Policy(), dagster_home, instance, inbox_url)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        assert tick.cursor is not None

    after = _crona(sandboxes)
    row = after[after["EpostArb"].str.lower() == email].iloc[0]
    assert (row["EfNamn"], row["Mobil"]) == ("Strömqvist", "+46709991234")
    # Nobody else was touched.
    others_before = before[before["EpostArb"].str.lower() != email].drop(columns="Andrad")
    others_after = after[after["EpostArb"].str.lower() != email].drop(columns="Andrad")
    assert others_before.reset_index(drop=True).equals(others_after.reset_index(drop=True))

    stored = _ledger(dagster_home, result.run_id)
    assert sorted((s[0], s[1], s[2], s[3], s[5]) for s in stored) == [
        ("crona", "update", email, "family_name", "applied"), ("crona", "update", email, "phone", "applied")]
    outcomes = result.output_for_node("crona_push")
    assert set(outcomes["status"]) == {"applied"}
    report = result.output_for_node("push_report")
    assert (report["pushed"], report["not pushed"]) == (1, 0)

    # The same change pushed again: nothing left to write.
    _add(Inbox(inbox_url), "users-update", (person["id"], email))
    with dg.instance_for_test() as instance:
        again, _, _ = _push(sandboxes, Policy(), dagster_home, instance, inbox_url, cursor=tick.cursor)
    assert again.success and again.output_for_node("crona_push").empty
    assert again.output_for_node("push_report")["in sync"] == 1


def test_a_new_huma_user_is_created_in_crona_only_with_auto_create(sandboxes30, dagster_home, inbox_url):
    sandboxes = sandboxes30
    new = _only(sandboxes.seeded, "huma_only")
    user = _huma_user(sandboxes.seeded, new.email)
    before = _crona(sandboxes)
    _add(Inbox(inbox_url), "users-create", (user["id"], new.email))
    _add(Inbox(inbox_url), "users-update", (user["id"], new.email))

    with dg.instance_for_test() as instance:
        off, request, tick = _push(sandboxes, Policy(), dagster_home, instance, inbox_url)
        assert _users(request) == [{"id": user["id"], "email": new.email, "topics": ["users-create", "users-update"]}]
        assert off.success
        assert _crona(sandboxes).drop(columns="Andrad").equals(before.drop(columns="Andrad"))
        assert _ledger(dagster_home, off.run_id) == []
        (not_pushed,) = off.output_for_node("push_report")["not_pushed"]
        assert not_pushed["employee"] == new.email and "auto_create_in_crona is off" in not_pushed["reason"]

        # With auto_create_in_crona the same batch creates the employee (a run re-executed with that policy).
        located = build_defs({**resources(sandboxes, Policy(auto_create_in_crona=True), dagster_home),
                              "inbox": InboxResource(url=inbox_url)})
        on = located.resolve_job_def(JOB_NAME).execute_in_process(run_config=request.run_config, instance=instance,
                                                                 partition_key="default", raise_on_error=False)
        assert on.success, [e.message for e in on.all_events if e.is_failure]

    after = _crona(sandboxes)
    created = after[after["EpostArb"].str.lower() == new.email]
    assert len(created) == 1 and len(after) == len(before) + 1
    assert created.iloc[0]["AnstNr"] == user["employmentId"] and created.iloc[0]["FoNamn"] == user["givenName"]
    stored = _ledger(dagster_home, on.run_id)
    assert stored and {(s[0], s[1], s[2], s[5]) for s in stored} == {("crona", "create", new.email, "applied")}
    assert on.output_for_node("push_report")["pushed"] == 1


def test_an_update_of_a_huma_only_user_creates_nothing_even_with_auto_create(sandboxes30, dagster_home, inbox_url):
    sandboxes = sandboxes30
    new = _only(sandboxes.seeded, "huma_only")
    user = _huma_user(sandboxes.seeded, new.email)
    before = _crona(sandboxes)
    _add(Inbox(inbox_url), "users-update", (user["id"], new.email))
    with dg.instance_for_test() as instance:
        result, _, _ = _push(sandboxes, Policy(auto_create_in_crona=True), dagster_home, instance, inbox_url)
    assert result.success
    assert len(_crona(sandboxes)) == len(before)
    (not_pushed,) = result.output_for_node("push_report")["not_pushed"]
    assert "only a users-create event creates" in not_pushed["reason"]


def test_creates_beyond_max_creates_stop_the_push_before_writing(sandboxes30, dagster_home, inbox_url):
    sandboxes = sandboxes30
    new = _only(sandboxes.seeded, "huma_only")
    user = _huma_user(sandboxes.seeded, new.email)
    before = _crona(sandboxes)
    _add(Inbox(inbox_url), "users-create", (user["id"], new.email))
    with dg.instance_for_test() as instance:
        result, _, _ = _push(sandboxes, Policy(auto_create_in_crona=True, max_creates=0), dagster_home, instance,
                             inbox_url)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "crona_push" and "max_creates" in failure.event_specific_data.error.message
    assert len(_crona(sandboxes)) == len(before)
    assert _ledger(dagster_home, result.run_id) == []


def test_a_deleted_or_unknown_user_deletes_nothing_and_is_reported(sandboxes30, dagster_home, inbox_url):
    sandboxes = sandboxes30
    person = _in_sync_person(sandboxes)
    email = person["email"].lower()
    before = _crona(sandboxes)
    _add(Inbox(inbox_url), "users-delete", (person["id"], email))
    _add(Inbox(inbox_url), "users-update", ("00000000-0000-4000-8000-000000000000", "gone@nordljus.se"))
    with dg.instance_for_test() as instance:
        result, _, _ = _push(sandboxes, Policy(), dagster_home, instance, inbox_url)
    assert result.success
    assert _crona(sandboxes).drop(columns="Andrad").equals(before.drop(columns="Andrad"))
    assert _ledger(dagster_home, result.run_id) == []
    report = result.output_for_node("push_report")
    reasons = {r["employee"]: r["reason"] for r in report["not_pushed"]}
    assert "users-delete" in reasons[email] and "never deletes" in reasons[email]
    assert "no longer in Huma" in reasons["gone@nordljus.se"]
    assert report["not pushed"] == 2 and report["pushed"] == 0


def test_a_changed_salary_account_is_held_as_the_policy_says(sandboxes30, dagster_home, inbox_url):
    sandboxes = sandboxes30
    person = _in_sync_person(sandboxes)
    email = person["email"].lower()
    other = next(u for u in sandboxes.seeded.huma_users if u["id"] != person["id"]
                 and u["email"].lower() not in {d.email for d in sandboxes.seeded.discrepancies}
                 and (u.get("bankAccount") or {}).get("number"))
    _patch_huma(sandboxes, person["id"], {"bankAccount": {"type": "national", "number": other["bankAccount"]["number"],
                                                          "country": "SE"}})
    before = _crona(sandboxes)
    _add(Inbox(inbox_url), "users-update", (person["id"], email))
    with dg.instance_for_test() as instance:
        result, _, _ = _push(sandboxes, Policy(), dagster_home, instance, inbox_url)
    assert result.success
    assert _crona(sandboxes).drop(columns="Andrad").equals(before.drop(columns="Andrad"))
    assert [(s[1], s[3], s[5]) for s in _ledger(dagster_home, result.run_id)] == [
        ("held", "bank_account", "skipped")]


def test_a_changed_work_email_is_not_matched_and_says_why(sandboxes30, dagster_home, inbox_url):
    sandboxes = sandboxes30
    person = _in_sync_person(sandboxes)
    old_email = person["email"].lower()
    _patch_huma(sandboxes, person["id"], {"email": "renamed.person@nordljus.se"})
    before = _crona(sandboxes)
    _add(Inbox(inbox_url), "users-update", (person["id"], "renamed.person@nordljus.se"))
    with dg.instance_for_test() as instance:
        result, _, _ = _push(sandboxes, Policy(auto_create_in_crona=True), dagster_home, instance, inbox_url)
    assert result.success
    assert _crona(sandboxes).drop(columns="Andrad").equals(before.drop(columns="Andrad"))
    (not_pushed,) = result.output_for_node("push_report")["not_pushed"]
    assert person["employmentId"] in not_pushed["reason"] and old_email in not_pushed["reason"]


def test_a_refused_write_fails_the_run_after_it_was_recorded(sandboxes30, dagster_home, inbox_url):
    sandboxes = sandboxes30
    person = _in_sync_person(sandboxes)
    email = person["email"].lower()
    _patch_huma(sandboxes, person["id"], {"familyName": "Låstsson"})
    sandboxes.crona.reject_writes(email, status=422, message="Anställd är låst för löneberäkning")
    _add(Inbox(inbox_url), "users-update", (person["id"], email))
    with dg.instance_for_test() as instance:
        result, _, _ = _push(sandboxes, Policy(), dagster_home, instance, inbox_url)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "push_report" and "1 failed" in failure.event_specific_data.error.message
    assert [(s[2], s[3], s[5]) for s in _ledger(dagster_home, result.run_id)] == [(email, "family_name", "failed")]
    outcomes = result.output_for_node("crona_push")
    assert outcomes["error"].str.contains("låst").all()
