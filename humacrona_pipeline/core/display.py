"""How values are shown to people (metadata, reports, emails, logs): masked, one line, never the full account."""

from __future__ import annotations

import re

import pandas as pd

from .bank_accounts import mask
from .fields import BY_NAME, PART_SEPARATOR, Kind


def present(value: object) -> bool:
    """False for None and pandas' blanks (NaN, NA, NaT); True for any other value."""
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or another value pd.isna does not answer with one bool
        return True


# Digit runs (spaces, dashes and dots allowed inside) long enough to be part of an account number.
_DIGIT_RUN = re.compile(r"\d(?:[\d .\-]*\d)?")


def scrub(text: object, field_name: object) -> str | None:
    """Error text safe to store and show: for a masked field, every digit run of five digits or more (an
    account number, or part of one, as an API may echo it) reduced to its last four digits."""
    if not present(text):
        return None
    text = str(text)
    f = BY_NAME.get(field_name) if isinstance(field_name, str) else None
    if f is None or not f.masked:
        return text

    def hide(m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return mask(digits) if len(digits) >= 5 else m.group(0)

    return _DIGIT_RUN.sub(hide, text)


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
