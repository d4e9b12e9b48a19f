"""The real-time push's planning (`core.push`), without Dagster or HTTP: who of a batch of webhooks is pushed,
who is in sync and who is not pushed and why; the policy a push plans with; its guards."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from humacrona_pipeline.core.plan import PLAN_COLUMNS, SyncPlan
from humacrona_pipeline.core.policy import EmployeeOverride, Policy
from humacrona_pipeline.core.push import (
    DELETED_REASON,
    GONE_REASON,
    IN_SYNC,
    NOT_CREATED_NO_EVENT,
    NOT_CREATED_OFF,
    NOT_PUSHED,
    PUSHED,
    SMALL_PUSH,
    ChangedUser,
    PushPlan,
    collect_changes,
    plan_push,
    push_guard_violations,
    push_policy,
    users_to_read,
)
from tests.core.core_testkit import crona_raw, huma_raw


def _huma(user_id: str, n: int, **values) -> dict:
    """A Huma user's raw row (the extract's names), employment ID 100<n>."""
    return {"id": user_id, "givenName": "Anna", "familyName": f"Berg{n}", "email": f"anna.berg{n}@nordljus.se",
            "employmentId": f"100{n}", **values}


def _crona(n: int, **values) -> dict:
    """A Crona employee's raw row (Crona's names), AnstNr 100<n>."""
    return {"AnstNr": f"100{n}", "FoNamn": "Anna", "EfNamn": f"Berg{n}", "EpostArb": f"anna.berg{n}@nordljus.se",
            **values}


def _plan(users: list[ChangedUser], huma: list[dict], crona: list[dict], policy: Policy | None = None) -> PushPlan:
    current = [next((row for row in huma if row["id"] == u.id), None) for u in users_to_read(users)]
    changes = collect_changes(users, current, huma_raw([r for r in current if isinstance(r, dict)]), crona_raw(crona),
                              None)
    return plan_push(changes, policy or Policy())


def _by_user(push: PushPlan) -> dict[str, tuple[str, int, str | None]]:
    return {row.user_id: (row.result, row.operations, row.reason) for row in push.users.itertuples(index=False)}


def test_each_user_of_the_batch_is_pushed_in_sync_or_not_pushed_with_the_reason():
    users = [ChangedUser("u1", "", ("users-update",)), ChangedUser("u2", "", ("users-update",)),
             ChangedUser("u3", "", ("users-update",)), ChangedUser("u4", "", ("users-update",)),
             ChangedUser("u5", "anna.berg5@nordljus.se", ("users-update", "users-delete")),
             ChangedUser("u6", "anna.berg6@nordljus.se", ("users-update",))]
    huma = [_huma("u1", 1, familyName="Lind"), _huma("u2", 2), _huma("u3", 3),
            _huma("u4", 4, email="anna.new4@nordljus.se")]
    crona = [_crona(1), _crona(2), _crona(4), _crona(7)]  # u3 only in Huma; u4's AnstNr held by its old email
    push = _plan(users, huma, crona, Policy(auto_create_in_crona=True))

    results = _by_user(push)
    assert results["u1"] == (PUSHED, 1, None)
    assert results["u2"] == (IN_SYNC, 0, None)
    assert results["u3"] == (NOT_PUSHED, 0, NOT_CREATED_NO_EVENT)  # only a users-create event creates
    assert results["u4"][0] == NOT_PUSHED and "AnstNr 1004" in results["u4"][2]
    assert "anna.berg4@nordljus.se" in results["u4"][2] and "(EpostArb)" in results["u4"][2]
    assert results["u5"] == (NOT_PUSHED, 0, DELETED_REASON)
    assert results["u6"] == (NOT_PUSHED, 0, GONE_REASON)
    assert list(push.plan.operations[["target", "action", "employee", "field", "new_value"]].itertuples(
        index=False, name=None)) == [("crona", "update", "anna.berg1@nordljus.se", "family_name", "Lind")]
    assert sorted(push.not_pushed["user_id"]) == ["u3", "u4", "u5", "u6"]


def test_only_a_users_create_with_auto_create_creates_in_crona():
    created = [ChangedUser("u3", "", ("users-create", "users-update"))]
    off = _by_user(_plan(created, [_huma("u3", 3)], []))
    assert off["u3"] == (NOT_PUSHED, 0, NOT_CREATED_OFF)
    on = _plan(created, [_huma("u3", 3)], [], Policy(auto_create_in_crona=True))
    assert _by_user(on)["u3"][:2] == (PUSHED, len(on.plan.operations))
    assert set(on.plan.operations["action"]) == {"create"} and set(on.plan.operations["target"]) == {"crona"}
    assert not (on.plan.operations["target"] == "huma").any()


def test_what_was_read_becomes_the_push_input():
    users = [ChangedUser("gone", "g@x.se", ("users-update",)), ChangedUser("odd", "o@x.se", ("users-update",)),
             ChangedUser("del", "d@x.se", ("users-delete",)), ChangedUser("ok", "", ("users-update",))]
    assert [u.id for u in users_to_read(users)] == ["gone", "odd", "ok"]  # a deleted user is not read
    reason = "unreadable in Huma: GET /users/odd answered 500"
    changes = collect_changes(users, [None, reason, _huma("ok", 1)], huma_raw([_huma("ok", 1)]), crona_raw([]), 3)
    assert list(changes.not_pushed[["user_id", "employee", "reason"]].itertuples(index=False, name=None)) == [
        ("del", "d@x.se", DELETED_REASON), ("gone", "g@x.se", GONE_REASON), ("odd", "o@x.se", reason)]
    assert changes.crona_employees == 3 and len(changes.huma_rows) == 1
    assert "anna" not in repr(changes)  # never the values


def test_the_push_policy_lets_huma_win_and_keeps_the_protections():
    base = Policy(default_winner="crona", field_winners={"phone": "crona", "bank_account": "skip"},
                  employees=(), never_clear=False, missing_values="follow_winner", max_creates=3,
                  create_in_crona="all", create_in_huma="all")
    base = replace(base, employees=(EmployeeOverride("a@x.se", winner="crona", approve_bank_account_change=True),
                                    EmployeeOverride("b@x.se", fields={"phone": "crona"})))
    off = push_policy(base, ["New@X.se"])
    assert off.winner("a@x.se", "phone")[0] == off.winner("b@x.se", "phone")[0] == "huma"
    assert off.winner("c@x.se", "bank_account") == ("huma", "default_winner")
    assert off.bank_change_approved("a@x.se") and not off.bank_change_approved("b@x.se")
    assert (off.never_clear, off.missing_values, off.max_creates) == (False, "follow_winner", 3)
    assert off.create_in_huma == "none" and off.create_in_crona == "none"  # auto_create_in_crona is off
    on = push_policy(replace(base, auto_create_in_crona=True), ["New@X.se"])
    assert on.create_in_crona == ("new@x.se",) and on.create_in_huma == "none"
    assert push_policy(replace(base, auto_create_in_crona=True), []).create_in_crona == "none"


def _push_updating(employees: int, crona_employees: int | None, creates: int = 0) -> PushPlan:
    rows = [{"target": "crona", "action": "update", "employee": f"e{k}@x.se", "record_id": str(k),
             "field": "phone", "current_value": None, "new_value": "+46701234567", "rule": "default_winner"}
            for k in range(employees)]
    rows += [{"target": "crona", "action": "create", "employee": f"n{k}@x.se", "record_id": None,
              "field": "given_name", "current_value": None, "new_value": "N", "rule": "create_in_crona: list"}
             for k in range(creates)]
    ops = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    plan = SyncPlan(ops, pd.DataFrame(columns=["employee", "target", "field", "category", "reason"]), employees)
    return PushPlan(plan, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), Policy(), crona_employees)


def test_the_share_guard_counts_against_every_crona_employee_and_only_for_larger_pushes():
    policy = Policy()  # max_update_share 0.2, max_creates 50
    assert push_guard_violations(_push_updating(SMALL_PUSH, None), policy) == []  # every one pushed: no mass change
    assert push_guard_violations(_push_updating(SMALL_PUSH + 1, 1000), policy) == []
    (problem,) = push_guard_violations(_push_updating(SMALL_PUSH + 1, 30), policy)
    assert f"{SMALL_PUSH + 1} of 30" in problem and "max_update_share" in problem
    (problem,) = push_guard_violations(_push_updating(1, None, creates=3), replace(policy, max_creates=2))
    assert "max_creates" in problem


def test_changed_users_know_their_latest_topic():
    assert ChangedUser("u", "a@x.se", ("users-create", "users-update")).created
    gone = ChangedUser("u", "a@x.se", ("users-create", "users-delete"))
    assert gone.deleted and not gone.created
    back = ChangedUser("u", "a@x.se", ("users-delete", "users-create"))
    assert back.created and not back.deleted
