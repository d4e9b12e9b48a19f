"""Issue 10 §5: `sync_users` applies exactly the plan a `plan_sync` run made, as it was reviewed. An employee
changed in either system after the review is not written and is reported `drifted`, with what changed
(masked), in the outcome, the ledger, the report and the email; everything else is written as planned, and
nothing the review did not show is written."""

from __future__ import annotations

import asyncio
import email
import email.policy
import sqlite3
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from humacrona_pipeline.connectors import crona as crona_api
from humacrona_pipeline.connectors import huma as huma_api
from humacrona_pipeline.connectors.crona import CronaClient
from humacrona_pipeline.connectors.drift import DriftCheck
from humacrona_pipeline.connectors.huma import HumaClient
from humacrona_pipeline.core.bank_accounts import mask
from humacrona_pipeline.core.fields import CRONA, HUMA
from humacrona_pipeline.core.outcomes import DRIFTED
from humacrona_pipeline.core.review import derive_key, keep, rebuild
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.review import PLAN_OPTION
from humacrona_pipeline.state.plans import ReviewedPlans
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.defs.sync_testkit import confirm, huma_policy, read_both, resources, run, state_url


@pytest.fixture
def seeded(dagster_home):
    with start_sandboxes(SandboxOptions(employees=40, seed=3, huma_port=0, crona_port=0)) as running:
        confirm(running, dagster_home)
        yield running


def _apply(sandboxes, policy, home, instance, run_id: str) -> dg.ExecuteInProcessResult:
    job = build_defs(resources(sandboxes, policy, home)).resolve_job_def("sync_users")
    return job.execute_in_process(instance=instance, raise_on_error=False,
                                  run_config={"ops": {"sync_plan": {"config": {PLAN_OPTION: run_id}}}},
                                      partition_key="default")


def _clients(sandboxes):
    env = sandboxes.env
    return (HumaClient(env["HUMA_BASE_URL"], env["HUMA_CLIENT_ID"], env["HUMA_CLIENT_SECRET"]),
            CronaClient(env["CRONA_BASE_URL"], env["CRONA_ACTIVATION_CODE"]))


def _edit(sandboxes, *, huma: dict | None = None, crona: dict | None = None) -> None:
    """Change values in the systems as a person would between review and apply: ``huma`` user id ->
    canonical changes, ``crona`` AnstNr -> canonical changes."""
    huma_client, crona_client = _clients(sandboxes)

    async def go():
        async with huma_client, crona_client:
            for user_id, changes in (huma or {}).items():
                await huma_client.patch_user(user_id, huma_api.user_details_body(changes, None))
            for anstnr, changes in (crona or {}).items():
                await crona_client.patch_employee(anstnr, crona_api.patch_body(changes))

    asyncio.run(go())


def _written(outcomes: pd.DataFrame) -> set:
    done = outcomes[outcomes["status"] == "applied"]
    return set(zip(done["target"], done["employee"], done["field"], done["new_value"].map(str)))


