"""The run's verdict, after everything else was applied and reported: a sync in which any write failed or
did not read back as written fails here, so Dagster shows the run as failed."""

import dagster as dg

from .assets import sync_report


@dg.asset_check(asset=sync_report, blocking=True,
                description="Every operation of the sync was applied and verified (none failed or unverified).")
def sync_applied_cleanly(sync_report: dict) -> dg.AssetCheckResult:
    statuses = sync_report["statuses"]
    bad = {s: n for s, n in statuses.items() if s in ("failed", "unverified") and n}
    metadata = {"report_path": sync_report["report_path"], **{s: int(n) for s, n in statuses.items()}}
    if bad:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
            description=", ".join(f"{n} {s}" for s, n in bad.items()) + f"; see {sync_report['report_path']}")
    return dg.AssetCheckResult(passed=True, metadata=metadata,
                               description="nothing to write: converged" if sync_report["converged"]
                               else "every operation applied and verified")
