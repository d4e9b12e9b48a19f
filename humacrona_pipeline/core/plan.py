"""The sync plan: every write the policy asks for, and everything that will not be written, with the reason.

Rules that hold whatever the policy says: AnstNr is never updated in Crona; nothing quarantined (invalid)
goes anywhere; a phone or employment ID another Huma user holds (or is about to get) is not given to a
second one; a Crona address without an ISO country is not sent to Huma (it is quarantined); an employee
missing a field the target requires is not created; dates never end before they start. A changed salary
account for an existing Crona employee is `held` unless the policy approves it for that employee."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .canonical import CanonicalTable
from .fields import BY_NAME, CRONA, FIELDS, HUMA, HUMA_POSITION_FIELDS, HUMA_POSITION_NEEDS, SYSTEM_NAMES, other_side
from .huma_holders import HumaHolders
from .plan_columns import (
    ACTIONS,
    BANK_HOLD_RULE,
    CREATE,
    HELD,
    LEFT_OUT,
    NOT_ALLOWED,
    NOT_CREATABLE,
    NOT_MATCHED,
    NOT_PLANNED_COLUMNS,
    PLAN_COLUMNS,
    POLICY_DECISION,
    SKIP_CATEGORIES,
    UNREADABLE,
    UPDATE,
)
from .policy import FILL, FOLLOW_WINNER, LEAVE, Policy
from .reconcile import CONFLICT, CRONA_ONLY, HUMA_ONLY, MATCHED, MISSING_IN_HUMA, UNMATCHED, Reconciliation
from .unreadable import is_unreadable
from .wording import percent, plural

# The plan's columns and words live in `core.plan_columns`; they stay importable from here, where most
# readers look.
__all__ = ["ACTIONS", "BANK_HOLD_RULE", "CREATE", "HELD", "LEFT_OUT", "NOT_ALLOWED", "NOT_CREATABLE", "NOT_MATCHED",
           "NOT_PLANNED_COLUMNS", "PLAN_COLUMNS", "POLICY_DECISION", "SKIP_CATEGORIES", "SyncPlan", "UNREADABLE",
           "UPDATE", "plan"]


@dataclass
class SyncPlan:
    """``operations`` (`PLAN_COLUMNS`): one row per write. ``not_planned`` (`NOT_PLANNED_COLUMNS`): every
    conflict, one-sided or unmatched employee that gets no write, and why. Values are full (the writer needs
    them): show them through `core.display`.

    A reviewed plan applied later (`core.review.rebuild`) also carries ``drifted`` (`core.review.DRIFT_COLUMNS`:
    operations not written because their employee changed since the review, values masked), the run that made
    it and the ``basis`` the write-back checks each employee against right before writing it."""

    operations: pd.DataFrame
    not_planned: pd.DataFrame
    matched_employees: int
    drifted: pd.DataFrame | None = None
    reviewed_run_id: str | None = None
    basis: dict | None = None

    def __repr__(self) -> str:  # never the values: they include full bank accounts
        return (f"SyncPlan(operations={len(self.operations)}, not_planned={len(self.not_planned)},"
                f" matched_employees={self.matched_employees})")

    def updated_employees(self) -> int:
        ops = self.operations
        return ops.loc[ops["action"].isin((UPDATE, HELD)), "employee"].nunique()

    def created_employees(self) -> int:
        ops = self.operations
        return ops.loc[ops["action"] == CREATE, ["target", "employee"]].drop_duplicates().shape[0]

    def update_share(self) -> float:
        return self.updated_employees() / self.matched_employees if self.matched_employees else 0.0

    def guard_violations(self, policy: Policy) -> list[str]:
        """What exceeds the policy's guards (empty when within them)."""
        problems = []
        if self.update_share() > policy.max_update_share:
            problems.append(
                f"{self.updated_employees()} of {plural(self.matched_employees, 'matched employee')} would be"
                f" updated ({percent(self.update_share())}), more than max_update_share"
                f" {percent(policy.max_update_share)}")
        if self.created_employees() > policy.max_creates:
            problems.append(f"{plural(self.created_employees(), 'employee')} would be created, more than max_creates"
                            f" {policy.max_creates}")
        return problems


