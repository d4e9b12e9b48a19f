"""One blocking check per pandera schema (PUDL's pattern: the check validates the asset's value against
the model and reports every failure case). A table with schema errors, or with more quarantined
employees than the policy's error share, fails with ERROR and blocks reconciliation; above the warn
share it fails with WARN, which is reported but lets the plan run."""

import dagster as dg
import pandas as pd

from ...core.canonical import CanonicalTable
from ...core.display import display_value
from ...core.schemas import END_NOT_BEFORE_START, RECORD_ID, employee_model, failure_cases
from ..metadata import counts_md, markdown_table
from ..policy import SyncPolicy
from .assets import crona_employees, huma_employees


def _shown_failures(table: CanonicalTable, failures: pd.DataFrame) -> pd.DataFrame:
    """Pandera's failure cases as people may see them: the record id instead of the row number, values
    through `display_value` (a failing bank account shows its last four digits only)."""
    frame = table.frame
    rows = []
    for case in failures.itertuples(index=False):
        index = case.index
        record = None
        if index is not None and index == index and int(index) in frame.index:
            record = frame.at[int(index), RECORD_ID]
        column = None if case.column is None else str(case.column)
        if str(case.check) == END_NOT_BEFORE_START and column not in ("start_date", "end_date"):
            continue  # pandera lists every column of a row failing a row-wide check; the dates say it all
        rows.append({"column": column, "check": str(case.check), "record_id": record,
                     "failure_case": display_value(column or "", case.failure_case)})
    return pd.DataFrame(rows, columns=["column", "check", "record_id", "failure_case"])


def evaluate_schema(table: CanonicalTable, policy: SyncPolicy) -> dg.AssetCheckResult:
    """Validate ``table.frame`` against its side's model and judge the quarantine share by the policy."""
    options = policy.policy()
    model = employee_model(table.side)
    shown = _shown_failures(table, failure_cases(table.frame, table.side))
    share = float(table.quarantine_share())
    quarantined = int(table.quarantine["record_id"].nunique())
    metadata = {
        "schema": model.__name__,
        "employees": len(table.frame),
        "quarantined_employees": quarantined,
        "quarantined_values": len(table.quarantine),
        "quarantine_share": share,
        "quarantine_warn_share": options.quarantine_warn_share,
        "quarantine_error_share": options.quarantine_error_share,
        "schema_errors": len(table.schema_errors),
        "failures_by_column_and_check": counts_md(shown, ["column", "check"]),
        "failure_cases": dg.MetadataValue.md(markdown_table(shown)),
    }
    who = f"{quarantined} of {len(table.frame)} {table.system} employees ({share:.1%}) have a quarantined value"
    if table.schema_errors:
        listed = "; ".join(table.schema_errors[:5])
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                                   description=f"{len(table.schema_errors)} schema error(s): {listed}")
    if share > options.quarantine_error_share:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
            description=f"{who}, above quarantine_error_share {options.quarantine_error_share:.1%}")
    if share > options.quarantine_warn_share:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
            description=f"{who}, above quarantine_warn_share {options.quarantine_warn_share:.1%}")
    return dg.AssetCheckResult(passed=True, metadata=metadata, description=who)


@dg.asset_check(asset=huma_employees, blocking=True,
                description="huma_employees against the HumaEmployees pandera schema and the quarantine thresholds.")
def huma_employees_schema(huma_employees: CanonicalTable, policy: SyncPolicy) -> dg.AssetCheckResult:
    return evaluate_schema(huma_employees, policy)


@dg.asset_check(asset=crona_employees, blocking=True,
                description="crona_employees against the CronaEmployees pandera schema and the quarantine thresholds.")
def crona_employees_schema(crona_employees: CanonicalTable, policy: SyncPolicy) -> dg.AssetCheckResult:
    return evaluate_schema(crona_employees, policy)
