"""Extraction from Crona Lön: every employee (anställd), in Crona's own field names."""

import asyncio

import dagster as dg
import pandas as pd

from ...connectors.crona import CRONA_COLUMNS, CRONA_MASKED_COLUMNS
from ..connection import connection_failures
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
    with connection_failures():  # a misconfiguration fails the step with one line, not a traceback
        rows = asyncio.run(_extract(crona))
    df = pd.DataFrame(rows, columns=list(CRONA_COLUMNS))
    context.log.info(f"extracted {len(df)} Crona employees")
    return dg.Output(df, metadata=table_metadata(df, CRONA_MASKED_COLUMNS))
