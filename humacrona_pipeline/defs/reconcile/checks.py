"""The guard on a plan: a sync that would touch more employees than the policy allows is stopped here,
before anything could write it, unless the policy approves a mass change (a first sync)."""

import dagster as dg

from ..metadata import list_md, share
from ..partitions import CONNECTION_PARTITIONS
from ..policy import SyncPolicy
from ..types import SyncPlan
from .assets import sync_plan


@dg.asset_check(asset=sync_plan, blocking=True, partitions_def=CONNECTION_PARTITIONS,
                description="The plan stays within max_update_share and max_creates, or approve_mass_change is on.")
def plan_within_guards(sync_plan: SyncPlan, policy: SyncPolicy) -> dg.AssetCheckResult:
    options = policy.policy()
    violations = sync_plan.guard_violations(options)
    metadata = {
        "matched_employees": sync_plan.matched_employees,
        "updated_employees": sync_plan.updated_employees(),
        "update_share": share(sync_plan.update_share()),
        "max_update_share": share(options.max_update_share),
        "created_employees": sync_plan.created_employees(),
        "max_creates": options.max_creates,
        "approve_mass_change": options.approve_mass_change,
        "guard_violations": list_md(violations),
    }
    if not violations:
        return dg.AssetCheckResult(passed=True, metadata=metadata, description="within the guards")
    if options.approve_mass_change:
        return dg.AssetCheckResult(passed=True, metadata=metadata,
                                   description="beyond the guards, approved by approve_mass_change: "
                                   + "; ".join(violations))
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                               description="; ".join(violations) + " (set approve_mass_change to allow it)")
