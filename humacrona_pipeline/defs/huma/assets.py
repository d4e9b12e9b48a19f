"""Extraction from Huma: every user with details and current position, in Huma's own field names."""

import asyncio

import dagster as dg

from ..connection import connection_failures
from ..limits import HUMA_POOL
from ..metadata import table_metadata
from ..types import DataFrame
from ..unreadable import listing_failures, unreadable_metadata
from .resources import HumaResource


async def _extract(huma: HumaResource) -> list[dict]:
    """Every user's row; a user whose record cannot be read is a row of what the list said and why."""
    from ...core.unreadable import UNREADABLE_COLUMN

    unreadable: list[dict] = []
    async with huma.client() as client:
        rows = await client.fetch_rows(unreadable)
    return [{**row, UNREADABLE_COLUMN: None} for row in rows] + unreadable


@dg.asset(
    group_name="extract",
    pool=HUMA_POOL,
    kinds={"python", "pandas"},
    description="Every Huma user with details and current position (GET /users, /users/{id}, "
    "/users/{id}/positions), one row per user, columns in Huma's Open API names. A user whose details or "
    "positions cannot be read (a persistent server error, an answer not in the documented shape) is a row of "
    "what the list said with the reason in `unreadable`: left out of this sync on both sides, and judged by "
    "the huma_users_readable check.",
)
def huma_users_raw(context: dg.AssetExecutionContext, huma: HumaResource) -> dg.Output[DataFrame]:
    import pandas as pd

    from ...connectors.huma import HUMA_COLUMNS, HUMA_MASKED_COLUMNS
    from ...core.unreadable import UNREADABLE_COLUMN

    # a misconfiguration, or a list that cannot be read, fails the step with one line, not a traceback
    with listing_failures("huma"), connection_failures():
        rows = asyncio.run(_extract(huma))
    df = pd.DataFrame(rows, columns=[*HUMA_COLUMNS, UNREADABLE_COLUMN])
    unread = int(df[UNREADABLE_COLUMN].notna().sum())
    context.log.info(f"extracted {len(df)} Huma users" + (f", {unread} of them unreadable" if unread else ""))
    return dg.Output(df, metadata={**table_metadata(df, HUMA_MASKED_COLUMNS),
                                   **unreadable_metadata(df, "huma")})
