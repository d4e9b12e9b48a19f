"""Extraction from Crona Lön: every employee (anställd), in Crona's own field names."""

import asyncio

import dagster as dg
import pandas as pd

from ...connectors.crona import CRONA_COLUMNS, CRONA_MASKED_COLUMNS
from ..metadata import table_metadata
from .resources import CronaResource


async def _extract(crona: CronaResource) -> list[dict]:
    async with crona.client() as client:
        return await client.list_employees()


@dg.asset(
    group_name="extract",
    kinds={"python", "pandas"},
    description="Every Crona Lön employee (GET /api/v1/anstallda, all pages), one row per AnstNr, "
    "columns in Crona's own field names.",
)
def crona_employees_raw(context: dg.AssetExecutionContext, crona: CronaResource) -> dg.Output[pd.DataFrame]:
    df = pd.DataFrame(asyncio.run(_extract(crona)), columns=list(CRONA_COLUMNS))
    context.log.info(f"extracted {len(df)} Crona employees")
    return dg.Output(df, metadata=table_metadata(df, CRONA_MASKED_COLUMNS))
