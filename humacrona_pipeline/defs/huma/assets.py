"""Extraction from Huma: every user with details and current position, in Huma's own field names."""

import asyncio

import dagster as dg

from ..connection import connection_failures
from ..limits import HUMA_POOL
from ..metadata import table_metadata
from ..partitions import CONNECTION_PARTITIONS, require_partition
from ..types import DataFrame
from ..unreadable import listing_failures, unreadable_metadata
from .resources import HumaResource


async def _extract(huma: HumaResource) -> tuple[list[dict], int]:
    """Every user's row of the connection's scope (a user whose record cannot be read is a row of what the list
    said and why), and how many users Huma listed that their own record shows outside the scope."""
    from ...core.unreadable import UNREADABLE_COLUMN

    unreadable: list[dict] = []
    async with huma.client() as client:
        unknown = await client.unknown_scope_groups()
        if unknown:
            raise dg.Failure(description=f"the connection's Huma scope names {huma.scope_kind} Huma does not have: "
                             f"{', '.join(unknown)} (GET /groups lists them); nothing is synced", allow_retries=False)
        rows = await client.fetch_rows(unreadable)
    return [{**row, UNREADABLE_COLUMN: None} for row in rows] + unreadable, client.out_of_scope


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="extract",
    pool=HUMA_POOL,
    kinds={"python", "pandas"},
    description="Every Huma user with details and current position (GET /users, /users/{id}, "
    "/users/{id}/positions), one row per user, columns in Huma's Open API names. A user whose details or "
    "positions cannot be read (a persistent server error, an answer not in the documented shape) is a row of "
    "what the list said with the reason in `unreadable`: left out of this sync on both sides, and judged by "
    "the huma_users_readable check. A connection scoped to some companies, locations or teams lists only their "
    "users.",
)
def huma_users_raw(context: dg.AssetExecutionContext, huma: HumaResource) -> dg.Output[DataFrame]:
    require_partition(context)  # which connection: never a run of none
    import pandas as pd

    from ...connectors.huma import HUMA_COLUMNS, HUMA_MASKED_COLUMNS
    from ...core.unreadable import UNREADABLE_COLUMN

    # a misconfiguration, or a list that cannot be read, fails the step with one line, not a traceback
    with listing_failures("huma"), connection_failures():
        rows, outside = asyncio.run(_extract(huma))
    df = pd.DataFrame(rows, columns=[*HUMA_COLUMNS, UNREADABLE_COLUMN])
    unread = int(df[UNREADABLE_COLUMN].notna().sum())
    context.log.info(f"extracted {len(df)} Huma users" + (f", {unread} of them unreadable" if unread else "")
                     + (f"; left out {outside} listed users whose record shows them outside this connection's scope"
                        if outside else ""))
    scope = {"scope": f"{huma.scope_kind} {', '.join(huma.scope_ids)}".strip(), "out_of_scope": outside}
    return dg.Output(df, metadata={**table_metadata(df, HUMA_MASKED_COLUMNS),
                                   **unreadable_metadata(df, "huma"), **scope})
