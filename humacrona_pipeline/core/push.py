"""What a real-time push plans, without Dagster or HTTP: the Crona writes for just the Huma users a batch of
webhooks named, with the sync's own core (`core.canonical.build_table`, `core.reconcile.reconcile`,
`core.plan.plan`) under the push's policy (Huma wins), and the push's guards. `connectors.lookups` reads what it
plans from (`HumaChanges`); `defs.realtime.jobs` runs both as the `push_huma_changes` job and writes the result
with the sync's write-back.

A webhook is a signal, not the truth: each user's *current* details are read from the Huma API, whatever the
webhook body said. A user Huma no longer has (404) is reported; nothing is ever deleted in Crona. `users-update`
and `users-export` (Huma's "every user, with current values") both push the users' current values; only
`users-create` may create (with `auto_create_in_crona`); a user whose latest event is `users-delete` is
reported, not read. A Crona employee holding a pushed user's employment ID is in the table even when it is
somebody else, so the plan sees that the employment ID is taken (instead of a create that Crona refuses)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from . import normalise as norm
from .canonical import CanonicalTable, build_table
from .fields import CRONA, HUMA, MATCH_KEY, RECORD_ID_COLUMN
from .plan import HELD, UPDATE, SyncPlan, plan
from .policy import NONE, EmployeeOverride, Policy
from .reconcile import HUMA_ONLY, MATCHED, UNMATCHED, Reconciliation, reconcile
from .schemas import RECORD_ID
from .webhook_topics import USERS_CREATE, USERS_DELETE

# Up to this many users a push reads Crona employee by employee, and its updates are not held to
# max_update_share (see `push_guard_violations`); above it the Crona listing is read once.
SMALL_PUSH = 10

# One row per user of the batch that gets no write, and why.
NOT_PUSHED_COLUMNS = ("user_id", "employee", "topics", "reason")
# One row per user of the batch: what became of it (`pushed`, `in sync` or `not pushed`).
USER_COLUMNS = ("user_id", "employee", "topics", "result", "operations", "reason")
PUSHED, IN_SYNC, NOT_PUSHED = "pushed", "in sync", "not pushed"

DELETED_REASON = ("deleted in Huma (users-delete): humacrona never deletes or ends a Crona employee; end the"
                  " employment in Huma (contract end date) to send the end date to payroll, or handle it in Crona")
GONE_REASON = "no longer in Huma (404 on GET /users/{id}): nothing is pushed, and nothing is deleted in Crona"
ANSTNR_HELD = (f"not found in Crona by work email: Crona employee {RECORD_ID_COLUMN[CRONA]} {{anstnr}} (this"
               " employment ID) has the work email {other}; the work email is the match key, so correct it in"
               f" Crona ({MATCH_KEY.crona_columns[0]}) or in Huma")
NOT_CREATED_OFF = ("in Huma only, not in Crona: auto_create_in_crona is off, so nothing is created (turn it on,"
                   " or create the employee with sync_users and create_in_crona)")
NOT_CREATED_NO_EVENT = ("in Huma only, not in Crona: only a users-create event creates an employee in Crona"
                        " (with auto_create_in_crona); create it with sync_users and create_in_crona")


@dataclass(frozen=True)
class ChangedUser:
    """One user of a batch: the Huma user id, the work email the last event named, and the batch's topics for
    this user, each once, in the order of its last occurrence (so the last one is the latest)."""

    id: str
    email: str
    topics: tuple[str, ...]

    @property
    def deleted(self) -> bool:
        """Huma's latest word on this user is that it was deleted."""
        return bool(self.topics) and self.topics[-1] == USERS_DELETE

    @property
    def created(self) -> bool:
        """Huma created this user in the batch (and did not delete it again)."""
        return USERS_CREATE in self.topics and not self.deleted


