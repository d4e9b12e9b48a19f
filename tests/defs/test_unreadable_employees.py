"""Issue 10 §4: one Huma user whose details cannot be read (a persistent HTTP 500, a body that is not JSON) is
listed as unreadable with the reason and left out of the sync on both sides, while everybody else is synced;
too many unreadable users stop the run before anything is written; a real-time push reports such a user as
not pushed and pushes the rest."""

from __future__ import annotations

import json
from dataclasses import replace

import dagster as dg
import pytest

from humacrona_pipeline.core.plan import UNREADABLE
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.realtime.jobs import JOB_NAME
from humacrona_pipeline.defs.realtime.resources import InboxResource
from humacrona_pipeline.state.inbox import Inbox
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.defs.sync_testkit import confirm, huma_policy, read_both, resources, run


@pytest.fixture
def sandboxes40(dagster_home):
    with start_sandboxes(SandboxOptions(employees=40, seed=3, huma_port=0, crona_port=0)) as running:
        confirm(running, dagster_home)
        yield running


def _matched_people(sandboxes, count: int) -> list[dict]:
    """Seeded Huma users who have a Crona employee and no planted discrepancy."""
    seeded = sandboxes.seeded
    planted = {d.email for d in seeded.discrepancies}
    crona_emails = {e["EpostArb"].lower() for e in seeded.crona_employees}
    people = [u for u in seeded.huma_users if u["email"].lower() in crona_emails and u["email"].lower() not in planted]
    return people[:count]


def _crona_row(crona, email: str) -> dict:
    row = crona[crona["EpostArb"].str.lower() == email].drop(columns="Andrad").iloc[0]
    return row.to_dict()