class _Planner:
    def __init__(self, rec: Reconciliation, policy: Policy) -> None:
        self.rec = rec
        self.policy = policy
        self.ops: list[dict] = []
        self.skipped: list[dict] = []
        self.tables = {HUMA: rec.huma, CRONA: rec.crona}
        # Values of fields unique in Huma that a Huma user holds or a planned write gives to someone.
        self.claimed = {f.name: HumaHolders(rec.huma, f.name) for f in FIELDS if f.unique_in_huma}

    # -- recording -------------------------------------------------------------------------------------

    def op(self, target: str, action: str, employee: str, record_id: object, field_name: str, current: object,
           new: object, rule: str) -> None:
        self.ops.append({"target": target, "action": action, "employee": employee, "record_id": record_id,
                         "field": field_name, "current_value": current, "new_value": new, "rule": rule})

    def skip(self, employee: object, target: str | None, field_name: str | None, reason: str,
             category: str = NOT_ALLOWED) -> None:
        self.skipped.append({"employee": employee, "target": target, "field": field_name, "category": category,
                             "reason": reason})

    def claim(self, target: str, field_name: str, value: object, owner: str) -> str | None:
        """Reserve a Huma-unique value for ``owner``; the reason it cannot be, else None."""
        if target != HUMA or field_name not in self.claimed or value is None:
            return None
        holder = self.claimed[field_name].get(value)
        if holder is not None and holder != owner:
            return f"{BY_NAME[field_name].label} {value} is already held by, or planned for, Huma user {holder}"
        self.claimed[field_name][value] = owner
        return None

    # -- updates of matched employees -------------------------------------------------------------------

    def update(self, row, target: str, rule: str, *, clear: bool = False) -> None:
        f = BY_NAME[row.field]
        source_value = None if clear else (row.huma_value if target == CRONA else row.crona_value)
        current = row.crona_value if target == CRONA else row.huma_value
        record_id = row.crona_id if target == CRONA else row.huma_id
        allowed = row.to_crona if target == CRONA else row.to_huma
        if not clear and not allowed:
            why = row.why_not_to_crona if target == CRONA else row.why_not_to_huma
            self.skip(row.employee, target, row.field, why or f"the value may not go to {SYSTEM_NAMES[target]}")
            return
        if clear and (f.required_in(target) or (target == CRONA and f.immutable_in_crona)):
            self.skip(row.employee, target, row.field,
                      f"{SYSTEM_NAMES[target]} cannot hold an employee without a {f.label}")
            return
        owner = row.huma_id
        problem = self.claim(target, row.field, source_value, owner)
        if problem:
            self.skip(row.employee, target, row.field, problem)
            return
        action = UPDATE
        if (target == CRONA and f.name == "bank_account" and current is not None
                and self.holds_bank_change(row.employee)):
            action, rule = HELD, f"{rule}; {BANK_HOLD_RULE}"
        self.op(target, action, row.employee, record_id, row.field, current, source_value, rule)

    def holds_bank_change(self, email: str) -> bool:
        return self.policy.hold_bank_account_changes and not self.policy.bank_change_approved(email)

    def conflict(self, row) -> None:
        winner, rule = self.policy.winner(row.employee, row.field)
        if winner == "skip":
            self.skip(row.employee, None, row.field, f"{rule}: skip (no side wins)", POLICY_DECISION)
            return
        self.update(row, other_side(winner), rule)

    def missing(self, row) -> None:
        has = CRONA if row.kind == MISSING_IN_HUMA else HUMA
        lacks = other_side(has)
        rule = self.policy.missing_values
        if rule == LEAVE:
            self.skip(row.employee, lacks, row.field, "missing_values: leave", POLICY_DECISION)
            return
        if rule == FILL:
            self.update(row, lacks, "missing_values: fill")
            return
        assert rule == FOLLOW_WINNER
        winner, winner_rule = self.policy.winner(row.employee, row.field)
        if winner == "skip":
            self.skip(row.employee, None, row.field, f"{winner_rule}: skip (no side wins)", POLICY_DECISION)
        elif winner == has:
            self.update(row, lacks, f"missing_values: follow_winner; {winner_rule}")
        elif self.policy.never_clear:
            self.skip(row.employee, has, row.field,
                      f"never_clear: {SYSTEM_NAMES[lacks]} has no {BY_NAME[row.field].label} and"
                      f" {SYSTEM_NAMES[has]}'s is not cleared", POLICY_DECISION)
        else:
            self.update(row, has, f"missing_values: follow_winner; {winner_rule}", clear=True)

    # -- one-sided employees ----------------------------------------------------------------------------

    def create(self, match_row, source: CanonicalTable, target: str) -> None:
        email = match_row.employee
        can = match_row.can_create_in_crona if target == CRONA else match_row.can_create_in_huma
        wanted, rule = self.policy.creates(target, email)
        if not wanted:
            self.skip(email, target, None, f"{rule}: not created in {SYSTEM_NAMES[target]}", POLICY_DECISION)
            return
        if not can:
            self.skip(email, target, None, match_row.reason or f"cannot be created in {SYSTEM_NAMES[target]}",
                      NOT_CREATABLE)
            return
        if target == HUMA and not self.__dict__.get("_created_prefetched"):
            self.prefetch_created()
        record_id = match_row.huma_id if source.side == HUMA else match_row.crona_id
        index = self.position[source.side][record_id]
        values = source.frame.loc[index]
        quarantined = self.quarantine[source.side].loc[index]
        reasons = self.quarantine_reasons[source.side]
        owner = f"new:{email}"
        creates: list[tuple] = []
        clears: list[tuple] = []
        claimed: list[str] = []
        for f in FIELDS:
            value = values[f.name]
            if value is None:
                continue
            if quarantined[f.name]:
                self.skip(email, target, f.name, f"left out of the new {SYSTEM_NAMES[target]} employee: "
                          f"{reasons.get((record_id, f.name), 'quarantined')}", LEFT_OUT)
                clear_rule = self.clears_left_out(email, f, source.side, target)
                if clear_rule:
                    action = UPDATE
                    if source.side == CRONA and f.name == "bank_account" and self.holds_bank_change(email):
                        action, clear_rule = HELD, f"{clear_rule}; {BANK_HOLD_RULE}"
                    clears.append((source.side, action, email, record_id, f.name, value, None, clear_rule))
                continue
            problem = self.claim(target, f.name, value, owner)
            if problem:
                if f.required_in(target):
                    self.skip(email, target, None, f"not created: {problem}", NOT_CREATABLE)
                    for name in claimed:  # nothing of this employee is planned: release what it reserved
                        self.claimed[name].pop(values[name], None)
                    return
                self.skip(email, target, f.name, f"left out of the new {SYSTEM_NAMES[target]} employee: {problem}",
                          LEFT_OUT)
                continue
            if f.name in self.claimed:
                claimed.append(f.name)
            creates.append((target, CREATE, email, None, f.name, None, value, rule))
        for op in creates + clears:
            self.op(*op)

    def prefetch_created(self) -> None:
        """Look up at once, in Huma, the Huma-unique values of every Crona employee that may be created there."""
        self.__dict__["_created_prefetched"] = True
        rec = self.rec
        created = rec.matches.loc[rec.matches["status"] == CRONA_ONLY, "crona_id"].dropna().to_numpy()
        at = rec.crona.positions(created)
        for name, holders in self.claimed.items():
            holders.prefetch(rec.crona.frame[name].to_numpy()[at[at >= 0]])

    def clears_left_out(self, email: str, f, source: str, target: str) -> str | None:
        """The rule that clears, at the source, a value left out of a created employee, as the same policy
        would on the next run once both sides hold the employee (None when it would not)."""
        if self.policy.missing_values != FOLLOW_WINNER or self.policy.never_clear:
            return None
        winner, winner_rule = self.policy.winner(email, f.name)
        if winner != target or f.required_in(source) or (source == CRONA and f.immutable_in_crona):
            return None
        return f"missing_values: follow_winner; {winner_rule}"

    # -- the whole plan ---------------------------------------------------------------------------------

    def run(self) -> SyncPlan:
        rec = self.rec
        one_sided = rec.matches[rec.matches["status"].isin((HUMA_ONLY, CRONA_ONLY))]
        self.position = {}
        for side, t in self.tables.items():
            ids = one_sided["huma_id" if side == HUMA else "crona_id"].dropna().to_numpy()
            at = t.positions(ids)
            self.position[side] = dict(zip(ids[at >= 0], t.frame.index[at[at >= 0]]))
        # The Huma-unique values an update may give to a Huma user: looked up in Huma at once.
        for name, holders in self.claimed.items():
            holders.prefetch(rec.conflicts.loc[rec.conflicts["field"] == name, "crona_value"].dropna().to_numpy())
        self.quarantine = {HUMA: rec.huma.quarantined(), CRONA: rec.crona.quarantined()}
        self.quarantine_reasons = {side: {(r, f): reason for r, f, reason in zip(
            t.quarantine["record_id"], t.quarantine["field"], t.quarantine["reason"])}
            for side, t in self.tables.items()}
        for row in rec.conflicts.itertuples(index=False):
            if row.kind == CONFLICT:
                self.conflict(row)
            else:
                self.missing(row)
        for row in rec.matches[rec.matches["status"] != MATCHED].itertuples(index=False):
            if row.status == HUMA_ONLY:
                self.create(row, rec.huma, CRONA)
            elif row.status == CRONA_ONLY:
                self.create(row, rec.crona, HUMA)
            elif row.status == UNMATCHED:
                why = UNREADABLE if is_unreadable(row.reason) else NOT_MATCHED
                self.skip(row.employee, None, None, row.reason, why)
        self.dates_in_order()
        self.positions_complete()
        operations = pd.DataFrame(self.ops, columns=list(PLAN_COLUMNS))
        not_planned = pd.DataFrame(self.skipped, columns=list(NOT_PLANNED_COLUMNS))
        matched = int((rec.matches["status"] == MATCHED).sum())
        return SyncPlan(operations, not_planned, matched)

    def positions_complete(self) -> None:
        """Drop planned Huma position writes for a user without a position who would still lack a value Huma
        needs to create one (start date and job title): Huma cannot hold the others without it."""
        at = [i for i, op in enumerate(self.ops) if op["target"] == HUMA and op["field"] in HUMA_POSITION_FIELDS]
        if not at:
            return
        frame = self.rec.huma.frame
        wanted = list({self.ops[i]["record_id"] for i in at if self.ops[i]["action"] != CREATE})
        index = {record: k for record, k in zip(wanted, self.rec.huma.positions(wanted).tolist()) if k >= 0}
        columns = {name: frame[name].to_numpy() for name in HUMA_POSITION_FIELDS}
        users: dict[str, dict] = {}
        for i in at:
            op = self.ops[i]
            user = users.get(op["employee"])
            if user is None:
                k = index.get(op["record_id"]) if op["action"] != CREATE else None
                current = {name: (None if k is None else columns[name][k]) for name in HUMA_POSITION_FIELDS}
                user = users[op["employee"]] = {"has_position": any(v is not None for v in current.values()),
                                                "values": current, "ops": [], "create": op["action"] == CREATE}
            user["values"][op["field"]] = op["new_value"]
            user["ops"].append(i)
        drop = set()
        for employee, user in users.items():
            lacking = [BY_NAME[name].label for name in HUMA_POSITION_NEEDS if user["values"][name] is None]
            if user["has_position"] or not lacking:
                continue
            drop.update(user["ops"])
            reason = (f"Huma keeps it on the user's position, and cannot create a position without a"
                      f" {' and a '.join(lacking)}")
            for i in user["ops"]:
                self.skip(employee, HUMA, self.ops[i]["field"],
                          f"left out of the new Huma employee: {reason}" if user["create"] else reason,
                          LEFT_OUT if user["create"] else NOT_ALLOWED)
                if user["create"]:
                    self.clear_at_source(employee, self.ops[i]["field"])
        if drop:
            self.ops = [op for i, op in enumerate(self.ops) if i not in drop]

    def clear_at_source(self, email: str, field_name: str) -> None:
        """A value left out of a new Huma employee is cleared in Crona when the policy would clear it once
        both systems hold the employee (as `create` does for a quarantined value)."""
        rule = self.clears_left_out(email, BY_NAME[field_name], CRONA, HUMA)
        if not rule:
            return
        crona_ids = self.__dict__.setdefault("_crona_only_ids", dict(zip(
            *self.rec.matches.loc[self.rec.matches["status"] == CRONA_ONLY, ["employee", "crona_id"]].T.to_numpy())))
        record_id = crona_ids[email]
        current = self.rec.crona.frame.at[self.position[CRONA][record_id], field_name]
        self.op(CRONA, UPDATE, email, record_id, field_name, current, None, rule)

    def dates_in_order(self) -> None:
        """Drop planned date writes that would leave an employee's end date before the start date."""
        dated = [i for i, op in enumerate(self.ops) if op["field"] in ("start_date", "end_date")]
        if not dated:
            return
        current = {}
        for side, table in self.tables.items():
            wanted = list({self.ops[i]["record_id"] for i in dated
                           if self.ops[i]["target"] == side and self.ops[i]["action"] != CREATE})
            at = table.positions(wanted)
            starts, ends = table.frame["start_date"].to_numpy()[at], table.frame["end_date"].to_numpy()[at]
            current[side] = dict(zip(wanted, zip(starts, ends)))
        final: dict[tuple, dict] = {}
        for i in dated:
            op = self.ops[i]
            key = (op["target"], op["employee"])
            if key not in final:
                start, end = current[op["target"]].get(op["record_id"], (None, None)) \
                    if op["action"] != CREATE else (None, None)
                final[key] = {"start_date": start, "end_date": end, "ops": []}
            final[key][op["field"]] = op["new_value"]
            final[key]["ops"].append(i)
        drop = set()
        for (target, employee), state in final.items():
            start, end = state["start_date"], state["end_date"]
            if start is not None and end is not None and end < start:
                drop.update(state["ops"])
                self.skip(employee, target, "end_date",
                          f"the planned dates would end the employment ({end}) before it starts ({start})"
                          f" in {SYSTEM_NAMES[target]}")
        if drop:
            self.ops = [op for i, op in enumerate(self.ops) if i not in drop]


def plan(rec: Reconciliation, policy: Policy) -> SyncPlan:
    """The plan for one reconciliation under one policy. Pure: nothing is written."""
    return _Planner(rec, policy).run()
