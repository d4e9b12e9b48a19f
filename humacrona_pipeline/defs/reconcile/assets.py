"""Reconciliation: match the canonical tables by work email, list every conflict, and plan the sync the
policy asks for. Nothing here writes to either system; the plan is what a sync would do. The work is
`core.reconcile`'s and `core.plan`'s; these assets run it and show it with every value masked as
`core.display` shows it."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from ...core.wording import plural
from ..apply.resources import LedgerResource
from ..crona.resources import CronaResource
from ..huma.resources import HumaResource
from ..metadata import counts, counts_md, frame_shape_metadata, markdown_table
from ..partitions import CONNECTION_PARTITIONS
from ..policy import SyncPolicy
from ..review import SyncPlanConfig, review_key
from ..types import CanonicalTable, DataFrame, SyncPlan
from .plan_metadata import plan_metadata

if TYPE_CHECKING:  # the state database (SQLAlchemy) is imported by the step that keeps the plan
    from ...state.plans import ReviewedPlans


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="reconcile",
    kinds={"python", "pandas"},
    description="One row per employee: matched by work email, in Huma only or Crona only (with whether it "
    "could be created on the other side and why not), or unmatched with the reason.",
)
def employee_matches(context: dg.AssetExecutionContext, huma_employees: CanonicalTable,
                     crona_employees: CanonicalTable) -> dg.Output[DataFrame]:
    from ...core.display import display_wide
    from ...core.reconcile import MATCHED, match

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
    partitions_def=CONNECTION_PARTITIONS,
    group_name="reconcile",
    kinds={"python", "pandas"},
    description="One row per matched employee and field whose values differ (conflict) or that one side "
    "lacks (missing_in_huma / missing_in_crona), with whether the value may go to Huma / to Crona and why not.",
)
def employee_conflicts(context: dg.AssetExecutionContext, huma_employees: CanonicalTable,
                       crona_employees: CanonicalTable, employee_matches: DataFrame) -> dg.Output[DataFrame]:
    from ...core.display import display_frame
    from ...core.reconcile import conflicts

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


def _drifted_metadata(sync_plan: SyncPlan) -> dict:
    drifted = sync_plan.drifted
    if sync_plan.reviewed_run_id is None or drifted is None:
        return {}
    return {
        "reviewed_plan": sync_plan.reviewed_run_id,
        "drifted_employees": int(drifted["employee"].nunique()),
        "drifted_operations": len(drifted),
        "drifted": dg.MetadataValue.md(markdown_table(
            drifted.drop_duplicates("employee")[["employee", "reason"]])),
    }


def _reviewed(context: dg.AssetExecutionContext, run_id: str, huma_employees: CanonicalTable,
              crona_employees: CanonicalTable, key: bytes, store: "ReviewedPlans") -> SyncPlan:
    """The plan run ``run_id`` kept, against the values read now (`core.review.rebuild`)."""
    from ...core.display import visible
    from ...core.review import rebuild
    from ...state.plans import KEPT_PLANS, AnotherConnectionsPlan

    try:
        reviewed = store.get(run_id)
    except AnotherConnectionsPlan as error:
        raise dg.Failure(description=f"the plan of run {visible(run_id)} cannot be applied: {error}",
                         allow_retries=False) from None
    except ValueError as error:
        raise dg.Failure(description=f"the plan of run {visible(run_id)} cannot be read: {error}",
                         allow_retries=False) from None
    if reviewed is None:
        raise dg.Failure(description=f"no plan is kept for run {visible(run_id)}: give the run id of a plan_sync"
                         f" run (`humacrona sync --dry-run` prints it; the {KEPT_PLANS} most recent are kept)",
                         allow_retries=False)
    try:
        result = rebuild(reviewed, huma_employees, crona_employees, key)
    except ValueError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    drifted = result.drifted
    context.log.info(f"applying the plan of run {run_id} as reviewed: {plural(len(result.operations), 'operation')}"
                     f" unchanged; {plural(drifted['employee'].nunique(), 'employee')} changed since the review"
                     f" ({plural(len(drifted), 'operation')} not written)")
    return result


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="reconcile",
    kinds={"python", "pandas"},
    deps=["interrupted_writes"],  # an interrupted run's pending writes are resolved first (defs.apply.interrupted)
    description="The sync the policy asks for: every write (create / update / held) and every conflict or "
    "one-sided employee that gets none, with the reason. Nothing is written; plan_within_guards checks it. "
    "Every plan is kept (no full salary account) so that sync_users can apply it as reviewed: config "
    "`reviewed_plan` = the plan_sync run's id.",
)
def sync_plan(context: dg.AssetExecutionContext, config: SyncPlanConfig, huma_employees: CanonicalTable,
              crona_employees: CanonicalTable, employee_matches: DataFrame, employee_conflicts: DataFrame,
              policy: SyncPolicy, huma: HumaResource, crona: CronaResource,
              ledger: LedgerResource) -> dg.Output[SyncPlan]:
    from ...core.plan import plan
    from ...core.reconcile import Reconciliation
    from ...core.review import keep
    from ...state.plans import ReviewedPlans

    options = policy.policy()
    key = review_key(huma, crona)
    store = ReviewedPlans(ledger.url, connection=ledger.connection)
    wanted = config.reviewed_plan.strip()
    if wanted:
        result = _reviewed(context, wanted, huma_employees, crona_employees, key, store)
    else:
        rec = Reconciliation(huma_employees, crona_employees, employee_matches, employee_conflicts)
        result = plan(rec, options)
        made_at = datetime.now(UTC).isoformat(timespec="seconds")
        kept = keep(result, huma_employees, crona_employees, key, context.run.run_id, made_at)
        try:
            store.keep(kept)
            applying = f"humacrona sync --plan {context.run.run_id}"
        except Exception as error:  # noqa: BLE001 - the database's; the plan stands, only applying it by id is lost
            applying = "not kept: cannot be applied by run id"
            context.log.warning(f"this plan could not be kept in the state database ({type(error).__name__}),"
                                " so it cannot be applied by its run id; sync_users plans anew")
    by_action = counts(result.operations, ["target", "action"])
    summary = ", ".join(f"{r.target} {r.action} {r.rows}" for r in by_action.itertuples(index=False)) or "none"
    context.log.info(f"planned operations: {summary}; not planned: {len(result.not_planned)}")
    return dg.Output(result, metadata={**plan_metadata(result, options), **_drifted_metadata(result),
                                       **({} if wanted else {"apply_exactly_this_plan": applying})})