def _not_pushed(rows: Iterable[tuple[ChangedUser, str | None, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"user_id": u.id, "employee": email or u.email or None, "topics": ", ".join(u.topics),
                          "reason": reason} for u, email, reason in rows],
                        columns=list(NOT_PUSHED_COLUMNS), dtype=object)


@dataclass
class HumaChanges:
    """What the push read: the batch's users, the current Huma rows of those Huma still has (the Huma extract's
    columns), their Crona employees (the Crona extract's columns), the number of Crona employees when the
    listing was read, and the users not pushed before planning (deleted, gone)."""

    users: list[ChangedUser]
    huma_rows: pd.DataFrame
    crona_rows: pd.DataFrame
    crona_employees: int | None
    not_pushed: pd.DataFrame

    def __repr__(self) -> str:  # never the values: they include full bank accounts
        return (f"HumaChanges(users={len(self.users)}, huma={len(self.huma_rows)}, crona={len(self.crona_rows)},"
                f" not_pushed={len(self.not_pushed)})")


def users_to_read(users: Sequence[ChangedUser]) -> list[ChangedUser]:
    """The users whose current details are read from Huma: all but those Huma's latest word deleted."""
    return [u for u in users if not u.deleted]


def collect_changes(users: Sequence[ChangedUser], current: Sequence[dict | str | None], huma_rows: pd.DataFrame,
                    crona_rows: pd.DataFrame, crona_employees: int | None) -> HumaChanges:
    """The push's input from what was read: ``current`` holds, for each of `users_to_read(users)` in order, its
    flattened Huma row, None when Huma answered 404, or the reason ("unreadable in Huma: …") it could not be
    read; ``huma_rows`` are the rows of ``current`` as a table."""
    wanted = users_to_read(users)
    deleted = [u for u in users if u.deleted]
    gone = [u for u, row in zip(wanted, current) if row is None]
    unreadable = [(u, None, row) for u, row in zip(wanted, current) if isinstance(row, str)]
    not_pushed = _not_pushed([*((u, None, DELETED_REASON) for u in deleted), *((u, None, GONE_REASON) for u in gone),
                              *unreadable])
    return HumaChanges(users=list(users), huma_rows=huma_rows, crona_rows=crona_rows,
                       crona_employees=crona_employees, not_pushed=not_pushed)


def push_policy(policy: Policy, created_emails: Iterable[str]) -> Policy:
    """The policy a push plans with: Huma wins every field, for every employee.

    Huma sent the webhook because its value changed, so Huma's is the newer value, and the push only ever goes
    Huma → Crona (Crona sends no webhooks; what changes in Crona reaches Huma through sync_users). The policy's
    winners settle conflicts of a full sync, where nobody knows which side changed last; here they would only
    stop a fresh change (a field winner `crona` would keep Crona's old value) or turn it around. So: default
    winner huma, no field winners, no per-employee winners. A value changed in Crona only and not yet synced
    back is overwritten when that employee is pushed: between syncs Huma is the master, as in Huma's own Crona
    integration.

    Everything that protects payroll stays as the policy says: missing_values, never_clear,
    hold_bank_account_changes with each employee's approve_bank_account_change, map_country_names, the guards.
    Creates: in Crona only the users Huma created in this batch, and only with auto_create_in_crona; in Huma
    never (only Crona-targeted operations are written anyway)."""
    created = tuple(sorted({e for e in (norm.email(x) for x in created_emails) if e}))
    return replace(
        policy,
        default_winner=HUMA,
        field_winners={},
        employees=tuple(EmployeeOverride(email=o.email, approve_bank_account_change=o.approve_bank_account_change)
                        for o in policy.employees if o.approve_bank_account_change),
        create_in_huma=NONE,
        create_in_crona=created if policy.auto_create_in_crona and created else NONE,
    )


