"""Extraction from Huma: every user with details and current position, in Huma's own field names."""

import asyncio

import dagster as dg
import pandas as pd

from ...connectors.huma import HUMA_COLUMNS, HUMA_MASKED_COLUMNS, flatten_employee
from ..connection import connection_failures
from ..metadata import table_metadata
from .resources import HumaResource


async def _extract(huma: HumaResource) -> list[dict]:
    async with huma.client() as client:
        return [flatten_employee(**employee) for employee in await client.fetch_employees()]


@dg.asset(
    group_name="extract",
    kinds={"python", "pandas"},
    description="Every Huma user with details and current position (GET /users, /users/{id}, "
    "/users/{id}/positions), one row per user, columns in Huma's Open API names.",
)
def huma_users_raw(context: dg.AssetExecutionContext, huma: HumaResource) -> dg.Output[pd.DataFrame]:
    with connection_failures():  # a misconfiguration fails the step with one line, not a traceback
        rows = asyncio.run(_extract(huma))
    df = pd.DataFrame(rows, columns=list(HUMA_COLUMNS))
    context.log.info(f"extracted {len(df)} Huma users")
    return dg.Output(df, metadata=table_metadata(df, HUMA_MASKED_COLUMNS))
