"""The write-back engine against both sandboxes over real HTTP: a plan lands and verifies and a re-plan
finds nothing left; creates land with everything; a refused employee fails alone; held changes are skipped
with the approval hint; creates through dropped connections and server errors make no duplicates;
verification notices a value that reads back differently; no error ever shows a full bank account."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter

import httpx
import pandas as pd
import pytest

from humacrona_pipeline.connectors.crona import CronaClient, extract_crona
from humacrona_pipeline.connectors.http import RetryPolicy
from humacrona_pipeline.connectors.huma import HumaClient, extract_huma
from humacrona_pipeline.connectors.writeback import (
    apply_plan,
    verify_crona,
    verify_huma,
    write_crona,
    write_huma,
)
from humacrona_pipeline.core.canonical import build_table
from humacrona_pipeline.core.outcomes import APPLIED, FAILED, OUTCOME_COLUMNS, SKIPPED, STATUSES, UNVERIFIED
from humacrona_pipeline.core.plan import PLAN_COLUMNS, plan
from humacrona_pipeline.core.policy import policy_from_mapping
from humacrona_pipeline.core.reconcile import reconcile
from humacrona_sandbox.faults import FaultConfig
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.connectors.connector_testkit import CRONA_CODE, FAST_RETRY, HUMA_ID, HUMA_SECRET, serve_crona, serve_huma

ACCOUNT_A = "5000 1000004"  # valid Swedish accounts in stored form
ACCOUNT_B = "83279 0123456782"
ACCOUNT_C = "6789 123456789"
EVERYTHING = {"default_winner": "huma", "create_in_huma": "all", "create_in_crona": "all",
              "approve_mass_change": True}


# ----------------------------------------------------------------------------------------- helpers


def sandboxes(employees: int = 30, seed: int = 3, **options):
    return start_sandboxes(SandboxOptions(employees=employees, seed=seed, huma_port=0, crona_port=0, **options))


def huma(url: str, retry: RetryPolicy = FAST_RETRY) -> HumaClient:
    return HumaClient(url, HUMA_ID, HUMA_SECRET, retry=retry)


def crona(url: str, retry: RetryPolicy = FAST_RETRY) -> CronaClient:
    return CronaClient(url, CRONA_CODE, retry=retry)


def make_plan(running, policy: dict = EVERYTHING):
    h = pd.DataFrame(extract_huma(huma(running.huma_url)))
    c = pd.DataFrame(extract_crona(crona(running.crona_url)))
    return plan(reconcile(build_table(h, "huma"), build_table(c, "crona")), policy_from_mapping(policy))


def ops(*rows: tuple) -> pd.DataFrame:
    """(target, action, employee, record_id, field, new_value) -> plan rows."""
    return pd.DataFrame([{"target": t, "action": a, "employee": e, "record_id": r, "field": f, "current_value": None,
                          "new_value": v, "rule": "test"} for t, a, e, r, f, v in rows], columns=list(PLAN_COLUMNS))


def create(target: str, email: str, values: dict) -> list[tuple]:
    return [(target, "create", email, None, name, value) for name, value in {"work_email": email, **values}.items()]


def matched(running, count: int) -> list[dict]:
    """Employees both sandboxes hold (same work email): email, Huma id, AnstNr."""
    crona_by_email = {e["EpostArb"].strip().lower(): e["AnstNr"] for e in running.crona.store.values("employees")}
    out = []
    for user in running.huma.directory.users.values():
        email = user["email"].strip().lower()
        if email in crona_by_email:
            out.append({"email": email, "huma": user["id"], "crona": crona_by_email[email]})
        if len(out) == count:
            return out
    raise AssertionError("not enough matched employees in the seed")


def run(coro):
    return asyncio.run(coro)


def digits(account: str) -> str:
    return re.sub(r"\D", "", account.split(" ", 1)[1])


def assert_outcome_frame(out: pd.DataFrame, operations: pd.DataFrame) -> None:
    assert tuple(out.columns) == OUTCOME_COLUMNS
    assert len(out) == len(operations)
    assert set(out["status"]) <= set(STATUSES)
    assert (out[list(PLAN_COLUMNS)].astype(str).values.tolist()
            == operations[list(PLAN_COLUMNS)].astype(str).values.tolist())
    assert out["at"].notna().all()
    assert out.loc[out["status"] != APPLIED, "error"].notna().all()


def company_members(running) -> Counter:
    return Counter(u["email"].strip().lower() for u in running.huma.directory.users.values())


# ------------------------------------------------------------------------------------------- tests


def test_a_plan_lands_in_both_systems_verifies_and_leaves_nothing_to_do():
    with sandboxes(employees=40, seed=3) as running:
        before = make_plan(running)
        operations = before.operations
        assert {"create", "update"} <= set(operations["action"]) and set(operations["target"]) == {"huma", "crona"}
        recorded: list[list[dict]] = []
        results = {}
        for target, client in (("huma", huma(running.huma_url)), ("crona", crona(running.crona_url))):
            results[target] = apply_plan(client, target, operations, on_outcome=recorded.append)
            assert_outcome_frame(results[target], operations[operations["target"] == target].reset_index(drop=True))
        outcomes = pd.concat(results.values(), ignore_index=True)
        # the callback got every employee's rows once, each as soon as the employee was done
        assert sum(len(batch) for batch in recorded) == len(outcomes)
        assert all(len({(r["target"], r["employee"]) for r in batch}) == 1 for batch in recorded)
        assert all(tuple(batch[0]) == OUTCOME_COLUMNS for batch in recorded)
        assert set(outcomes["status"]) <= {APPLIED, SKIPPED}, outcomes[outcomes["status"] != APPLIED]
        creates = outcomes[outcomes["action"] == "create"]
        assert (creates["status"] == APPLIED).all() and creates["created_id"].notna().all()
        crona_creates = creates[creates["target"] == "crona"]
        anstnr = crona_creates[crona_creates["field"] == "employment_id"]
        assert len(anstnr) and (anstnr["created_id"] == anstnr["new_value"]).all()
        assert max(company_members(running).values()) == 1

        after = make_plan(running)  # what was applied is in sync now; only what was skipped is left
        left = set(zip(after.operations["target"], after.operations["employee"], after.operations["field"]))
        skipped = outcomes[outcomes["status"] == SKIPPED]
        assert left <= set(zip(skipped["target"], skipped["employee"], skipped["field"]))


def test_creates_land_with_everything_and_a_new_title_is_created_once():
    with sandboxes(employees=12, seed=4) as running:
        group = running.huma.company_group_id()
        nora = {"given_name": "Nora", "family_name": "Sync", "employment_id": "9001",
                "address": "Testgatan 3\n114 55\nStockholm\nSE", "phone": "+46701112233",
                "start_date": "2023-02-01", "end_date": "2031-12-31", "bank_account": ACCOUNT_B,
                "private_email": "nora@example.org", "job_title": "Sync Tester"}
        olle = {"given_name": "Olle", "family_name": "Sync", "employment_id": "9002", "start_date": "2024-05-01",
                "job_title": "Sync Tester"}
        huma_ops = ops(*create("huma", "nora.sync@nordljus.se", nora), *create("huma", "olle.sync@nordljus.se", olle))
        crona_ops = ops(*create("crona", "nora.sync@nordljus.se", nora))

        out = apply_plan(huma(running.huma_url), "huma", huma_ops)
        assert_outcome_frame(out, huma_ops)
        assert (out["status"] == APPLIED).all(), out[out["status"] != APPLIED]
        directory = running.huma.directory
        user_id = out.loc[out["employee"] == "nora.sync@nordljus.se", "created_id"].unique()
        assert len(user_id) == 1
        user = directory.user(user_id[0])
        assert (user["givenName"], user["familyName"], user["email"]) == ("Nora", "Sync", "nora.sync@nordljus.se")
        assert user["groups"] == [group] and "invitedAt" not in user
        assert (user["phone"], user["employmentId"], user["privateEmail"]) == ("+46701112233", "9001",
                                                                                "nora@example.org")
        assert user["homeAddress"] == {"line1": "Testgatan 3", "postalCode": "114 55", "city": "Stockholm",
                                       "country": "SE"}
        assert user["bankAccount"] == {"type": "national", "number": "83279-0123456782", "country": "SE"}
        [position] = directory.positions_of(user["id"])
        assert (position["contractStartDate"], position["contractEndDate"]) == ("2023-02-01", "2031-12-31")
        assert directory.job_title(position["titleId"])["name"] == "Sync Tester"
        assert len(directory.find_job_titles("Sync Tester")) == 1  # two employees, one new title
        assert running.huma.request_counts["POST /job-titles"] == 1

        out = apply_plan(crona(running.crona_url), "crona", crona_ops)
        assert (out["status"] == APPLIED).all() and set(out["created_id"]) == {"9001"}
        stored = running.crona.store.get("employees", "9001")
        assert {k: stored[k] for k in ("FoNamn", "EfNamn", "EpostArb", "Adress1", "PostNr", "Ort", "Land", "Mobil",
                                       "AnstDatum", "AvgDatum", "UtbetClearNr", "UtbetKontoNr", "EpostPriv",
                                       "Befattning")} == {
            "FoNamn": "Nora", "EfNamn": "Sync", "EpostArb": "nora.sync@nordljus.se", "Adress1": "Testgatan 3",
            "PostNr": "114 55", "Ort": "Stockholm", "Land": "SE", "Mobil": "+46701112233", "AnstDatum": "2023-02-01",
            "AvgDatum": "2031-12-31", "UtbetClearNr": "83279", "UtbetKontoNr": "0123456782",
            "EpostPriv": "nora@example.org", "Befattning": "Sync Tester"}

        # the same creates run again: the records exist, the run continues with them, nothing is duplicated
        users_before, posts_before = len(directory.users), running.huma.request_counts["POST /users"]
        again = apply_plan(huma(running.huma_url), "huma", huma_ops)
        assert (again["status"] == APPLIED).all() and list(again["created_id"]) == list(out_ids(huma_ops, directory))
        assert len(directory.users) == users_before and running.huma.request_counts["POST /users"] == posts_before
        assert len(directory.positions_of(user["id"])) == 1
        again = apply_plan(crona(running.crona_url), "crona", crona_ops)
        assert (again["status"] == APPLIED).all() and set(again["created_id"]) == {"9001"}
        assert [e["AnstNr"] for e in running.crona.store.values("employees")
                if e["EpostArb"] == "nora.sync@nordljus.se"] == ["9001"]


def out_ids(operations: pd.DataFrame, directory) -> list[str]:
    by_email = {u["email"]: u["id"] for u in directory.users.values()}
    return [by_email[e] for e in operations["employee"]]


def test_a_refused_employee_fails_alone_and_the_others_are_applied():
    with sandboxes(employees=20, seed=5) as running:
        people = matched(running, 4)
        refused, others = people[0], people[1:]
        huma_ops = ops(*[("huma", "update", p["email"], p["huma"], "private_email", f"p{i}@example.org")
                         for i, p in enumerate(people)],
                       ("huma", "update", refused["email"], refused["huma"], "job_title", "Refused Title"))
        crona_ops = ops(*[("crona", "update", p["email"], p["crona"], "phone", f"+4670555000{i}")
                          for i, p in enumerate(people)])
        running.huma.reject_writes(refused["email"], message="The user is locked for editing")
        response = httpx.post(f"{running.crona_url}/_sandbox/reject-writes",
                              json={"email": refused["email"], "message": "Anställd är låst för ändringar"})
        assert response.status_code == 200

        for target, client, operations, message, status in (
                ("huma", huma(running.huma_url), huma_ops, "The user is locked for editing", "HTTP 400"),
                ("crona", crona(running.crona_url), crona_ops, "Anställd är låst för ändringar", "HTTP 422")):
            out = apply_plan(client, target, operations)
            assert_outcome_frame(out, operations)
            mine = out[out["employee"] == refused["email"]]
            assert (mine["status"] == FAILED).all()
            assert all(message in e and status in e for e in mine["error"])
            assert (out.loc[out["employee"] != refused["email"], "status"] == APPLIED).all()
        assert running.crona.store.get("employees", others[0]["crona"])["Mobil"] == "+46705550001"
        assert running.crona.store.get("employees", refused["crona"])["Mobil"] != "+46705550000"
        refused_user = running.huma.directory.user(refused["huma"])
        assert refused_user.get("privateEmail") != "p0@example.org"
        assert running.huma.directory.user(others[0]["huma"])["privateEmail"] == "p1@example.org"


def test_a_held_bank_account_change_is_skipped_with_the_approval_hint():
    with sandboxes(employees=12, seed=6) as running:
        person, other = matched(running, 2)
        before = dict(running.crona.store.get("employees", person["crona"]))
        operations = ops(("crona", "held", person["email"], person["crona"], "bank_account", ACCOUNT_A),
                         ("crona", "update", person["email"], person["crona"], "private_email", "held@example.org"),
                         ("crona", "held", other["email"], other["crona"], "bank_account", ACCOUNT_C))
        out = apply_plan(crona(running.crona_url), "crona", operations)
        assert list(out["status"]) == [SKIPPED, APPLIED, SKIPPED]
        hint = out.loc[0, "error"]
        assert "approve_bank_account_change: true" in hint and "employees:" in hint and person["email"] in hint
        after = running.crona.store.get("employees", person["crona"])
        assert (after["UtbetClearNr"], after["UtbetKontoNr"]) == (before["UtbetClearNr"], before["UtbetKontoNr"])
        assert after["EpostPriv"] == "held@example.org"
        assert running.crona.store.get("employees", other["crona"])["Andrad"]  # untouched, still there


@pytest.mark.parametrize("system", ["huma", "crona"])
def test_creates_through_dropped_connections_make_no_duplicates(system, caplog):
    """Half the requests are handled and then cut before the answer: every create whose answer is lost
    must be found instead of repeated."""
    faults = FaultConfig(rate=0.5, kinds=("drop",), seed=11, exempt_prefixes=("/_sandbox", "/auth", "/api/v1/auth"))
    retry = RetryPolicy(attempts=25, base_delay_s=0.001, max_delay_s=0.005)
    people = [(f"drop.test{i}@nordljus.se", {"given_name": "Drop", "family_name": f"Test{i}",
                                              "employment_id": f"77{i:02d}", "start_date": "2024-01-01",
                                              "job_title": "Resilience Engineer", "phone": f"+4670999000{i}"})
              for i in range(6)]
    operations = ops(*[row for email, values in people for row in create(system, email, values)])
    caplog.set_level(logging.INFO, logger="humacrona.connectors")
    serve = serve_huma if system == "huma" else serve_crona
    with serve([], faults=faults) as served:
        if system == "huma":
            served.sandbox.company_group_id()

            async def go():
                async with huma(served.url, retry) as client:
                    return await verify_huma(client, await write_huma(client, operations, concurrency=1))
        else:
            async def go():
                async with crona(served.url, retry) as client:
                    return await verify_crona(client, await write_crona(client, operations, concurrency=1))

        out = run(go())
        assert served.sandbox.faults.counts["drop"] > 0
        assert (out["status"] == APPLIED).all(), out[out["status"] != APPLIED][["employee", "field", "error"]]
        if system == "huma":
            emails = Counter(u["email"] for u in served.sandbox.directory.users.values())
            assert emails == Counter(email for email, _ in people)
            titles = served.sandbox.directory.find_job_titles("Resilience Engineer")
            assert len(titles) == 1
            assert all(len(served.sandbox.directory.positions_of(u)) == 1 for u in served.sandbox.directory.users)
            lost = "the create was applied although its answer was lost"
        else:
            emails = Counter(e["EpostArb"] for e in served.sandbox.store.values("employees"))
            assert emails == Counter(email for email, _ in people)
            lost = "was applied although its answer was lost"
    assert lost in caplog.text  # the dangerous case did happen, and was handled


def test_a_plan_with_creates_under_injected_faults_makes_no_duplicates():
    with sandboxes(employees=24, seed=8, fault_rate=0.25, fault_seed=3) as running:
        for faults in (running.huma.faults, running.crona.faults):
            faults.kinds = ("500", "503", "drop")  # no slow answers: keep the suite fast
            faults.retry_after_s = 0
        operations = make_plan(running).operations
        creates = operations[operations["action"] == "create"]
        assert set(creates["target"]) == {"huma", "crona"}
        outcomes = pd.concat([apply_plan(huma(running.huma_url), "huma", operations),
                              apply_plan(crona(running.crona_url), "crona", operations)], ignore_index=True)
        assert sum(running.huma.faults.counts.values()) and sum(running.crona.faults.counts.values())
        assert max(company_members(running).values()) == 1
        crona_emails = Counter(e["EpostArb"].strip().lower() for e in running.crona.store.values("employees"))
        for target, email in creates[["target", "employee"]].drop_duplicates().itertuples(index=False):
            if target == "crona":
                assert crona_emails[email] == 1
            else:
                assert company_members(running)[email] == 1
        assert UNVERIFIED not in set(outcomes["status"])
        # whatever failed says so; a create that went through recorded its id
        applied_creates = outcomes[(outcomes["action"] == "create") & (outcomes["status"] == APPLIED)]
        assert applied_creates["created_id"].notna().all()


def test_verification_reports_a_value_that_reads_back_differently_with_bank_accounts_masked():
    with sandboxes(employees=12, seed=9) as running:
        person, other = matched(running, 2)
        crona_ops = ops(("crona", "update", person["email"], person["crona"], "bank_account", ACCOUNT_B),
                        ("crona", "update", person["email"], person["crona"], "private_email", "right@example.org"),
                        ("crona", "update", other["email"], other["crona"], "private_email", "other@example.org"))
        huma_ops = ops(("huma", "update", person["email"], person["huma"], "job_title", "Verified Title"),
                       ("huma", "update", person["email"], person["huma"], "bank_account", ACCOUNT_A))

        async def crona_side():
            async with crona(running.crona_url) as client:
                written = await write_crona(client, crona_ops)
                assert (written["status"] == APPLIED).all()
                # someone changes the employee between the write and the read-back
                await client.patch_employee(person["crona"], {"UtbetClearNr": "6789", "UtbetKontoNr": "123456789",
                                                              "EpostPriv": "changed@example.org"})
                return await verify_crona(client, written)

        out = run(crona_side())
        assert list(out["status"]) == [UNVERIFIED, UNVERIFIED, APPLIED]
        assert "expected '•••• 6782', found '•••• 6789'" in out.loc[0, "error"]
        assert "expected 'right@example.org', found 'changed@example.org'" in out.loc[1, "error"]

        async def huma_side():
            async with huma(running.huma_url) as client:
                written = await write_huma(client, huma_ops)
                assert (written["status"] == APPLIED).all()
                positions = await client.list_positions(person["huma"])
                from humacrona_pipeline.connectors.huma import current_position
                other_title = (await client.list_job_titles())[0]
                await client.patch_position(person["huma"], current_position(positions)["id"],
                                            {"titleId": other_title["id"]})
                return await verify_huma(client, written), other_title["name"]

        out, other_name = run(huma_side())
        assert list(out["status"]) == [UNVERIFIED, APPLIED]
        assert f"expected 'Verified Title', found '{other_name}'" in out.loc[0, "error"]


def test_no_outcome_error_shows_a_full_bank_account(caplog):
    caplog.set_level(logging.DEBUG, logger="humacrona")
    with sandboxes(employees=12, seed=10) as running:
        person, = matched(running, 1)
        # the refusal echoes the account in every grouping people write it in
        echo = "UtbetKontoNr 0123456782 / 83279-0123456782 / 012 345 678-2 is blocked"
        running.crona.reject_writes(person["email"], message=echo, falt=["UtbetKontoNr"])
        running.huma.reject_writes(person["email"], message=echo)
        outcomes = []
        for target, client, record in (("crona", crona(running.crona_url), person["crona"]),
                                       ("huma", huma(running.huma_url), person["huma"])):
            operations = ops((target, "update", person["email"], record, "bank_account", ACCOUNT_B),
                             (target, "update", person["email"], record, "private_email", "x@example.org"))
            outcomes.append(apply_plan(client, target, operations))
        out = pd.concat(outcomes, ignore_index=True)
        assert (out["status"] == FAILED).all()
        text = " ".join(out["error"]) + caplog.text
        assert "0123456782" not in text and "012 345 678-2" not in text and "012345678" not in text
        assert "•••• 6782" in text and "is blocked" in text
