"""One blocking check per pandera schema (PUDL's pattern: the check validates the asset's value against
the model and reports every failure case). A table with schema errors, or with more quarantined
employees than the policy's error share, fails with ERROR and blocks reconciliation; above the warn
share it fails with WARN, which is reported but lets the plan run."""

import dagster as dg

from ...core.wording import percent, plural, verb
from ..metadata import counts_md, markdown_table, share
from ..partitions import CONNECTION_PARTITIONS
from ..policy import SyncPolicy
from ..types import CanonicalTable, DataFrame
from .assets import crona_employees, huma_employees

FAILURE_COLUMNS = ("record_id", "work_email", "field", "value", "reason")


def _shown_failures(table: CanonicalTable, failures: DataFrame) -> DataFrame:
    """Pandera's failure cases as people may see them: one row per failing field of an employee, with the
    record id, the value as `display_value` shows it (a bank account as its last four digits) and the reason
    in the words the quarantine uses (`core.canonical.explain_failures`), never a check's internal name."""
    import pandas as pd

    from ...core.canonical import explain_failures

    rows, _ = explain_failures(table.frame, table.side, failures)
    return pd.DataFrame(rows, columns=list(FAILURE_COLUMNS))


def evaluate_schema(table: CanonicalTable, policy: SyncPolicy) -> dg.AssetCheckResult:
    """Validate ``table.frame`` against its side's model and judge the quarantine share by the policy."""
    from ...core.schemas import employee_model, failure_cases

    options = policy.policy()
    model = employee_model(table.side)
    shown = _shown_failures(table, failure_cases(table.frame, table.side))
    ratio = float(table.quarantine_share())
    quarantined = int(table.quarantine["record_id"].nunique())
    metadata = {
        "schema": model.__name__,
        "employees": len(table.frame),
        "quarantined_employees": quarantined,
        "quarantined_values": len(table.quarantine),
        "quarantine_share": share(ratio),
        "quarantine_warn_share": share(options.quarantine_warn_share),
        "quarantine_error_share": share(options.quarantine_error_share),
        "schema_errors": len(table.schema_errors),
        "failures_by_field_and_reason": counts_md(shown, ["field", "reason"]),
        "failure_cases": dg.MetadataValue.md(markdown_table(shown)),
    }
    who = (f"{quarantined} of {plural(len(table.frame), f'{table.system} employee')} ({percent(ratio)})"
           f" {verb(quarantined, 'has', 'have')} a quarantined value")
    if table.schema_errors:
        listed = "; ".join(table.schema_errors[:5])
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                                   description=f"{plural(len(table.schema_errors), 'schema error')}: {listed}")
    if ratio > options.quarantine_error_share:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
            description=f"{who}, above quarantine_error_share {percent(options.quarantine_error_share)}")
    if ratio > options.quarantine_warn_share:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
            description=f"{who}, above quarantine_warn_share {percent(options.quarantine_warn_share)}")
    return dg.AssetCheckResult(passed=True, metadata=metadata, description=who)


@dg.asset_check(asset=huma_employees, blocking=True, partitions_def=CONNECTION_PARTITIONS,
                description="huma_employees against the HumaEmployees pandera schema and the quarantine thresholds.")
def huma_employees_schema(huma_employees: CanonicalTable, policy: SyncPolicy) -> dg.AssetCheckResult:
    return evaluate_schema(huma_employees, policy)


@dg.asset_check(asset=crona_employees, blocking=True, partitions_def=CONNECTION_PARTITIONS,
                description="crona_employees against the CronaEmployees pandera schema and the quarantine thresholds.")
def crona_employees_schema(crona_employees: CanonicalTable, policy: SyncPolicy) -> dg.AssetCheckResult:
    return evaluate_schema(crona_employees, policy)
