"""The sync_report asset as Dagster runs it: the email is addressed to the configured administrator, its
times are in their time zone (the email resource's `timezone`, `HUMACRONA_TIMEZONE`), and the run's log and
metadata name the recipient or say what to set. Upstream assets are stand-ins under the real keys."""

from __future__ import annotations

import email
import re
from datetime import datetime
from email import policy as email_policy
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from humacrona_pipeline.core.outcomes import OUTCOME_COLUMNS
from humacrona_pipeline.core.plan import NOT_PLANNED_COLUMNS, PLAN_COLUMNS, SyncPlan
from humacrona_pipeline.core.reconcile import CONFLICT_COLUMNS
from humacrona_pipeline.defs.apply.assets import sync_report
from humacrona_pipeline.defs.crona.resources import CronaResource
from humacrona_pipeline.defs.email.resources import EmailResource
from humacrona_pipeline.defs.policy import SyncPolicy


def stand_in(name: str, value: object) -> dg.AssetsDefinition:
    @dg.asset(name=name)
    def _value():
        return value

    return _value


def outcome(target: str, employee: str, status: str) -> dict:
    return {"target": target, "action": "update", "employee": employee, "record_id": "1", "field": "job_title",
            "current_value": "Ekonom", "new_value": "Controller", "rule": "default_winner", "status": status,
            "error": None, "at": "2025-01-15T10:00:00+00:00", "created_id": None}


def run_report(email_resource: EmailResource, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    crona = pd.DataFrame([outcome("crona", "anna@nordljus.se", "applied")], columns=list(OUTCOME_COLUMNS))
    huma = pd.DataFrame(columns=list(OUTCOME_COLUMNS))
    conflicts = pd.DataFrame([{"employee": "anna@nordljus.se", "field": "job_title", "kind": "conflict"}],
                             columns=list(CONFLICT_COLUMNS))
    plan = SyncPlan(pd.DataFrame(columns=list(PLAN_COLUMNS)), pd.DataFrame(columns=list(NOT_PLANNED_COLUMNS)), 1)
    assets = [stand_in("crona_writeback", crona), stand_in("huma_writeback", huma),
              stand_in("employee_conflicts", conflicts), stand_in("sync_plan", plan), sync_report]
    return dg.materialize(assets, resources={"policy": SyncPolicy(default_winner="huma"), "email": email_resource,
                                             "crona": CronaResource()}, instance=instance, partition_key="default")


def logs(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(e.user_message for e in instance.all_logs(result.run_id))


@pytest.mark.parametrize("zone", ["Europe/Stockholm", "Asia/Tokyo"])
def test_the_report_email_goes_to_the_admin_with_times_in_their_zone(dagster_home, tmp_path, zone):
    resource = EmailResource(admin_address="lon@nordljus.se", outbox_dir=str(tmp_path / "outbox"), timezone=zone)
    with dg.instance_for_test() as instance:
        result = run_report(resource, instance)
        log_text = logs(instance, result)
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email_policy.default)
    assert message["To"] == "lon@nordljus.se"
    assert message["Subject"] == "humacrona sync: 1 applied, 0 failed, 0 unverified"
    html, text = message.get_body(("html",)).get_content(), message.get_body(("plain",)).get_content()
    assert f"times in {zone}" in html and f"Times in {zone}." in text
    assert "<svg" not in html.lower()
    # The run is today's: its times carry the zone's offset today (+01:00 or +02:00 in Stockholm), UTC beside.
    offset = datetime.now(ZoneInfo(zone)).isoformat()[-6:]
    assert re.search(rf"\d\d:\d\d:\d\d {re.escape(offset)} \(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC\) -> ", text)
    assert re.search(rf'<span class="time" title="[^"]+ UTC">[^<]+ {re.escape(offset)}</span>', html)
    metadata = result.asset_materializations_for_node("sync_report")[0].metadata
    assert metadata["email_to"].value == "lon@nordljus.se"
    assert "for lon@nordljus.se" in log_text and "for None" not in log_text


def test_without_an_admin_address_the_run_says_what_to_set(dagster_home, tmp_path):
    resource = EmailResource(outbox_dir=str(tmp_path / "outbox"))
    with dg.instance_for_test() as instance:
        result = run_report(resource, instance)
        log_text = logs(instance, result)
    assert "None" not in log_text.replace("NoneType", "")
    assert "(no recipient configured: set HUMACRONA_ADMIN_EMAIL)" in log_text
    metadata = result.asset_materializations_for_node("sync_report")[0].metadata
    assert metadata["email_to"].value == "(no recipient configured: set HUMACRONA_ADMIN_EMAIL)"
