"""Employees a system listed but whose record could not be read (`core.unreadable`): the raw assets' metadata
says who and why, and one blocking check per raw asset fails the run when more than the policy's
`max_unreadable_share` could not be read, before anything is built from it, let alone written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from ..core.fields import CRONA, HUMA, MATCH_KEY, SYSTEM_NAMES
from ..core.wording import percent, plural, verb
from .metadata import markdown_table, share
from .partitions import CONNECTION_PARTITIONS
from .policy import SyncPolicy
from .types import DataFrame

TABLE_ROWS = 50
_EMAIL_COLUMNS = {side: MATCH_KEY.columns(side)[0] for side in (HUMA, CRONA)}  # the raw work-email column


@contextmanager
def listing_failures(side: str) -> Iterator[None]:
    """Inside: a failure to read the employee list itself (a page that answers a server error after the retries,
    or is not the documented shape; on Crona's PAXml channel an export that is missing, unreadable or not valid
    PAXml 2.0) leaves as `dg.Failure` with one line: an outage, not one employee."""
    from ..connectors.http import ApiError
    from ..connectors.paxml import PaxmlError

    try:
        yield
    except (ApiError, PaxmlError, OSError) as error:
        raise dg.Failure(description=f"{SYSTEM_NAMES[side]}'s employees could not be read, so nothing is synced:"
                         f" {error}") from None


def who_and_why_md(table: DataFrame, rows: int = TABLE_ROWS) -> str:
    """Who could not be read and why, as an escaped Markdown table (`metadata.markdown_table`)."""
    if table.empty:
        return "_none_"
    return markdown_table(table[["record_id", "work_email", "reason"]], rows=rows)


def unreadable_metadata(raw: DataFrame, side: str, email_column: str | None = None) -> dict:
    """The raw asset's `unreadable` count and its who-and-why table."""
    from ..core.unreadable import unreadable_table

    table = unreadable_table(raw, side, email_column or _EMAIL_COLUMNS[side])
    return {"unreadable": len(table), "unreadable_records": dg.MetadataValue.md(who_and_why_md(table))}


def evaluate_readable(raw: DataFrame, side: str, policy: SyncPolicy) -> dg.AssetCheckResult:
    """Pass while the unreadable share is within `max_unreadable_share`; fail with ERROR (blocking) above it."""
    from ..core.unreadable import unreadable_rows, unreadable_share

    limit = policy.policy().max_unreadable_share
    count, ratio = len(unreadable_rows(raw)), unreadable_share(raw)
    system = SYSTEM_NAMES[side]
    metadata = {"listed": len(raw), **unreadable_metadata(raw, side), "unreadable_share": share(ratio),
                "max_unreadable_share": share(limit)}
    who = (f"{count} of {plural(len(raw), f'{system} employee')} listed ({percent(ratio)}) could not be read")
    if ratio > limit:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
            description=f"{who}, more than max_unreadable_share {percent(limit)}: that looks like an outage of"
            f" {system}, not a few bad records, so nothing is synced; try again later (the reasons are listed"
            " in unreadable_records)")
    if count:
        return dg.AssetCheckResult(
            passed=True, metadata=metadata,
            description=f"{who}; {verb(count, 'it is', 'they are')} left out of this sync on both sides"
            f" (within max_unreadable_share {percent(limit)})")
    return dg.AssetCheckResult(passed=True, metadata=metadata,
                               description=f"every {system} employee listed could be read")


@dg.asset_check(asset=dg.AssetKey("huma_users_raw"), blocking=True, partitions_def=CONNECTION_PARTITIONS,
                description="Huma users whose details or positions could not be read, against the policy's "
                "max_unreadable_share: above it the run stops before anything is written.")
def huma_users_readable(huma_users_raw: DataFrame, policy: SyncPolicy) -> dg.AssetCheckResult:
    return evaluate_readable(huma_users_raw, HUMA, policy)


@dg.asset_check(asset=dg.AssetKey("crona_employees_raw"), blocking=True, partitions_def=CONNECTION_PARTITIONS,
                description="Crona employees that could not be read, against the policy's max_unreadable_share:"
                " above it the run stops before anything is written.")
def crona_employees_readable(crona_employees_raw: DataFrame, policy: SyncPolicy) -> dg.AssetCheckResult:
    return evaluate_readable(crona_employees_raw, CRONA, policy)
