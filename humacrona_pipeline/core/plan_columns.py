"""The columns of a sync plan and the values its `action` and not-planned `category` columns hold: the words
every reader of a plan (the write-back, the report, the launch summary) counts by."""

from __future__ import annotations

__all__ = ["ACTIONS", "BANK_HOLD_RULE", "CREATE", "HELD", "LEFT_OUT", "NOT_ALLOWED", "NOT_CREATABLE", "NOT_MATCHED",
           "NOT_PLANNED_COLUMNS", "PLAN_COLUMNS", "POLICY_DECISION", "SKIP_CATEGORIES", "UNREADABLE", "UPDATE"]

CREATE, UPDATE, HELD = "create", "update", "held"
ACTIONS = (CREATE, UPDATE, HELD)
PLAN_COLUMNS = ("target", "action", "employee", "record_id", "field", "current_value", "new_value", "rule")
NOT_PLANNED_COLUMNS = ("employee", "target", "field", "category", "reason")
# Why something is not planned, coarsely (for counting; `reason` says it exactly):
POLICY_DECISION = "policy decision"  # skip, leave, never_clear, not selected for creation
NOT_ALLOWED = "not allowed"  # invalid (quarantined) value, or a rule of the target system
NOT_CREATABLE = "cannot be created"  # a one-sided employee the target cannot hold
LEFT_OUT = "left out of a create"  # one value of an employee that is created without it
NOT_MATCHED = "not matched"  # a record that could not be matched by work email
UNREADABLE = "unreadable"  # either side's record of the employee could not be read (`core.unreadable`)
SKIP_CATEGORIES = (POLICY_DECISION, NOT_ALLOWED, NOT_CREATABLE, LEFT_OUT, NOT_MATCHED, UNREADABLE)
BANK_HOLD_RULE = "hold_bank_account_changes"
