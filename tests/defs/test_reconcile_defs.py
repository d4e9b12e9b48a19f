"""The reconcile assets and the guard on the plan, materialised from small in-memory raw extracts (stand-in
assets under the extract keys) with the policy resource swapped per test."""

from __future__ import annotations

import re
from dataclasses import fields, replace

import dagster as dg
import pandas as pd
import pytest

from humacrona_pipeline.connectors.crona import CRONA_COLUMNS, employee_row
from humacrona_pipeline.connectors.huma import HUMA_COLUMNS, flatten_employee
from humacrona_pipeline.core.plan import HELD, SyncPlan
from humacrona_pipeline.core.wording import percent
from humacrona_pipeline.defs.apply.resources import LedgerResource
from humacrona_pipeline.defs.canonical.assets import crona_employees, huma_employees
from humacrona_pipeline.defs.canonical.checks import crona_employees_schema, huma_employees_schema
from humacrona_pipeline.defs.policy import SyncPolicy
from humacrona_pipeline.defs.reconcile.assets import employee_conflicts, employee_matches, sync_plan
from humacrona_pipeline.defs.reconcile.checks import plan_within_guards
from humacrona_sandbox.seed import DiscrepancyShares, SeedData, generate
from tests.defs.sync_testkit import plan_resources

NO_DISCREPANCIES = DiscrepancyShares(**{f.name: 0.0 for f in fields(DiscrepancyShares)})
RECONCILE = [huma_employees, crona_employees, huma_employees_schema, crona_employees_schema, employee_matches,
             employee_conflicts, sync_plan, plan_within_guards]


def stand_in(name: str, value: object) -> dg.AssetsDefinition:
    @dg.asset(name=name, group_name="extract")
    def _value():
        return value

    return _value


def run(seeded: SeedData, policy: SyncPolicy, **swapped) -> dg.ExecuteInProcessResult:
    huma = pd.DataFrame([flatten_employee(u, u["positions"]) for u in seeded.huma_users], columns=list(HUMA_COLUMNS))
    crona = pd.DataFrame([employee_row(e) for e in seeded.crona_employees], columns=list(CRONA_COLUMNS))
    with dg.instance_for_test() as instance:
        return dg.materialize([stand_in("huma_users_raw", huma), stand_in("crona_employees_raw", crona), *RECONCILE],
                              resources={**plan_resources(policy), **swapped}, instance=instance,
                              raise_on_error=False, partition_key="default")


