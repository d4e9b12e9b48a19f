"""Reconciliation: match the canonical tables by work email, list every conflict, and plan the sync the
policy asks for. Nothing here writes to either system; the plan is what a sync would do. The work is
`core.reconcile`'s and `core.plan`'s; these assets run it and show it with every value masked as
`core.display` shows it."""

import dagster as dg
import pandas as pd

from ...core.canonical import CanonicalTable
from ...core.display import display_frame, display_wide
from ...core.plan import HELD, SyncPlan, plan
from ...core.policy import Policy
from ...core.reconcile import MATCHED, Reconciliation, conflicts, match
from ...core.wording import plural
from ..metadata import counts, counts_md, frame_shape_metadata, list_md, markdown_table, share
from ..policy import SyncPolicy

@dg.asset(
    group_name="reconcile",
    kinds={"python", "pandas"},
    description="One row per employee: matched by work email, in Huma only or Crona only (with whether it "
    "could be created on the other side and why not), or unmatched with the reason.",
)
def employee_matches(context: dg.AssetExecutionContext, huma_employees: CanonicalTable,
                     crona_employees: CanonicalTable) -> dg.Output[pd.DataFrame]:
    matches = match(huma_employees, crona_employees)
    attention = matches[matches["status"] != MATCHED]
    context.log.info(f"{int((matches['status'] == MATCHED).sum())} matched, {len(attention)} not matched")
    return dg.Output(matches, metadata={
        **frame_shape_metadata(matches),
        "matched": int((matches["status"] == MATCHED).sum()),
        "by_status": counts_md(matches, ["status"]),
        "by_status_and_creatable": counts_md(attention, ["status", "can_create_in_huma", "can_create_in_crona"]),
        "not_matched": dg.MetadataValue.md(markdown_table(display_wide(attention))),
    })


@dg.asset(
    group_name="reconcile",
    kinds={"python", "pandas"},
    description="One row per matched employee and field whose values differ (conflict) or that one side "
    "lacks (missing_in_huma / missing_in_crona), with whether the value may go to Huma / to Crona and why not.",
)
def employee_conflicts(context: dg.AssetExecutionContext, huma_employees: CanonicalTable,
                       crona_employees: CanonicalTable, employee_matches: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    found = conflicts(huma_employees, crona_employees, employee_matches)
    shown = display_frame(found, ("huma_value", "crona_value"))
    context.log.info(f"{plural(len(found), 'conflict')} over {plural(found['employee'].nunique(), 'employee')}")
    return dg.Output(found, metadata={
        **frame_shape_metadata(found),
        "employees_with_conflicts": int(found["employee"].nunique()),
        "by_kind": counts_md(found, ["kind"]),
        "by_field_and_kind": counts_md(found, ["field", "kind"]),
        "blocked_to_huma": int((~found["to_huma"].astype(bool)).sum()),
        "blocked_to_crona": int((~found["to_crona"].astype(bool)).sum()),
        "conflicts": dg.MetadataValue.md(markdown_table(shown)),
    })


def plan_metadata(sync_plan: SyncPlan, policy: Policy) -> dict:
    """Operations and not-planned rows counted and listed (values masked), and the guard figures."""
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


@dg.asset(
    group_name="reconcile",
    kinds={"python", "pandas"},
    deps=["interrupted_writes"],  # an interrupted run's pending writes are resolved first (defs.apply.interrupted)
    description="The sync the policy asks for: every write (create / update / held) and every conflict or "
    "one-sided employee that gets none, with the reason. Nothing is written; plan_within_guards checks it.",
)
def sync_plan(context: dg.AssetExecutionContext, huma_employees: CanonicalTable, crona_employees: CanonicalTable,
              employee_matches: pd.DataFrame, employee_conflicts: pd.DataFrame,
              policy: SyncPolicy) -> dg.Output[SyncPlan]:
    options = policy.policy()
    rec = Reconciliation(huma_employees, crona_employees, employee_matches, employee_conflicts)
    result = plan(rec, options)
    by_action = counts(result.operations, ["target", "action"])
    summary = ", ".join(f"{r.target} {r.action} {r.rows}" for r in by_action.itertuples(index=False)) or "none"
    context.log.info(f"planned operations: {summary}; not planned: {len(result.not_planned)}")
    return dg.Output(result, metadata=plan_metadata(result, options))
