"""The run's verdict, after everything else was applied and reported: a sync in which any write failed or
did not read back as written fails here, so Dagster shows the run as failed. And, ahead of the write-back,
whether anybody confirmed the authority to connect the two systems (`connection_confirmed`)."""

import dagster as dg

from ...core.wording import plural
from ..connection import confirmation, connection_of, require_confirmed
from ..crona.resources import CronaResource
from ..huma.resources import HumaResource
from ..partitions import CONNECTION_PARTITIONS
from ..reconcile.assets import sync_plan
from .assets import sync_report
from .resources import LedgerResource


@dg.asset_check(asset=sync_report, blocking=True, partitions_def=CONNECTION_PARTITIONS,
                description="Every operation of the sync was applied and verified (none failed or unverified).")
def sync_applied_cleanly(sync_report: dict) -> dg.AssetCheckResult:
    from ...core.outcomes import AWAITING_IMPORT, DRIFTED

    statuses = sync_report["statuses"]
    bad = {s: n for s, n in statuses.items() if s in ("failed", "unverified") and n}
    metadata = {"report_path": sync_report["report_path"],
                **{s.replace(" ", "_"): int(n) for s, n in statuses.items()}}
    if bad:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
            description=", ".join(f"{n} {s}" for s, n in bad.items()) + f"; see {sync_report['report_path']}")
    drifted = int(statuses.get(DRIFTED, 0))
    if drifted:  # nothing went wrong, but the reviewed plan was not applied whole: the administrator looks
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
            description=f"{plural(drifted, 'operation')} of the reviewed plan not written: the employee changed"
            f" since the review (drifted); see {sync_report['report_path']}")
    awaiting = int(statuses.get(AWAITING_IMPORT, 0))
    if awaiting:  # nothing went wrong; Crona's part is in the administrator's hands (the PAXml channel)
        return dg.AssetCheckResult(
            passed=True, metadata=metadata,
            description=f"{plural(awaiting, 'operation')} written to the PAXml import file "
            f"{sync_report.get('import_file') or ''}, awaiting import in Crona Lön; the rest applied and verified")
    if sync_report["converged"]:
        return dg.AssetCheckResult(passed=True, metadata=metadata, description="nothing to write: converged")
    applied, skipped = int(statuses.get("applied", 0)), int(statuses.get("skipped", 0))
    text = "every operation written applied and verified" if applied else "nothing applied"
    if skipped:  # held, or not written with a reason the report gives: never "every operation applied"
        text += f"; {plural(skipped, 'operation')} skipped (see {sync_report['report_path']})"
    return dg.AssetCheckResult(passed=True, metadata=metadata,
                               description=text if skipped else "every operation applied and verified")


WRITEBACK_ASSETS = frozenset({dg.AssetKey("crona_writeback"), dg.AssetKey("huma_writeback")})


def _run_writes(context: dg.AssetCheckExecutionContext) -> bool:
    """Whether this run writes: it materialises a write-back (sync_users does; plan_sync, a dry run, does not)."""
    op_context = context.op_execution_context
    selection = op_context.run.asset_selection or op_context.job_def.asset_layer.selected_asset_keys
    return bool(WRITEBACK_ASSETS & set(selection))


@dg.asset_check(asset=sync_plan, blocking=True, partitions_def=CONNECTION_PARTITIONS,
                description="An administrator confirmed, with `humacrona check --confirm`, the authority to connect "
                "this Huma organisation and this Crona Lön company. A run that writes stops here when nobody did; "
                "a dry run (plan_sync) only warns.")
def connection_confirmed(context: dg.AssetCheckExecutionContext, huma: HumaResource, crona: CronaResource,
                         ledger: LedgerResource) -> dg.AssetCheckResult:
    connection = connection_of(huma, crona, ledger)
    found = confirmation(huma, crona, ledger)
    if found is not None:
        return dg.AssetCheckResult(passed=True, description=f"confirmed by {found.confirmed_by} at {found.confirmed_at}"
                                   " (UTC)", metadata={"confirmed_by": found.confirmed_by,
                                                       "confirmed_at": found.confirmed_at,
                                                       "connection": connection.described()})
    if _run_writes(context):  # fail the step with the how-to as its first line, so nothing downstream writes
        require_confirmed(huma, crona, ledger)
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                               description=connection.not_confirmed_line() + " (this run writes nothing; sync_users"
                               " refuses to write until then)", metadata={"connection": connection.described()})