def test_sync_applies_the_reviewed_plan_and_reports_drifted_employees(seeded, dagster_home):
    policy = huma_policy()
    with dg.instance_for_test() as instance:
        planned = run("plan_sync", seeded, policy, dagster_home, instance)
        assert planned.success
        reviewed = planned.output_for_node("sync_plan")
        ops = reviewed.operations
        huma_table = planned.output_for_node("huma_employees").frame
        crona_table = planned.output_for_node("crona_employees").frame
        crona_updates = ops[(ops["target"] == CRONA) & (ops["action"] == "update")]
        # A: changed in Huma after the review; B: changed in Crona; C: not in the plan, changed in Huma.
        a, b = crona_updates["employee"].drop_duplicates().iloc[:2]
        a_user = huma_table.loc[huma_table["work_email"] == a, "record_id"].iloc[0]
        b_anstnr = crona_table.loc[crona_table["work_email"] == b, "record_id"].iloc[0]
        in_plan = set(ops["employee"])
        c_row = huma_table[~huma_table["work_email"].isin(in_plan) & huma_table["work_email"].isin(
            set(crona_table["work_email"]))].iloc[0]
        _edit(seeded, huma={a_user: {"family_name": "Efterhand-Granskad"},
                            c_row["record_id"]: {"given_name": "Oplanerad"}},
              crona={b_anstnr: {"job_title": "Ändrad i Crona"}})

        applied = _apply(seeded, policy, dagster_home, instance, planned.run_id)
        assert applied.success, [e.message for e in applied.all_events if e.is_failure]
        outcomes = pd.concat([applied.output_for_node("crona_writeback"), applied.output_for_node("huma_writeback")],
                             ignore_index=True)
        html = Path(applied.output_for_node("sync_report")["report_path"]).read_text(encoding="utf-8")

    # Drifted: every reviewed operation of A and B, none written, each saying what changed.
    drifted = outcomes[outcomes["status"] == DRIFTED]
    assert set(drifted["employee"]) == {a, b}
    assert len(drifted) == len(ops[ops["employee"].isin({a, b})])
    assert drifted.loc[drifted["employee"] == a, "error"].str.contains("Huma family name").all()
    assert drifted.loc[drifted["employee"] == a, "error"].str.contains("Efterhand-Granskad").all()
    assert drifted.loc[drifted["employee"] == b, "error"].str.contains("Crona job title").all()

    # Everything else is exactly the reviewed plan, written; C (not reviewed) got nothing.
    others = ops[~ops["employee"].isin({a, b}) & (ops["action"] != "held")]
    assert _written(outcomes) == set(zip(others["target"], others["employee"], others["field"],
                                         others["new_value"].map(str)))
    assert c_row["work_email"] not in set(outcomes["employee"])
    huma_after, crona_after = read_both(seeded)
    assert huma_after.loc[huma_after["id"] == c_row["record_id"], "givenName"].iloc[0] == "Oplanerad"
    assert crona_after.loc[crona_after["EpostArb"].str.lower() == c_row["work_email"], "FoNamn"].iloc[0] != "Oplanerad"
    assert huma_after.loc[huma_after["id"] == a_user, "familyName"].iloc[0] == "Efterhand-Granskad"

    # The ledger, the report and the email say so.
    with sqlite3.connect(dagster_home / "ledger.sqlite") as db:
        stored = db.execute("select employee, status from ledger_operations where run_id = ? and status = ?",
                            (applied.run_id, DRIFTED)).fetchall()
    assert {e for e, _ in stored} == {a, b} and len(stored) == len(drifted)
    assert "Drifted (" in html and planned.run_id in html and "Efterhand-Granskad" in html
    message = email.message_from_bytes(next((dagster_home / "outbox").glob("*.eml")).read_bytes(),
                                       policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    assert f"Drifted ({len(drifted)})" in text and b in text and "drifted" in message["Subject"]


def test_salary_accounts_are_kept_as_fingerprints_and_written_in_full_only_when_unchanged(seeded, dagster_home):
    """The kept plan holds no full account; the apply finds the full value again by its fingerprint and writes
    it; a changed account is drifted and shown masked."""
    policy = huma_policy(hold_bank_account_changes=False)
    huma_before, crona_before = read_both(seeded)
    with dg.instance_for_test() as instance:
        first = run("plan_sync", seeded, policy, dagster_home, instance)
        huma_t, crona_t = first.output_for_node("huma_employees").frame, first.output_for_node("crona_employees").frame
        pairs = huma_t.merge(crona_t, on="work_email", suffixes=("_h", "_c"))
        pairs = pairs[pairs["bank_account_h"].notna() & (pairs["bank_account_h"] == pairs["bank_account_c"])]
        (x1, x2, y1, y2, y3) = pairs.iloc[:5].to_dict("records")
        # Before the review: two Huma users get another valid account (another employee's), so Crona is planned
        # to get it.
        _edit(seeded, huma={x1["record_id_h"]: {"bank_account": y1["bank_account_c"]},
                            x2["record_id_h"]: {"bank_account": y2["bank_account_c"]}})
        planned = run("plan_sync", seeded, policy, dagster_home, instance)
        ops = planned.output_for_node("sync_plan").operations
        accounts = ops[(ops["field"] == "bank_account") & (ops["target"] == CRONA)]
        assert set(accounts["employee"]) == {x1["work_email"], x2["work_email"]}
        # After the review: x2's account changes again.
        _edit(seeded, huma={x2["record_id_h"]: {"bank_account": y3["bank_account_c"]}})
        applied = _apply(seeded, policy, dagster_home, instance, planned.run_id)
        assert applied.success
        outcomes = pd.concat([applied.output_for_node(n) for n in ("crona_writeback", "huma_writeback")])

    digits = lambda v: "".join(ch for ch in str(v) if ch.isdigit())  # noqa: E731
    row = lambda e: outcomes[(outcomes["employee"] == e) & (outcomes["field"] == "bank_account")].iloc[0]  # noqa: E731
    assert row(x1["work_email"])["status"] == "applied"
    _, crona_after = read_both(seeded)
    written = crona_after[crona_after["EpostArb"].str.lower() == x1["work_email"]].iloc[0]
    assert digits(written["UtbetClearNr"]) + digits(written["UtbetKontoNr"]) == digits(y1["bank_account_c"])
    drifted = row(x2["work_email"])
    assert drifted["status"] == DRIFTED and "Huma salary bank account" in drifted["error"].replace("Salary", "salary")
    assert mask(y3["bank_account_c"]) in drifted["error"]
    assert digits(y3["bank_account_c"]) not in digits(drifted["error"])
    assert drifted["new_value"] == mask(y2["bank_account_c"])  # what the review showed, as the report shows it
    unchanged = crona_after[crona_after["EpostArb"].str.lower() == x2["work_email"]].iloc[0]
    assert digits(unchanged["UtbetKontoNr"]) == digits(crona_before.loc[crona_before["EpostArb"].str.lower()
                                                                        == x2["work_email"], "UtbetKontoNr"].iloc[0])
    kept = ReviewedPlans(state_url(dagster_home)).get(planned.run_id).to_json()
    for account in (y1, y2, y3):
        assert digits(account["bank_account_c"]) not in digits(kept)
    assert mask(y1["bank_account_c"]) in kept


def test_an_unknown_run_id_fails_with_one_line_and_writes_nothing(seeded, dagster_home):
    with dg.instance_for_test() as instance:
        huma_before, crona_before = read_both(seeded)
        applied = _apply(seeded, huma_policy(), dagster_home, instance, "0000-not-a-run")
        assert not applied.success
        failure = next(e for e in applied.all_events if e.is_step_failure)
        assert "no plan is kept for run 0000-not-a-run" in failure.event_specific_data.error.message
    huma_after, crona_after = read_both(seeded)
    pd.testing.assert_frame_equal(crona_before, crona_after)


def test_the_last_check_catches_a_change_made_after_the_apply_read_both_systems(seeded, dagster_home):
    """Between `rebuild` (the apply's read) and an employee's write, somebody edits it: not written."""
    policy = huma_policy()
    with dg.instance_for_test() as instance:
        planned = run("plan_sync", seeded, policy, dagster_home, instance)
    huma_t, crona_t = planned.output_for_node("huma_employees"), planned.output_for_node("crona_employees")
    env = seeded.env
    key = derive_key(env["HUMA_CLIENT_SECRET"], env["CRONA_ACTIVATION_CODE"])
    kept = keep(planned.output_for_node("sync_plan"), huma_t, crona_t, key, planned.run_id, "2026-12-06T00:00:00")
    fresh = rebuild(kept, huma_t, crona_t, key)
    assert fresh.drifted.empty and len(fresh.operations) == len(planned.output_for_node("sync_plan").operations)
    ops = fresh.operations
    changed, unchanged = ops.loc[ops["target"] == CRONA, "employee"].drop_duplicates().iloc[:2]
    user = kept.basis[changed][HUMA].record_id
    _edit(seeded, huma={user: {"given_name": "Sent-Ändrad"}})

    async def verdicts():
        huma_client, crona_client = _clients(seeded)
        async with DriftCheck(huma_client, crona_client, fresh.basis, key) as check:
            rows = lambda e: ops[ops["employee"] == e].to_dict("records")  # noqa: E731
            return await check(changed, rows(changed)), await check(unchanged, rows(unchanged))

    (status, reason), clean = asyncio.run(verdicts())
    assert status == DRIFTED and "Huma given name" in reason and "Sent-Ändrad" in reason
    assert clean is None
    # creates are covered by test_drift_check_refuses_a_create_whose_target_appeared
