"""Issue 4's end-to-end acceptance: `sync_users` over HTTP against freshly seeded sandboxes writes both
systems so that they agree wherever the rules allow, never sends payroll bad data, records and reports
every operation, and a second sync right after has nothing to do."""

from __future__ import annotations

import email
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from humacrona_pipeline.core.plan import plan
from humacrona_pipeline.core.reconcile import CONFLICT, MISSING_IN_CRONA, MISSING_IN_HUMA
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.defs.sync_testkit import confirm, huma_policy, read_both, reconcile_both, run


@pytest.fixture
def seeded_sandboxes(dagster_home):
    """Fresh sandboxes whose connection the administrator confirmed (a sync writes nothing otherwise)."""
    with start_sandboxes(SandboxOptions(employees=40, seed=3, huma_port=0, crona_port=0)) as running:
        confirm(running, dagster_home)
        yield running


def _kinds(seeded, kind: str) -> list:
    return [d for d in seeded.discrepancies if d.kind == kind]


def test_sync_users_makes_both_systems_agree_within_the_rules(seeded_sandboxes, dagster_home):
    sandboxes = seeded_sandboxes
    seeded = sandboxes.seeded
    (huma_only,) = _kinds(seeded, "huma_only")
    (crona_only,) = _kinds(seeded, "crona_only")
    (bad_account,) = _kinds(seeded, "invalid_bank_account_huma")
    policy = huma_policy(create_in_crona=(huma_only.email,))
    huma_before, crona_before = read_both(sandboxes)

    with dg.instance_for_test() as instance:
        result = run("sync_users", sandboxes, policy, dagster_home, instance)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        outcomes = {node: result.output_for_node(node) for node in ("crona_writeback", "huma_writeback")}
        assert len(outcomes["crona_writeback"]) and len(outcomes["huma_writeback"])
        for frame in outcomes.values():
            assert set(frame["status"]) <= {"applied", "skipped"}, frame[frame["status"] != "applied"]

        # Every matched employee now agrees on every field the rules let move Huma's way or fill.
        after = reconcile_both(sandboxes, policy)
        for row in after.conflicts.itertuples(index=False):
            if row.kind in (CONFLICT, MISSING_IN_CRONA):
                assert not row.to_crona or row.field == "bank_account", row
            if row.kind == MISSING_IN_HUMA:
                assert not row.to_huma, row
        assert not (plan(after, policy).operations["action"] != "held").any()

        # Payroll never got the invalid account; AnstNr of every existing employee is untouched.
        huma_after, crona_after = read_both(sandboxes)
        key = ["UtbetClearNr", "UtbetKontoNr"]
        before_by_email = crona_before.set_index(crona_before["EpostArb"].str.lower())
        after_by_email = crona_after.set_index(crona_after["EpostArb"].str.lower())
        assert (after_by_email.loc[bad_account.email, key] == before_by_email.loc[bad_account.email, key]).all()
        common = before_by_email.index
        assert (after_by_email.loc[common, "AnstNr"] == before_by_email["AnstNr"]).all()

        # One-sided employees were created only where the policy says, once.
        assert set(after_by_email.index) - set(common) == {huma_only.email}
        assert after_by_email.index.is_unique
        huma_emails = huma_after["email"].str.lower()
        assert set(huma_emails) == set(huma_before["email"].str.lower()) and huma_emails.is_unique
        assert crona_only.email not in set(huma_emails)
        created = after_by_email.loc[huma_only.email]
        new_huma = huma_after[huma_emails == huma_only.email].iloc[0]
        assert created["AnstNr"] == new_huma["employmentId"] and created["FoNamn"] == new_huma["givenName"]

        # The ledger holds every attempted operation of the run, accounts masked; report and email exist.
        total = sum(len(f) for f in outcomes.values())
        with sqlite3.connect(dagster_home / "ledger.sqlite") as db:
            stored = db.execute("select system, field, value_before, value_after, status from ledger_operations"
                                " where run_id = ?", (result.run_id,)).fetchall()
        assert len(stored) == total
        full_accounts = {f"{c} {a}" for c, a in crona_before[key].dropna().itertuples(index=False)}
        assert not full_accounts & {v for row in stored for v in row[2:4] if v}
        report = result.output_for_node("sync_report")
        html = Path(report["report_path"]).read_text(encoding="utf-8")
        assert "applied" in html and not any(account in html for account in full_accounts)
        (eml,) = (dagster_home / "outbox").glob("*.eml")
        message = email.message_from_bytes(eml.read_bytes())
        assert message["To"] == "hr-admin@example.org" and "applied" in message["Subject"]

        # A second sync right after finds nothing to write.
        again = run("sync_users", sandboxes, policy, dagster_home, instance)
        assert again.success
        for node in ("crona_writeback", "huma_writeback"):
            assert not (again.output_for_node(node)["status"] == "applied").any()
        assert again.output_for_node("sync_report")["converged"] is True


def test_sync_users_stops_before_writing_when_the_plan_exceeds_the_guards(seeded_sandboxes, dagster_home):
    sandboxes = seeded_sandboxes
    policy = huma_policy(approve_mass_change=False, max_update_share=0.01)
    before = read_both(sandboxes)
    with dg.instance_for_test() as instance:
        result = run("sync_users", sandboxes, policy, dagster_home, instance)
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["plan_within_guards"].passed is False
    ran = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert not ran & {"crona_writeback", "huma_writeback", "sync_report"}
    after = read_both(sandboxes)
    for b, a in zip(before, after):
        assert b.sort_values(b.columns[0]).reset_index(drop=True).equals(
            a.sort_values(a.columns[0]).reset_index(drop=True))


def test_one_rejected_employee_fails_the_run_after_everyone_else_is_applied_and_reported(seeded_sandboxes,
                                                                                         dagster_home):
    sandboxes = seeded_sandboxes
    policy = huma_policy()
    with dg.instance_for_test() as instance:
        planned = run("plan_sync", sandboxes, policy, dagster_home, instance)
        ops = planned.output_for_node("sync_plan").operations
        crona_updates = ops[(ops["target"] == "crona") & (ops["action"] == "update")]
        victim = crona_updates["employee"].iloc[0]
        sandboxes.crona.reject_writes(victim, status=422, message="Anställd är låst för löneberäkning")
        result = run("sync_users", sandboxes, policy, dagster_home, instance)

        assert not result.success  # Dagster shows the run as failed ...
        crona = result.output_for_node("crona_writeback")
        failed = crona[crona["status"] == "failed"]
        assert set(failed["employee"]) == {victim} and failed["error"].str.contains("låst").all()
        others = crona[crona["employee"] != victim]
        assert len(others) and (others["status"].isin(["applied", "skipped"])).all()
        assert (result.output_for_node("huma_writeback")["status"].isin(["applied", "skipped"])).all()
        # ... after the report was written and sent, naming the one employee.
        (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "sync_applied_cleanly"]
        assert check.passed is False and "failed" in check.description
        report = result.output_for_node("sync_report")
        html = Path(report["report_path"]).read_text(encoding="utf-8")
        assert victim in html and "låst" in html
        assert "failed" in report["subject"]
