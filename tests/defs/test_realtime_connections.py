"""Issue 14 §2, real time: the sensor requests push runs per connection (each its own partition, run keys, claims
and cursor; an older one-number cursor is the `default` connection's; a connection whose inbox cannot be read does
not stop another's), a push run of one connection claims only that connection's events and gets that connection's
resources, and a connection never writes a Huma user outside its scope."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from humacrona_pipeline.connection.check import confirm_connection
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.definitions import build_defs, defs
from humacrona_pipeline.defs.huma.resources import HumaResource
from humacrona_pipeline.defs.partitions import CONNECTION_PARTITIONS
from humacrona_pipeline.defs.realtime.jobs import JOB_NAME, READ_OP
from humacrona_pipeline.defs.realtime.resources import InboxResource
from humacrona_pipeline.defs.realtime.sensors import build_changes_sensor, huma_changes_sensor
from humacrona_pipeline.defs.realtime.trigger import missing_settings
from humacrona_pipeline.state.inbox import PENDING, Inbox, inbox_events
from humacrona_pipeline.state.ledger import Ledger
from humacrona_sandbox.huma_state import GROUPS
from tests.defs.sync_testkit import read_both, resources, state_url

_bodies = itertools.count()
TWO = dg.StaticPartitionsDefinition(["ab", "lo"])  # two connections, as a connections file would name them


def _add(inbox: Inbox, user: tuple[str, str], topic: str = "users-update", claimed_by: str | None = None) -> int:
    payload = {"topic": topic, "users": [{"id": user[0], "email": user[1]}], "n": next(_bodies)}
    event_id = inbox.add(topic, payload["users"], json.dumps(payload).encode(), claimed_by=claimed_by)
    assert event_id is not None
    return event_id


def _tick(sensor, instance, url: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, instance=instance, resources={"inbox": InboxResource(url=url)})
    return sensor(context)


def _ids(request: dg.RunRequest) -> list[str]:
    return [u["id"] for u in request.run_config["ops"][READ_OP]["config"]["users"]]


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


# --- the sensor -----------------------------------------------------------------------------------------


def test_each_connections_events_become_its_own_run_requests_partition_claims_and_cursor(url):
    ab, lo = Inbox(url, connection="ab"), Inbox(url, connection="lo")
    a1 = _add(ab, ("u-a1", "a1@x.se"))
    l1 = _add(lo, ("u-l1", "l1@x.se"))
    a2 = _add(ab, ("u-a2", "a2@x.se"))
    sensor = build_changes_sensor(TWO)
    with dg.instance_for_test() as instance:
        result = _tick(sensor, instance, url, None)
        by_partition = {r.partition_key: r for r in result.run_requests}
        assert sorted(by_partition) == ["ab", "lo"]
        assert by_partition["ab"].run_key == f"ab/inbox-{a1}-{a2}" and _ids(by_partition["ab"]) == ["u-a1", "u-a2"]
        assert by_partition["lo"].run_key == f"lo/inbox-{l1}-{l1}" and _ids(by_partition["lo"]) == ["u-l1"]
        assert json.loads(result.cursor) == {"ab": a2, "lo": l1}
        # Each batch is claimed in its own connection's name; no event of one is in the other's claim.
        assert [e.claimed_by for e in ab.after(0)] == [f"sensor:ab/inbox-{a1}-{a2}"] * 2
        assert [e.claimed_by for e in lo.after(0)] == [f"sensor:lo/inbox-{l1}-{l1}"]

        # A new event of one connection: only that connection's run, and only its cursor moves.
        l2 = _add(lo, ("u-l2", "l2@x.se"))
        (request,) = _tick(sensor, instance, url, result.cursor).run_requests
        assert (request.partition_key, request.run_key) == ("lo", f"lo/inbox-{l2}-{l2}")
        assert json.loads(_tick(sensor, instance, url, result.cursor).cursor) == {"ab": a2, "lo": l2}


def test_a_cursor_of_one_event_id_is_the_default_connections(url):
    default = Inbox(url)
    old = [_add(default, (f"u-{n}", f"p{n}@x.se")) for n in range(3)]
    with dg.instance_for_test() as instance:
        # The cursor an older version stored: the last event it handled, as a number.
        result = _tick(huma_changes_sensor, instance, url, str(old[1]))
        (request,) = result.run_requests
        assert (request.partition_key, request.run_key, _ids(request)) == ("default", f"default/inbox-{old[2]}-"
                                                                           f"{old[2]}", ["u-2"])
        assert json.loads(result.cursor) == {"default": old[2]}
        with pytest.raises(ValueError, match="cursor must map each connection to an inbox event id"):
            _tick(huma_changes_sensor, instance, url, "inbox-7")


def test_a_connection_whose_inbox_cannot_be_read_does_not_stop_another(url):
    ab, lo = Inbox(url, connection="ab"), Inbox(url, connection="lo")
    broken = _add(ab, ("u-a1", "a1@x.se"))
    pushed = _add(lo, ("u-l1", "l1@x.se"))
    with ab.engine.begin() as conn:  # a damaged row: ab's inbox cannot be read until it is repaired
        conn.execute(sa.update(inbox_events).where(inbox_events.c.id == broken).values(user_ids="[not json"))
    sensor = build_changes_sensor(TWO)
    with dg.instance_for_test() as instance:
        result = _tick(sensor, instance, url, None)
        (request,) = result.run_requests
        assert (request.partition_key, request.run_key) == ("lo", f"lo/inbox-{pushed}-{pushed}")
        assert json.loads(result.cursor) == {"lo": pushed}  # ab's place is kept: nothing of it was handled
        with ab.engine.begin() as conn:
            conn.execute(sa.update(inbox_events).where(inbox_events.c.id == broken).values(user_ids='["u-a1"]'))
        (later,) = _tick(sensor, instance, url, result.cursor).run_requests
        assert (later.partition_key, later.run_key) == ("ab", f"ab/inbox-{broken}-{broken}")


# --- the scope guard ------------------------------------------------------------------------------------


def _second_company(sandboxes) -> str:
    """A second company in the Huma sandbox's organisation (the seed has one; Huma may hold several)."""
    second = {"id": str(uuid.uuid4()), "name": "Nordljus Logistik AB", "type": "company"}
    sandboxes.huma.store.put(GROUPS, second["id"], second)
    sandboxes.huma.directory.groups[second["id"]] = second
    return second["id"]


