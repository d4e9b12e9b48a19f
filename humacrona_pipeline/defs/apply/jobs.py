"""`sync_users`: the administrator's "Synchronize users" — extract, reconcile, plan, apply, verify, report, email."""

from __future__ import annotations

import dagster as dg

sync_users_job = dg.define_asset_job(
    "sync_users",
    selection=dg.AssetSelection.groups("extract", "canonical", "reconcile", "apply"),
    description="Read both systems, plan with the policy (the `policy` resource), write the plan to Huma and "
    "Crona Lön, verify every write, record it in the audit ledger, and report by HTML and email. Stops before "
    "writing when the plan exceeds the policy's guards.",
)
