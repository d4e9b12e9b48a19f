"""Small canonical tables for core tests: people written as canonical values, no extract, no HTTP."""

from __future__ import annotations

import pandas as pd

from humacrona_pipeline.connectors.crona import CRONA_COLUMNS
from humacrona_pipeline.connectors.huma import HUMA_COLUMNS
from humacrona_pipeline.core.canonical import CANONICAL_COLUMNS, CanonicalTable, validate_table
from humacrona_pipeline.core.fields import CRONA, HUMA

# Valid Swedish accounts in stored form (clearing, space, zero-padded account).
ACCOUNT_A = "5000 1000004"  # SEB, type 1 comment 1
ACCOUNT_B = "83279 0123456782"  # Swedbank 8327-9
ACCOUNT_C = "6789 123456789"  # Handelsbanken, 9 digits

ADDRESS_SE = "Storgatan 1\n114 55\nStockholm\nSE"
ADDRESS_SE_2 = "Kungsgatan 7\n411 19\nGöteborg\nSE"


def person(n: int, **values) -> dict:
    """A complete, valid employee number ``n``; keyword arguments override (None removes a value)."""
    base = {
        "employment_id": str(1000 + n),
        "given_name": "Anna",
        "family_name": f"Berg{n}",
        "work_email": f"anna.berg{n}@nordljus.se",
        "address": ADDRESS_SE,
        "phone": f"+467012345{n:02d}",
        "start_date": "2020-01-01",
        "end_date": None,
        "bank_account": None,
        "private_email": f"anna{n}@gmail.com",
        "job_title": "Lönespecialist",
    }
    base.update(values)
    return base


def table(side: str, people: list[dict], ids: list[str] | None = None) -> CanonicalTable:
    """A validated canonical table; Huma record ids are "h<n>", Crona's are the employment IDs."""
    rows = []
    for i, p in enumerate(people):
        record = ids[i] if ids else (f"h{i}" if side == HUMA else p.get("employment_id"))
        rows.append({"record_id": record, **p})
    frame = pd.DataFrame(rows, columns=list(CANONICAL_COLUMNS), dtype=object)
    frame = frame.astype(object).where(frame.notna(), None)
    return validate_table(frame, side)


def huma_raw(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(HUMA_COLUMNS))


def crona_raw(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(CRONA_COLUMNS))


__all__ = ["ACCOUNT_A", "ACCOUNT_B", "ACCOUNT_C", "ADDRESS_SE", "ADDRESS_SE_2", "CRONA", "HUMA", "crona_raw",
           "huma_raw", "person", "table"]
