"""How values are shown to people (metadata, reports, emails, logs): masked, one line, never the full account."""

from __future__ import annotations

import pandas as pd

from .bank_accounts import mask
from .fields import BY_NAME, PART_SEPARATOR, Kind


def display_value(field_name: str, value: object) -> str:
    """One field's value as people may see it: bank accounts as their last four digits, an address on one
    line ("Storgatan 1, 114 55, Stockholm, SE"), nothing as ""."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    f = BY_NAME.get(field_name)
    if f is not None and f.masked:
        return mask(str(value))
    if f is not None and f.kind == Kind.ADDRESS:
        return ", ".join(part for part in str(value).split(PART_SEPARATOR) if part)
    return str(value)


def display_frame(df: pd.DataFrame, value_columns: tuple[str, ...], field_column: str = "field") -> pd.DataFrame:
    """A copy of a long table (one field per row) with its value columns shown by `display_value`."""
    out = df.copy()
    for column in value_columns:
        if column in out.columns:
            out[column] = [display_value(f, v) for f, v in zip(out[field_column], out[column])]
    return out


def display_wide(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a wide table (one column per field) with every field column shown by `display_value`."""
    out = df.copy()
    for column in out.columns:
        if column in BY_NAME:
            out[column] = [display_value(column, v) for v in out[column]]
    return out
