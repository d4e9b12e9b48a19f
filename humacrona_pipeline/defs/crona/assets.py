"""Extraction from Crona Lön: every employee (anställd), in Crona's own field names."""

import asyncio

import dagster as dg

from ..connection import connection_failures
from ..limits import CRONA_POOL
from ..metadata import table_metadata
from ..partitions import CONNECTION_PARTITIONS, require_partition
from ..types import DataFrame
from ..unreadable import listing_failures, unreadable_metadata
from .resources import CronaResource


async def _extract(crona: CronaResource) -> list[dict]:
    """Every employee's row; one whose fields are not the contract's shape is a row of its AnstNr, work email
    and why. A page that cannot be read fails the extraction (that is an outage, not one employee)."""
    from ...core.unreadable import UNREADABLE_COLUMN

    async with crona.client() as client:  # the API, or the PAXml export on that channel
        rows, unreadable = await client.employee_table()
    return [{**row, UNREADABLE_COLUMN: None} for row in rows] + unreadable


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="extract",
    pool=CRONA_POOL,
    kinds={"python", "pandas"},
    description="Every Crona Lön employee (GET /api/v1/anstallda, all pages; on the PAXml channel the newest "
    "PAXml export, validated against the schema), one row per AnstNr, columns in Crona's own field names. A "
    "<person> without anstid is quarantined with its reason. An employee whose fields are not in the contract's "
    "shape keeps only "
    "its AnstNr and work email, with the reason in `unreadable`: left out of this sync on both sides, and "
    "judged by the crona_employees_readable check. A page that cannot be read fails the extraction.",
)
def crona_employees_raw(context: dg.AssetExecutionContext, crona: CronaResource) -> dg.Output[DataFrame]:
    require_partition(context)  # which connection: never a run of none
    import pandas as pd

    from ...connectors.crona import CRONA_COLUMNS, CRONA_MASKED_COLUMNS
    from ...core.unreadable import UNREADABLE_COLUMN

    # a misconfiguration, or a list that cannot be read, fails the step with one line, not a traceback
    with listing_failures("crona"), connection_failures():
        rows = asyncio.run(_extract(crona))
    df = pd.DataFrame(rows, columns=[*CRONA_COLUMNS, UNREADABLE_COLUMN])
    unread = int(df[UNREADABLE_COLUMN].notna().sum())
    context.log.info(f"extracted {len(df)} Crona employees" + (f", {unread} of them unreadable" if unread else ""))
    return dg.Output(df, metadata={**table_metadata(df, CRONA_MASKED_COLUMNS),
                                   **unreadable_metadata(df, "crona")})