def _in_sync_people(sandboxes, count: int) -> list[dict]:
    seeded = sandboxes.seeded
    planted = {d.email for d in seeded.discrepancies}
    crona_emails = {e["EpostArb"].lower() for e in seeded.crona_employees}
    return [u for u in seeded.huma_users if u["email"].lower() in crona_emails - planted][:count]


def _crona_by_email(sandboxes):
    _, crona = read_both(sandboxes)
    return crona.set_index(crona["EpostArb"].str.lower())


def test_a_user_outside_the_connections_scope_is_not_written_and_the_rest_is_pushed(sandboxes30, dagster_home, url):
    sandboxes = sandboxes30
    first, second = sandboxes.huma.company_group_id(), _second_company(sandboxes)
    inside, outside = _in_sync_people(sandboxes, 2)
    sandboxes.huma.directory.update_user(outside["id"], {"groups": [second]})  # moved to the other company
    for person in (inside, outside):
        sandboxes.huma.admin_update_user(person["id"], {"familyName": "Omflyttad"})
    inbox = Inbox(url)
    for person in (inside, outside):
        _add(inbox, (person["id"], person["email"].lower()))
    scoped = {**resources(sandboxes, Policy(), dagster_home), "inbox": InboxResource(url=url),
              "huma": HumaResource(base_url=sandboxes.env["HUMA_BASE_URL"], client_id=sandboxes.env["HUMA_CLIENT_ID"],
                                   client_secret=sandboxes.env["HUMA_CLIENT_SECRET"], scope_kind="companies",
                                   scope_ids=[first])}
    with dg.instance_for_test() as instance:
        (request,) = _tick(huma_changes_sensor, instance, url, None).run_requests
        result = build_defs(scoped).resolve_job_def(JOB_NAME).execute_in_process(
            run_config=request.run_config, tags=request.tags, partition_key=request.partition_key, instance=instance,
            raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    crona = _crona_by_email(sandboxes)
    assert crona.loc[inside["email"].lower(), "EfNamn"] == "Omflyttad"
    assert crona.loc[outside["email"].lower(), "EfNamn"] == outside["familyName"]  # never written
    report = result.output_for_node("push_report")
    assert (report["pushed"], report["not pushed"]) == (1, 1)
    (not_pushed,) = report["not_pushed"]
    assert not_pushed["employee"] == outside["email"].lower()
    assert f"outside connection default's Huma scope (companies {first})" in not_pushed["reason"]
    employees = set(Ledger(state_url(dagster_home)).operations(result.run_id)["employee"])
    assert employees == {inside["email"].lower()}
    assert result.output_for_node(READ_OP).not_pushed["reason"].str.contains("Huma scope").sum() == 1


# --- two connections of a connections file, pushed by the receiver's worker -------------------------------

_WORKER = """
import json, sys
from humacrona_pipeline.defs.realtime import push_worker
print(json.dumps(push_worker.push_pending(sys.argv[1], sys.argv[2:])))
"""


def test_a_push_of_one_connection_claims_its_events_only_and_uses_its_scope(sandboxes30, dagster_home, tmp_path):
    """Two connections of one Huma organisation (one company each) on the same sandboxes: the receiver's worker,
    told of connection `lo`, pushes `lo`'s events only, as `lo`'s partition with `lo`'s scope and ledger."""
    sandboxes = sandboxes30
    url = state_url(dagster_home)
    first, second = sandboxes.huma.company_group_id(), _second_company(sandboxes)
    moved, stayed, other = _in_sync_people(sandboxes, 3)
    sandboxes.huma.directory.update_user(moved["id"], {"groups": [second]})
    for person in (moved, stayed, other):
        sandboxes.huma.admin_update_user(person["id"], {"familyName": "Tvåbolag"})
    policy = tmp_path / "policy.yaml"
    policy.write_text("default_winner: huma\n")
    # Each connection its own Crona Lön company: lo's is the sandbox; ab's is never reached (ab is not pushed).
    cronas = {"lo": {"base_url": sandboxes.env["CRONA_BASE_URL"], "activation_code_env": "CRONA_ACTIVATION_CODE"},
              "ab": {"base_url": "https://ab.crona.invalid", "activation_code_env": "CRONA_ACTIVATION_CODE_AB"}}
    (tmp_path / "connections.yaml").write_text(yaml.safe_dump({"connections": [
        {"name": name, "huma": {"companies": [company]}, "crona": cronas[name], "policy": "policy.yaml",
         "report_to": "lon@nordljus.se"} for name, company in (("ab", first), ("lo", second))]}))
    confirm_connection(sandboxes.env, "pytest", url, name="lo")  # each connection is confirmed on its own
    ab_event = _add(Inbox(url, connection="ab"), (other["id"], other["email"].lower()), claimed_by=PENDING)
    lo = Inbox(url, connection="lo")
    lo_events = [_add(lo, (p["id"], p["email"].lower()), claimed_by=PENDING) for p in (moved, stayed)]

    env = {**os.environ, **sandboxes.env, "CRONA_ACTIVATION_CODE_AB": "AKTIV-ab-elsewhere",
           "HUMACRONA_CONNECTIONS_FILE": str(tmp_path / "connections.yaml"),
           "HUMACRONA_STATE_URL": url, "DAGSTER_HOME": str(dagster_home)}
    done = subprocess.run([sys.executable, "-c", _WORKER, url, "lo"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_id,) = json.loads(done.stdout.strip().splitlines()[-1])

    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        said = [e.user_message for e in instance.all_logs(run_id)]
    assert run.is_success, said
    assert run.tags["dagster/partition"] == "lo"
    assert run.tags["dagster/run_key"] == f"lo/inbox-{lo_events[0]}-{lo_events[1]}"
    # Only lo's events were claimed; ab's still wait for ab's push.
    assert {e.id: e.claimed_by for e in lo.after(0)} == {i: f"receiver:{run.tags['dagster/run_key']}"
                                                         for i in lo_events}
    assert [(e.id, e.claimed_by) for e in Inbox(url, connection="ab").after(0)] == [(ab_event, PENDING)]
    after = _crona_by_email(sandboxes)
    assert after.loc[moved["email"].lower(), "EfNamn"] == "Tvåbolag"  # in lo's company: written
    assert after.loc[stayed["email"].lower(), "EfNamn"] == stayed["familyName"]  # ab's employee: not by lo
    assert after.loc[other["email"].lower(), "EfNamn"] == other["familyName"]  # ab's event: not pushed by lo
    assert any(f"outside connection lo's Huma scope (companies {second})" in m for m in said), said
    assert set(Ledger(url, connection="lo").operations(run_id)["employee"]) == {moved["email"].lower()}
    assert Ledger(url, connection="ab").operations(run_id).empty


def test_the_receiver_pushes_itself_only_when_every_connection_of_the_file_can_run(tmp_path):
    (tmp_path / "policy.yaml").write_text("default_winner: huma\n")
    (tmp_path / "connections.yaml").write_text(yaml.safe_dump({"connections": [
        {"name": "ab", "crona": {"base_url": "https://crona.example.se", "activation_code_env": "CRONA_CODE_AB"},
         "policy": "policy.yaml", "report_to": "lon@nordljus.se"}]}))
    environ = {"HUMACRONA_CONNECTIONS_FILE": str(tmp_path / "connections.yaml"), "DAGSTER_HOME": str(tmp_path),
               "HUMA_BASE_URL": "https://api.example.huma", "HUMA_CLIENT_ID": "id", "HUMA_CLIENT_SECRET": "secret"}
    # The five variables of the single connection are not needed: the file names its own.
    assert missing_settings({**environ, "CRONA_CODE_AB": "code"}) == []
    assert missing_settings(environ) == ["a HUMACRONA_CONNECTIONS_FILE that `humacrona check` accepts"]
    assert missing_settings({k: v for k, v in environ.items() if k != "DAGSTER_HOME"} | {"CRONA_CODE_AB": "c"}) == [
        "DAGSTER_HOME"]


def test_the_nightly_sync_asks_for_one_run_per_connection():
    schedule = defs.resolve_schedule_def("nightly_sync_users")
    with dg.instance_for_test() as instance:
        night = datetime(2026, 3, 2, 2, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=night,
                                            repository_def=defs.get_repository_def())
        requests = schedule.evaluate_tick(context).run_requests
    assert [(r.partition_key, r.run_key) for r in requests] == [
        (name, f"2026-03-02/{name}") for name in CONNECTION_PARTITIONS.get_partition_keys()]
