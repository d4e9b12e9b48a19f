"""Issue 3's acceptance test: job `plan_sync` over HTTP against both sandboxes finds every planted
discrepancy as the right kind of row, and nothing else.

The seed's manifest lists every difference between the two systems; apart from those they agree. So the
conflict rows, the non-matched employees and the quarantine rows must each equal the set the manifest
predicts: a missing row is a discrepancy the pipeline overlooked, an extra one is a difference it made up
(formatting that normalisation should have absorbed)."""

from __future__ import annotations

import dagster as dg

from humacrona_pipeline.definitions import build_defs, defs
from humacrona_pipeline.defs.crona.resources import CronaResource
from humacrona_pipeline.defs.huma.resources import HumaResource
from humacrona_pipeline.defs.policy import SyncPolicy

ISO_RULE = "ISO 3166-1 alpha-2"
# The kinds that differ only in how a value is written: normalisation makes the two sides equal.
FORMATTING = {"email_case", "phone_format"}
# The kinds whose value is invalid on one side: a `conflict` row that may not go the invalid side's way.
INVALID = {"country_name": ("address", "crona"), "invalid_bank_account_huma": ("bank_account", "huma"),
           "duplicate_phone_crona": ("phone", "crona")}


def _plan_sync(sandboxes, policy: SyncPolicy) -> dg.ExecuteInProcessResult:
    env = sandboxes.env
    located = build_defs({
        "huma": HumaResource(base_url=env["HUMA_BASE_URL"], client_id=env["HUMA_CLIENT_ID"],
                             client_secret=env["HUMA_CLIENT_SECRET"]),
        "crona": CronaResource(base_url=env["CRONA_BASE_URL"], activation_code=env["CRONA_ACTIVATION_CODE"]),
        "policy": policy,
    })
    with dg.instance_for_test() as instance:
        result = located.resolve_job_def("plan_sync").execute_in_process(instance=instance, partition_key="default")
    assert result.success
    return result


def _lender(seeded, borrower_email: str) -> str:
    """Whose Crona Mobil the borrower carries (the other holder of the duplicate)."""
    crona = {e["EpostArb"].lower(): e for e in seeded.crona_employees}
    mobile = crona[borrower_email]["Mobil"]
    (lender,) = [email for email, e in crona.items() if e["Mobil"] == mobile and email != borrower_email]
    return lender


def _expected(seeded, *, map_country_names: bool) -> dict[str, set]:
    conflicts, one_sided, quarantine = set(), set(), set()
    for d in seeded.discrepancies:
        if d.kind in FORMATTING or (d.kind == "country_name" and map_country_names):
            continue
        if d.kind in ("differing", "missing_in_huma", "missing_in_crona"):
            conflicts.add((d.email, d.field, "conflict" if d.kind == "differing" else d.kind))
        elif d.kind in ("huma_only", "crona_only"):
            one_sided.add((d.email, d.kind))
        elif d.kind == "employment_id_differs":
            conflicts.add((d.email, "employment_id", "conflict"))
        elif d.kind in INVALID:
            field, side = INVALID[d.kind]
            conflicts.add((d.email, field, "conflict"))
            quarantine.add((side, d.email, field))
            if d.kind == "duplicate_phone_crona":
                quarantine.add((side, _lender(seeded, d.email), field))
        else:
            raise AssertionError(f"the test does not know the discrepancy kind {d.kind}")
    return {"conflicts": conflicts, "one_sided": one_sided, "quarantine": quarantine}


def _found(result: dg.ExecuteInProcessResult) -> dict[str, set]:
    conflicts = result.output_for_node("employee_conflicts")
    matches = result.output_for_node("employee_matches")
    quarantine = set()
    for node in ("huma_employees", "crona_employees"):
        q = result.output_for_node(node).quarantine
        quarantine |= set(zip(q["side"], q["work_email"], q["field"]))
    others = matches[matches["status"] != "matched"]
    return {
        "conflicts": set(zip(conflicts["employee"], conflicts["field"], conflicts["kind"])),
        "one_sided": set(zip(others["employee"], others["status"])),
        "quarantine": quarantine,
    }


def _conflict(result, email: str, field: str):
    conflicts = result.output_for_node("employee_conflicts")
    rows = conflicts[(conflicts["employee"] == email) & (conflicts["field"] == field)]
    assert len(rows) == 1, f"{email} {field}: {len(rows)} rows"
    return rows.iloc[0]


def test_plan_sync_finds_every_planted_discrepancy_and_nothing_else(sandboxes, dagster_home):
    seeded = sandboxes.seeded
    assert {d.kind for d in seeded.discrepancies} >= FORMATTING | set(INVALID) | {"employment_id_differs"}
    result = _plan_sync(sandboxes, SyncPolicy())
    expected, found = _expected(seeded, map_country_names=False), _found(result)
    for table in ("conflicts", "one_sided", "quarantine"):
        assert found[table] == expected[table], (
            f"{table}: overlooked {sorted(expected[table] - found[table])}; "
            f"made up {sorted(found[table] - expected[table])}")

    matches = result.output_for_node("employee_matches")
    for d in seeded.discrepancies:
        if d.kind == "huma_only":
            assert matches.loc[matches["employee"] == d.email, "can_create_in_crona"].item() is True
        elif d.kind == "crona_only":
            assert matches.loc[matches["employee"] == d.email, "can_create_in_huma"].item() is True
        elif d.kind == "country_name":
            row = _conflict(result, d.email, "address")
            assert not row["to_huma"] and ISO_RULE in row["why_not_to_huma"]
        elif d.kind == "invalid_bank_account_huma":
            row = _conflict(result, d.email, "bank_account")
            assert not row["to_crona"] and "not a valid Swedish bank account" in row["why_not_to_crona"]
        elif d.kind == "duplicate_phone_crona":
            row = _conflict(result, d.email, "phone")
            assert not row["to_huma"] and "also held by" in row["why_not_to_huma"]
        elif d.kind == "employment_id_differs":
            row = _conflict(result, d.email, "employment_id")
            assert not row["to_crona"] and "cannot be changed in Crona" in row["why_not_to_crona"]
    # Every employee of either system is in exactly one matches row.
    emails = {u["email"].lower() for u in seeded.huma_users} | {e["EpostArb"].lower() for e in seeded.crona_employees}
    assert sorted(matches["employee"]) == sorted(emails)


def test_mapping_country_names_makes_the_country_name_rows_disappear(sandboxes, dagster_home):
    seeded = sandboxes.seeded
    names = {d.email for d in seeded.discrepancies if d.kind == "country_name"}
    assert names
    result = _plan_sync(sandboxes, SyncPolicy(map_country_names=True))
    expected, found = _expected(seeded, map_country_names=True), _found(result)
    assert found == expected
    assert not {row for row in found["conflicts"] if row[0] in names}
    assert result.asset_materializations_for_node("crona_employees")[0].metadata[
        "mapped_country_names"].value == len(names)


def test_plan_sync_materialises_up_to_the_plan_and_nothing_more():
    """The job is read-only: the extract, canonical and reconcile assets with their checks, nothing else."""
    job = defs.resolve_job_def("plan_sync")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "huma_users_raw", "crona_employees_raw", "huma_employees", "crona_employees", "employee_matches",
        "employee_conflicts", "sync_plan"}
    assert {k.name for k in job.asset_layer.asset_graph.asset_check_keys} == {
        "huma_users_readable", "crona_employees_readable", "huma_employees_schema", "crona_employees_schema",
        "plan_within_guards", "connection_confirmed"}
