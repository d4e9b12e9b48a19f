"""The outcome of applying a sync plan: one row per planned operation, saying what became of it.

The write-back (`connectors.writeback`) produces this table, verification amends it, the audit ledger
(`state.ledger`) stores it and the report (`report`) shows it. Values are full here, as in the plan: show
them through `core.display`, and the ledger masks them before storing."""

from __future__ import annotations

import pandas as pd

from .plan_columns import PLAN_COLUMNS

APPLIED = "applied"  # written, and (after verification) read back as planned
FAILED = "failed"  # the system refused the write or could not be reached; `error` says what it answered
SKIPPED = "skipped"  # not attempted: a held bank-account change, or an employee whose create failed; `error` says why
UNVERIFIED = "unverified"  # written, but reading it back gave another value (`error` says which)
DRIFTED = "drifted"  # of a reviewed plan, not written: the employee changed since the review (`error` says how)
# written into a PAXml import file (Crona's file channel), not yet seen in Crona: the next sync reads Crona's new
# export and marks it applied or not applied; `error` names the file and what the administrator must do
AWAITING_IMPORT = "awaiting import"
STATUSES = (APPLIED, FAILED, SKIPPED, UNVERIFIED, DRIFTED, AWAITING_IMPORT)

# The plan's columns, then what happened: `status`, `error` (the API's answer or the reason), `at` (UTC ISO
# time the operation ended) and `created_id` (the record id a create got: Huma's user id, Crona's AnstNr).
OUTCOME_COLUMNS = (*PLAN_COLUMNS, "status", "error", "at", "created_id")


def empty_outcomes() -> pd.DataFrame:
    return pd.DataFrame(columns=list(OUTCOME_COLUMNS)).astype(object)