@dataclass
class PushPlan:
    """The Crona writes of one push (`plan`: Crona-targeted operations only; `not_planned`: what of the pushed
    employees is not written to Crona, and why), one row per user of the batch (`users`, `USER_COLUMNS`), the
    users that get no write at all (`not_pushed`), the quarantined values of the pushed people, the policy
    the plan was made with, and the number of Crona employees when known."""

    plan: SyncPlan
    users: pd.DataFrame
    not_pushed: pd.DataFrame
    quarantine: pd.DataFrame
    policy: Policy
    crona_employees: int | None

    def __repr__(self) -> str:  # never the values
        return f"PushPlan(plan={self.plan!r}, users={len(self.users)}, not_pushed={len(self.not_pushed)})"


def _emails_by_huma_id(table: CanonicalTable) -> dict:
    return dict(zip(table.frame[RECORD_ID], table.frame[MATCH_KEY.name]))


def _crona_part(full: SyncPlan, pushed_rows: pd.DataFrame) -> tuple[SyncPlan, pd.DataFrame]:
    """The full plan cut to the pushed employees' Crona side: their Crona operations with the field-level rows
    not planned (`SyncPlan`), and the employee-level rows not planned (no field)."""
    pushed_emails = set(pushed_rows["employee"].dropna())
    ops = full.operations[(full.operations["target"] == CRONA) & full.operations["employee"].isin(pushed_emails)]
    skipped = full.not_planned
    skipped = skipped[skipped["employee"].isin(pushed_emails) & (skipped["target"] != HUMA)]
    field_skips = skipped[skipped["field"].notna()]
    matched = int((pushed_rows["status"] == MATCHED).sum())
    return (SyncPlan(ops.reset_index(drop=True), field_skips.reset_index(drop=True), matched),
            skipped[skipped["field"].isna()])


def _result(row, user: ChangedUser, operations: int, blocked: pd.DataFrame, holder: str | None,
            employee_skips: pd.DataFrame, rules: Policy, policy: Policy) -> tuple[str, str | None]:
    """What became of one pushed user (`PUSHED`, `IN_SYNC` or `NOT_PUSHED`) and, when not pushed, why."""
    if operations:  # an update or a create (what of it is not written is in `not_planned`)
        return PUSHED, None
    if row.status == MATCHED and blocked.empty:
        return IN_SYNC, None
    if row.status == MATCHED:  # differences that may not go to Crona
        return NOT_PUSHED, "; ".join(dict.fromkeys(f"{f}: {r}" for f, r in zip(blocked["field"], blocked["reason"])))
    if holder is not None:
        return NOT_PUSHED, ANSTNR_HELD.format(anstnr=row.employment_id, other=holder)
    if row.status == HUMA_ONLY and not rules.creates(CRONA, row.employee)[0]:
        return NOT_PUSHED, NOT_CREATED_NO_EVENT if policy.auto_create_in_crona and not user.created \
            else NOT_CREATED_OFF
    if row.status == UNMATCHED:
        return NOT_PUSHED, row.reason
    own = employee_skips[employee_skips["employee"] == row.employee]["reason"]
    return NOT_PUSHED, "; ".join(dict.fromkeys(own)) or row.reason or "nothing can be written to Crona"


