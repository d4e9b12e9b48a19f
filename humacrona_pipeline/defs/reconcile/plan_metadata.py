"""A plan as metadata: its operations and not-planned rows counted and listed (values masked), and the guard
figures. Shown by the `sync_plan` asset and by the `push_plan` op of `push_huma_changes` alike."""

from __future__ import annotations

import dagster as dg

from ...core.policy import Policy
from ..metadata import counts_md, list_md, markdown_table, share
from ..types import SyncPlan


def plan_metadata(sync_plan: SyncPlan, policy: Policy) -> dict:
    """Operations and not-planned rows counted and listed (values masked), and the guard figures."""
    from ...core.display import display_frame
    from ...core.plan import HELD

    ops, skipped = sync_plan.operations, sync_plan.not_planned
    violations = sync_plan.guard_violations(policy)
    return {
        "dagster/row_count": len(ops),
        "operations": len(ops),
        "operations_by_target_and_action": counts_md(ops, ["target", "action"]),
        "operations_by_target_action_field": counts_md(ops, ["target", "action", "field"]),
        "held": int((ops["action"] == HELD).sum()),
        "not_planned": len(skipped),
        "not_planned_by_category": counts_md(skipped, ["category"]),
        "matched_employees": sync_plan.matched_employees,
        "updated_employees": sync_plan.updated_employees(),
        "created_employees": sync_plan.created_employees(),
        "update_share": share(sync_plan.update_share()),
        "max_update_share": share(policy.max_update_share),
        "max_creates": policy.max_creates,
        "approve_mass_change": policy.approve_mass_change,
        "guard_violations": list_md(violations),
        "operations_preview": dg.MetadataValue.md(markdown_table(display_frame(ops, ("current_value", "new_value")))),
        "not_planned_preview": dg.MetadataValue.md(markdown_table(skipped)),
    }
