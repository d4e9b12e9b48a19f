"""`plan_sync`: extract both systems, build the canonical tables, reconcile and plan. Writes nothing."""

from __future__ import annotations

import dagster as dg

plan_sync_job = dg.define_asset_job(
    "plan_sync",
    selection=dg.AssetSelection.groups("extract", "canonical", "reconcile"),
    description="Read both systems, validate, match, list every conflict and plan the sync the policy asks "
    "for, with its checks; writes nothing to Huma or Crona.",
)