def test_a_plan_that_cannot_be_kept_still_stands_and_says_so(seeded, tmp_path):
    """The state database cannot be written: the dry run still plans; it only cannot be applied by run id."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the database's folder should be")
    result = run(seeded, SyncPolicy(), ledger=LedgerResource(url=f"sqlite:///{blocked}/state.sqlite"))
    assert result.success
    metadata = result.asset_materializations_for_node("sync_plan")[0].metadata
    assert metadata["apply_exactly_this_plan"].value == "not kept: cannot be applied by run id"
    kept = run(seeded, SyncPolicy())
    shown = kept.asset_materializations_for_node("sync_plan")[0].metadata["apply_exactly_this_plan"].value
    assert shown == f"humacrona sync --plan {kept.run_id}"


def guard(result: dg.ExecuteInProcessResult):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == "plan_within_guards")


@pytest.fixture(scope="module")
def seeded() -> SeedData:
    # 8 differing values (the rotation reaches bank_account), 3 values missing in Crona (one is a bank
    # account), one-sided employees both ways: about 30% of the employees need an update.
    return generate(40, seed=5, shares=replace(NO_DISCREPANCIES, differing=0.20, missing_in_crona=0.08,
                                               huma_only=0.05, crona_only=0.05, invalid_bank_account_huma=0.03))


def test_the_plan_follows_the_policy_and_the_guard_stops_a_mass_change(seeded, dagster_home):
    result = run(seeded, SyncPolicy(default_winner="huma"))
    assert not result.success, "a blocking check failing with ERROR fails the run"
    check = guard(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["max_update_share"].value == "20.0 %"  # shares read as rounded percentages
    assert check.metadata["update_share"].value == percent(result.output_for_node("sync_plan").update_share())
    assert result.output_for_node("sync_plan").update_share() > 0.2
    assert "max_update_share" in check.description and "approve_mass_change" in check.description

    plan: SyncPlan = result.output_for_node("sync_plan")
    conflicts = result.output_for_node("employee_conflicts")
    differing = {(d.email, d.field) for d in seeded.discrepancies if d.kind == "differing"}
    assert set(zip(conflicts.loc[conflicts["kind"] == "conflict", "employee"],
                   conflicts.loc[conflicts["kind"] == "conflict", "field"])) >= differing
    # Huma wins: a changed salary account for an existing Crona employee is held, not updated.
    bank = plan.operations[(plan.operations["target"] == "crona") & (plan.operations["field"] == "bank_account")]
    assert HELD in set(bank["action"])
    meta = result.asset_materializations_for_node("sync_plan")[0].metadata
    assert meta["held"].value == int((plan.operations["action"] == HELD).sum()) >= 1
    assert re.search(r"\| crona +\| held +\| bank_account +\|", meta["operations_by_target_action_field"].value)
    assert meta["not_planned"].value == len(plan.not_planned)
    assert re.search(r"\| policy decision +\| +[1-9]", meta["not_planned_by_category"].value)
    assert meta["update_share"].value == percent(plan.update_share())
    assert re.fullmatch(r"\d{1,3}\.\d %", meta["update_share"].value)


def test_approve_mass_change_lets_the_same_plan_through(seeded, dagster_home):
    result = run(seeded, SyncPolicy(default_winner="huma", approve_mass_change=True))
    assert result.success
    check = guard(result)
    assert check.passed and "approved by approve_mass_change" in check.description
    assert float(check.metadata["update_share"].value.removesuffix(" %")) > 20


def test_too_many_creates_fail_the_guard(seeded, dagster_home):
    one_sided = sum(d.kind in ("huma_only", "crona_only") for d in seeded.discrepancies)
    result = run(seeded, SyncPolicy(create_in_huma=["all"], create_in_crona=["all"], max_creates=one_sided - 1))
    check = guard(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["created_employees"].value == one_sided
    assert f"more than max_creates {one_sided - 1}" in check.description


def test_default_policy_plans_fills_only_and_stays_within_the_guards(seeded, dagster_home):
    result = run(seeded, SyncPolicy())
    assert result.success and guard(result).passed
    plan: SyncPlan = result.output_for_node("sync_plan")
    assert set(plan.operations["rule"]) == {"missing_values: fill"}
    matches = result.output_for_node("employee_matches")
    meta = result.asset_materializations_for_node("employee_matches")[0].metadata
    assert meta["matched"].value == int((matches["status"] == "matched").sum())
    assert "huma_only" in meta["by_status"].value and "crona_only" in meta["not_matched"].value
    conflicts_meta = result.asset_materializations_for_node("employee_conflicts")[0].metadata
    assert "missing_in_crona" in conflicts_meta["by_kind"].value
    assert conflicts_meta["dagster/row_count"].value == len(result.output_for_node("employee_conflicts"))


def test_no_metadata_shows_a_full_bank_account(seeded, dagster_home):
    result = run(seeded, SyncPolicy(default_winner="huma", approve_mass_change=True))
    parts = []
    for event in result.get_asset_materialization_events():
        parts += [f"{k}={v.value}" for k, v in event.materialization.metadata.items()]
    for e in result.get_asset_check_evaluations():
        parts += [f"{k}={v.value}" for k, v in e.metadata.items()] + [e.description or ""]
    text = "\n".join(parts)
    accounts = [(e["UtbetClearNr"], e["UtbetKontoNr"]) for e in seeded.crona_employees if e["UtbetKontoNr"]]
    accounts += [(u["bankAccount"]["number"], "") for u in seeded.huma_users if u.get("bankAccount")]
    shown = 0
    for clearing, account in accounts:
        digits = re.sub(r"\D", "", clearing + account)
        for form in {digits, f"{clearing} {account}".strip(), clearing + account}:
            assert form not in text
        shown += f"•••• {digits[-4:]}" in text
    # The bank-account conflicts and writes are listed, masked.
    assert shown >= 2