def _user_rows(changes: HumaChanges, pushed_rows: pd.DataFrame, crona_plan: SyncPlan, employee_skips: pd.DataFrame,
               crona: CanonicalTable, rules: Policy, policy: Policy) -> tuple[list[dict], pd.DataFrame]:
    """One `USER_COLUMNS` row per user of the batch, and every user that gets no write (`NOT_PUSHED_COLUMNS`)."""
    by_id = {u.id: u for u in changes.users}
    op_counts = crona_plan.operations.groupby("employee").size().to_dict()
    field_skips = crona_plan.not_planned
    held = crona.frame[["employment_id", MATCH_KEY.name]].dropna(subset=["employment_id"])
    crona_holders = dict(zip(held["employment_id"], held[MATCH_KEY.name]))
    users, not_pushed = [], []
    for row in pushed_rows.itertuples(index=False):
        user, email = by_id[row.huma_id], row.employee
        n = int(op_counts.get(email, 0))
        holder = crona_holders.get(row.employment_id) if row.status == HUMA_ONLY else None
        result, reason = _result(row, user, n, field_skips[field_skips["employee"] == email], holder,
                                 employee_skips, rules, policy)
        if result == NOT_PUSHED:
            not_pushed.append((user, email, reason))
        users.append({"user_id": user.id, "employee": email, "topics": ", ".join(user.topics), "result": result,
                      "operations": n, "reason": reason})
    for gone in changes.not_pushed.itertuples(index=False):
        users.append({"user_id": gone.user_id, "employee": gone.employee, "topics": gone.topics,
                      "result": NOT_PUSHED, "operations": 0, "reason": gone.reason})
    not_pushed_frame = pd.concat([changes.not_pushed, _not_pushed(not_pushed)], ignore_index=True) \
        if not_pushed else changes.not_pushed
    return users, not_pushed_frame


def plan_push(changes: HumaChanges, policy: Policy) -> PushPlan:
    """Canonical tables of just the pushed people, reconciled and planned under `push_policy`; only the
    Crona-targeted operations are kept."""
    huma = build_table(changes.huma_rows, HUMA, map_country_names=policy.map_country_names)
    crona = build_table(changes.crona_rows, CRONA, map_country_names=policy.map_country_names)
    rec: Reconciliation = reconcile(huma, crona)
    emails = _emails_by_huma_id(huma)
    created = [emails.get(u.id) or u.email for u in changes.users if u.created]
    rules = push_policy(policy, created)
    pushed_rows = rec.matches[rec.matches["huma_id"].isin({u.id for u in changes.users})]
    crona_plan, employee_skips = _crona_part(plan(rec, rules), pushed_rows)
    users, not_pushed = _user_rows(changes, pushed_rows, crona_plan, employee_skips, crona, rules, policy)
    pushed_emails = set(pushed_rows["employee"].dropna())
    quarantine = pd.concat([huma.quarantine, crona.quarantine], ignore_index=True)
    quarantine = quarantine[quarantine["work_email"].isin(pushed_emails)].reset_index(drop=True)
    return PushPlan(crona_plan, pd.DataFrame(users, columns=list(USER_COLUMNS), dtype=object),
                    not_pushed.reset_index(drop=True), quarantine, rules, changes.crona_employees)


def push_guard_violations(push: PushPlan, policy: Policy) -> list[str]:
    """The policy's guards, as a push applies them (empty when within them).

    `max_creates` counts the employees the push would create in Crona, as in a full sync. `max_update_share`
    cannot mean what it means there: a push's employees are in it because they changed, so against the pushed
    employees the share is always near 100 %. It counts against every employee Crona has instead (what the
    guard is for: a large part of payroll rewritten at once), and only for pushes that update more than
    `SMALL_PUSH` employees: a handful of employees Huma named one by one is no mass change, and checking
    them would need the whole Crona listing on every push. Each push (batch) is checked on its own.
    `approve_mass_change` lets a push beyond them through, as in a full sync."""
    ops = push.plan.operations
    updated = ops.loc[ops["action"].isin((UPDATE, HELD)), "employee"].nunique()
    rules = policy
    if updated <= SMALL_PUSH:
        rules = replace(policy, max_update_share=1.0)
    elif push.crona_employees is None:  # unreachable: a push of more than SMALL_PUSH users reads the listing
        raise ValueError("the number of Crona employees is needed to check max_update_share")
    basis = SyncPlan(ops, push.plan.not_planned, push.crona_employees or 0)
    return basis.guard_violations(rules)


__all__ = ["ChangedUser", "HumaChanges", "PushPlan", "SMALL_PUSH", "collect_changes", "plan_push",
           "push_guard_violations", "push_policy", "users_to_read"]