def _check(result, name: str) -> dg.AssetCheckEvaluation:
    (found,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return found


def test_one_unreadable_huma_user_is_left_out_on_both_sides_and_the_rest_is_synced(sandboxes40, dagster_home):
    sandboxes = sandboxes40
    broken, changed = _matched_people(sandboxes, 2)
    email, other = broken["email"].lower(), changed["email"].lower()
    # Both are changed in Huma, so a sync that read them would write both to Crona.
    sandboxes.huma.admin_update_user(broken["id"], {"familyName": "Unread"})
    sandboxes.huma.admin_update_user(changed["id"], {"familyName": "Read"})
    sandboxes.huma.fail_reads(email, "500", ["details"], message="Could not load user")
    _, crona_before = read_both_readable(sandboxes, email)
    # Huma wins and every one-sided employee would be created: an unreadable user looking "missing in Huma"
    # would be planned as a create in Huma, and its Crona employee as one-sided.
    policy = huma_policy(create_in_huma="all", create_in_crona="all", max_unreadable_share=0.05)

    with dg.instance_for_test() as instance:
        result = run("sync_users", sandboxes, policy, dagster_home, instance)
        assert result.success, [e.message for e in result.all_events if e.is_failure]

        raw = result.asset_materializations_for_node("huma_users_raw")[0].metadata
        assert raw["unreadable"].value == 1
        table = raw["unreadable_records"].value
        assert email in table and "HTTP 500" in table and "Could not load user" in table
        readable = _check(result, "huma_users_readable")
        listed = len(sandboxes.seeded.huma_users)
        assert readable.passed and readable.description.startswith(f"1 of {listed} Huma employees listed")

        plan = result.output_for_node("sync_plan")
        assert not (plan.operations["employee"] == email).any(), plan.operations[plan.operations["employee"] == email]
        skipped = plan.not_planned[plan.not_planned["employee"] == email]
        assert len(skipped) == 2 and set(skipped["category"]) == {UNREADABLE}  # the Huma user and its Crona employee
        for reason in skipped["reason"]:
            assert reason.startswith(f"unreadable in Huma: GET /users/{broken['id']}: HTTP 500"), reason
        assert (plan.operations["employee"] == other).any()

    _, crona_after = read_both_readable(sandboxes, email)
    assert _crona_row(crona_after, email) == _crona_row(crona_before, email)  # nothing written for them
    assert _crona_row(crona_after, other)["EfNamn"] == "Read"  # the rest was synced
    huma_emails = [u["email"].lower() for u in sandboxes.huma.directory.search_users()]
    assert huma_emails.count(email) == 1  # not created a second time in Huma


def read_both_readable(sandboxes, email: str):
    """Both systems read back with the broken user's reads working for the moment of the read."""
    rule = sandboxes.huma.failed_reads.get(email)
    sandboxes.huma.clear_failed_reads(email)
    try:
        return read_both(sandboxes)
    finally:
        if rule is not None:
            sandboxes.huma.failed_reads[email] = rule


def test_more_unreadable_users_than_the_policy_allows_stop_the_run_before_any_write(sandboxes40, dagster_home):
    sandboxes = sandboxes40
    people = _matched_people(sandboxes, 3)
    listed = len(sandboxes.seeded.huma_users)
    for person in people:  # 3 of ~40, above the default max_unreadable_share of 2 %
        sandboxes.huma.admin_update_user(person["id"], {"familyName": "Changed"})
        sandboxes.huma.fail_reads(person["email"], "500", ["positions"])
    stats_before = sandboxes.huma.request_counts.copy()

    with dg.instance_for_test() as instance:
        result = run("sync_users", sandboxes, huma_policy(), dagster_home, instance)
    assert not result.success
    readable = _check(result, "huma_users_readable")
    assert not readable.passed and readable.severity == dg.AssetCheckSeverity.ERROR
    assert readable.description.startswith(f"3 of {listed} Huma employees listed ({3 / listed * 100:.1f} %) could"
                                           " not be read, more than max_unreadable_share 2.0 %: that looks like an"
                                           " outage of Huma"), readable.description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert not materialized & {"huma_employees", "sync_plan", "crona_writeback", "huma_writeback"}
    writes = {k: n - stats_before.get(k, 0) for k, n in sandboxes.huma.request_counts.items()
              if not k.startswith("GET") and k != "POST /auth/oauth/token"}
    assert not any(writes.values()), writes
    for person in people:
        sandboxes.huma.clear_failed_reads(person["email"])
    _, crona = read_both(sandboxes)
    assert not (crona["EfNamn"] == "Changed").any()


def test_a_push_reports_an_unreadable_user_as_not_pushed_and_pushes_the_rest(sandboxes40, dagster_home, tmp_path):
    sandboxes = sandboxes40
    broken, changed = _matched_people(sandboxes, 2)
    inbox_url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    inbox = Inbox(inbox_url)
    for person, name in ((broken, "Unread"), (changed, "Pushed")):
        sandboxes.huma.admin_update_user(person["id"], {"familyName": name})
        users = [{"id": person["id"], "email": person["email"].lower()}]
        inbox.add("users-update", users, json.dumps({"topic": "users-update", "users": users, "n": name}).encode())
    sandboxes.huma.fail_reads(broken["email"], "malformed", ["details"])

    from humacrona_pipeline.defs.realtime.sensors import huma_changes_sensor
    with dg.instance_for_test() as instance:
        tick = huma_changes_sensor(dg.build_sensor_context(instance=instance,
                                                           resources={"inbox": InboxResource(url=inbox_url)}))
        (request,) = tick.run_requests
        located = build_defs({**resources(sandboxes, Policy(), dagster_home), "inbox": InboxResource(url=inbox_url)})
        result = located.resolve_job_def(JOB_NAME).execute_in_process(
            run_config=request.run_config, tags=request.tags, instance=instance, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    report = result.output_for_node("push_report")
    assert (report["pushed"], report["not pushed"]) == (1, 1)
    (not_pushed,) = report["not_pushed"]
    assert not_pushed["employee"] == broken["email"].lower()
    assert not_pushed["reason"].startswith(f"unreadable in Huma: GET /users/{broken['id']}: HTTP 200 answered with"
                                           " a body that is not JSON"), not_pushed["reason"]
    sandboxes.huma.clear_failed_reads()
    _, crona = read_both(sandboxes)
    assert _crona_row(crona, changed["email"].lower())["EfNamn"] == "Pushed"
    assert _crona_row(crona, broken["email"].lower())["EfNamn"] != "Unread"


def test_the_policy_option_is_a_share(tmp_path):
    from humacrona_pipeline.core.policy import PolicyError, policy_from_mapping
    assert policy_from_mapping({"max_unreadable_share": 0.1}).max_unreadable_share == 0.1
    assert Policy().max_unreadable_share == 0.02
    with pytest.raises(PolicyError, match="max_unreadable_share: expected a share from 0 to 1"):
        policy_from_mapping({"max_unreadable_share": 2})
    assert replace(Policy(), max_unreadable_share=0.5).max_unreadable_share == 0.5


def test_the_who_and_why_table_escapes_what_markdown_would_read():
    import pandas as pd

    from humacrona_pipeline.defs.unreadable import who_and_why_md

    shown = who_and_why_md(pd.DataFrame([{"record_id": "u|1", "work_email": "a_b@nordljus.se",
                                          "reason": "unreadable in Huma: GET /users/u|1: HTTP 500 <b>*x*</b>\nmore"}]))
    lines = shown.splitlines()
    assert lines[0] == "| record_id | work_email | reason |" and len(lines) == 3  # the newline did not split the row
    row = lines[2]
    assert "<b>" not in row and "*x*" not in row  # no markup from the data reaches Markdown
    assert row.count("|") - row.count("\\|") == 4  # the data's pipes are escaped: three cells
    assert "a_b@nordljus.se" in row or "a\\_b@nordljus.se" in row
    assert who_and_why_md(pd.DataFrame(columns=["record_id", "work_email", "reason"])) == "_none_"
