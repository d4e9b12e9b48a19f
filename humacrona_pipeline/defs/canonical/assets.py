"""Canonical employee tables: each system's raw extract mapped to the eleven synced fields, normalised and
validated, with a quarantine row for every value that may not be synced. The work is `core.canonical`'s;
these assets run it with the policy's options and show what it found."""

import dagster as dg

from ...core.fields import CRONA, HUMA
from ...core.wording import plural
from ..metadata import PREVIEW_ROWS, column_schema, counts_md, list_md, markdown_table, share
from ..partitions import CONNECTION_PARTITIONS
from ..policy import SyncPolicy
from ..types import CanonicalTable, DataFrame


def canonical_metadata(table: CanonicalTable) -> dict:
    """Row count, schema, quarantine figures and tables, and a preview with every value as people may see it."""
    from ...core.display import display_wide

    quarantine = table.quarantine
    metadata = {
        "dagster/row_count": len(table.frame),
        "dagster/column_schema": column_schema(table.frame),
        "quarantined_values": len(quarantine),
        "quarantine_share": share(table.quarantine_share()),
        "not_syncable_employees": int((~table.syncable()).sum()),
        "quarantine_by_field": counts_md(quarantine, ["field"]),
        "quarantine_by_effect": counts_md(quarantine, ["effect"]),
        # Quarantine values are display values already (core masks them when it builds the table).
        "quarantine": dg.MetadataValue.md(markdown_table(quarantine)),
        "preview": dg.MetadataValue.md(markdown_table(display_wide(table.frame.head(PREVIEW_ROWS)))),
        "schema_errors": list_md(table.schema_errors),
    }
    if table.side == CRONA:
        metadata["mapped_country_names"] = table.mapped_countries
    return metadata


def _build(context: dg.AssetExecutionContext, raw: DataFrame, side: str,
           policy: SyncPolicy) -> dg.Output[CanonicalTable]:
    from ...core.canonical import NOT_SYNCABLE, build_table
    from ...core.unreadable import quarantine_unreadable

    # an employee whose record could not be read is kept as a row that is not syncable (`core.unreadable`)
    table = quarantine_unreadable(build_table(raw, side, map_country_names=policy.policy().map_country_names), raw)
    blocked = int((table.quarantine["effect"] == NOT_SYNCABLE).sum())
    context.log.info(f"{table.system}: {plural(len(table.frame), 'employee')},"
                     f" {plural(len(table.quarantine), 'quarantined value')} ({blocked} making an employee"
                     f" unsyncable), {plural(len(table.schema_errors), 'schema error')}")
    return dg.Output(table, metadata=canonical_metadata(table))


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="canonical",
    kinds={"python", "pandas"},
    description="Huma's employees in canonical form (one column per synced field, normalised) with the "
    "quarantine: every value that may not be synced and why. Validated by the HumaEmployees schema.",
)
def huma_employees(context: dg.AssetExecutionContext, huma_users_raw: DataFrame,
                   policy: SyncPolicy) -> dg.Output[CanonicalTable]:
    return _build(context, huma_users_raw, HUMA, policy)


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="canonical",
    kinds={"python", "pandas"},
    description="Crona Lön's employees in canonical form (one column per synced field, normalised) with the "
    "quarantine: every value that may not be synced and why. Country names become ISO codes only when "
    "the policy's map_country_names is on. Validated by the CronaEmployees schema.",
)
def crona_employees(context: dg.AssetExecutionContext, crona_employees_raw: DataFrame,
                    policy: SyncPolicy) -> dg.Output[CanonicalTable]:
    return _build(context, crona_employees_raw, CRONA, policy)
