"""How values are shown to people (metadata, reports, emails, logs): masked, one line, never the full account.
What can be done without pandas (`present`, `visible`, `visible_lines`) is in `core.visible`, re-exported here."""

from __future__ import annotations

import re

import pandas as pd

from .bank_accounts import mask
from .fields import BY_NAME, PART_SEPARATOR, Kind
from .visible import present, visible, visible_lines  # noqa: F401 - re-exported: the rule lives without pandas

# --- Markdown (Dagster metadata) --------------------------------------------------------------------------

# Markdown that data could use: a link or image ([x](javascript:..), ![](http://..)), code, emphasis,
# strikethrough, a table cell's end (|) and the escape itself; each shown literally by a backslash.
_MD_PUNCTUATION = re.compile(r"[\\`*\[\]|~]")
# "_" only where it could open or close emphasis: not between two letters or digits ("first_last@x.se").
_MD_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# What could start a block (a heading, a list, a quote) when a value opens a line or a list item.
_MD_BLOCK_START = re.compile(r"^(#{1,6}(?=\s|$)|[-+](?=\s|$)|-{3,}|\d{1,9}(?=[.)](\s|$)))")


def markdown_text(value: object) -> str:
    """A value as literal text inside Dagster's Markdown (a table cell, a list item): characters that could
    hide or reorder text made `visible`, no HTML (<script>, <img ..> shown as text), no link, image, code or
    emphasis from the data, no pipe ending a cell, no line break, no bare link a reader could click."""
    text = visible(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCTUATION.sub(lambda m: "\\" + m.group(0), text)
    text = _MD_UNDERSCORE.sub(r"\_", text).replace("://", "\\://")
    return _MD_BLOCK_START.sub(lambda m: m.group(0) + "\\" if m.group(0)[0].isdigit() else "\\" + m.group(0), text,
                               count=1)


def markdown_rows(header: list[object], rows: list[list[object]]) -> str:
    """A Markdown table whose every cell, header included, is `markdown_text`."""
    lines = ["| " + " | ".join(markdown_text(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_text(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_list(items: list[object], empty: str = "_none_") -> str:
    """A Markdown bullet list whose every item is `markdown_text`; ``empty`` when there is none."""
    return "\n".join(f"- {markdown_text(item)}" for item in items) or empty


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
    line ("Storgatan 1, 114 55, Stockholm, SE"), characters that could hide or reorder text made `visible`
    ("<U+202E>"), nothing as ""."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    f = BY_NAME.get(field_name)
    if f is not None and f.masked:
        return visible(mask(str(value)))
    if f is not None and f.kind == Kind.ADDRESS:
        return visible(", ".join(part for part in str(value).split(PART_SEPARATOR) if part))
    return visible(value)


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
