"""Employees a system listed but whose record could not be read (a persistent 5xx on their details, a body that
is not the documented shape): recorded with the reason and left out of this sync, never treated as missing.

An unreadable employee still has what the list page said (id, work email, names): that is kept, so the
canonical table holds a row for them that is not syncable (`quarantine_unreadable`), and matching
(`core.reconcile`) then blocks the other system's record with the same work email, as for any employee
that cannot be synced: nothing is created for someone who exists, nothing is written for either side."""

from __future__ import annotations

import re

import pandas as pd

from .canonical import NOT_SYNCABLE, QUARANTINE_COLUMNS, CanonicalTable
from .fields import RECORD_ID_COLUMN

# The raw-table column holding why a row could not be read (None for a row read in full).
UNREADABLE_COLUMN = "unreadable"
UNREADABLE_PREFIX = "unreadable in "
MAX_REASON_CHARS = 300
_DIGIT_RUN = re.compile(r"\d[\d \-]*\d")


def _mask_long_numbers(text: str) -> str:
    """A run of nine or more digits (an account number an API might echo) reduced to its last four."""

    def masked(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return f"•••• {digits[-4:]}" if len(digits) >= 9 else match.group(0)

    return _DIGIT_RUN.sub(masked, text)


def reason_line(system: str, error: BaseException | str) -> str:
    """"unreadable in Huma: GET /users/…: HTTP 500 … after 6 attempts": one line, no long number."""
    text = " ".join(str(error).split())
    if text.startswith(f"{system} "):  # ApiError lines start with the system; said once is enough
        text = text[len(system) + 1:]
    text = _mask_long_numbers(text)
    if len(text) > MAX_REASON_CHARS:
        text = text[:MAX_REASON_CHARS - 1] + "…"
    return f"{UNREADABLE_PREFIX}{system}: {text or 'no reason given'}"


def is_unreadable(reason: object) -> bool:
    """Whether a match or not-planned reason says the record could not be read."""
    return isinstance(reason, str) and reason.startswith(UNREADABLE_PREFIX)


def unreadable_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """The raw rows that could not be read."""
    if UNREADABLE_COLUMN not in raw.columns:
        return raw.iloc[0:0]
    return raw[raw[UNREADABLE_COLUMN].notna()]


def unreadable_table(raw: pd.DataFrame, side: str, email_column: str) -> pd.DataFrame:
    """Who could not be read and why (record id, work email, reason), for metadata and reports."""
    rows = unreadable_rows(raw)
    id_column = RECORD_ID_COLUMN[side]
    return pd.DataFrame({
        "record_id": rows[id_column].to_numpy(dtype=object) if id_column in rows else [],
        "work_email": rows[email_column].to_numpy(dtype=object) if email_column in rows else [],
        "reason": rows[UNREADABLE_COLUMN].to_numpy(dtype=object),
    }, columns=["record_id", "work_email", "reason"])


def unreadable_share(raw: pd.DataFrame) -> float:
    """Share of the listed employees that could not be read (0 for an empty table)."""
    return len(unreadable_rows(raw)) / len(raw) if len(raw) else 0.0


def quarantine_unreadable(table: CanonicalTable, raw: pd.DataFrame) -> CanonicalTable:
    """``table`` with every unreadable record made not syncable, its reason the only quarantine row it has
    (what validation said about the few fields the list page gave does not matter: nothing of it is synced)."""
    rows = unreadable_rows(raw)
    if rows.empty:
        return table
    ids = rows[RECORD_ID_COLUMN[table.side]].to_numpy(dtype=object)
    emails = table.emails_of(set(ids.tolist()))
    added = pd.DataFrame([{
        "side": table.side, "record_id": record_id, "work_email": emails.get(record_id), "field": None,
        "value": None, "reason": reason, "effect": NOT_SYNCABLE,
    } for record_id, reason in zip(ids.tolist(), rows[UNREADABLE_COLUMN].tolist())], columns=list(QUARANTINE_COLUMNS))
    kept = table.quarantine[~table.quarantine["record_id"].isin(set(ids.tolist()))]
    quarantine = pd.concat([kept, added], ignore_index=True) if not kept.empty else added
    quarantine = quarantine.sort_values(["record_id", "field"], kind="stable").reset_index(drop=True)
    return CanonicalTable(table.side, table.frame, quarantine, table.schema_errors, table.mapped_countries,
                          table.text_only)


__all__ = ["UNREADABLE_COLUMN", "UNREADABLE_PREFIX", "is_unreadable", "quarantine_unreadable",
           "reason_line", "unreadable_rows", "unreadable_share", "unreadable_table"]
