"""Text made safe to read: every character that could hide or reorder what people read shown as its code point.
Without pandas (`core.display`, which re-exports these, has the rest), so `humacrona`'s terminal output and the
webhook receiver print their first line without loading it."""

from __future__ import annotations

import re
import sys
import unicodedata


def present(value: object) -> bool:
    """False for None and the blanks pandas knows (NaN, NA, NaT); True for any other value."""
    if value is None:
        return False
    pandas = sys.modules.get("pandas")  # pd.NA and pd.NaT exist only once pandas is loaded: never imported here
    try:
        if pandas is not None:
            return not bool(pandas.isna(value))
        return not bool(value != value)  # NaN (float, Decimal) and numpy's NaT: the values unequal to themselves
    except (TypeError, ValueError, ArithmeticError):  # a list, or another value without one answer
        return True


# Characters that hide or reorder text: controls (Cc: NUL, newline, escape...), formats (Cf: bidi overrides
# and isolates, zero-width spaces and joiners, the byte-order mark, the soft hyphen...) and the line and
# paragraph separators (Zl, Zp). A value from Huma or Crona may carry any of them; shown raw, "\u202egnp.exe"
# reads as "exe.png" and a zero-width space makes two different emails look the same.
_HIDING_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")  # the only characters worth asking unicodedata about


def _marker(m: re.Match) -> str:
    c = m.group(0)
    return f"<U+{ord(c):04X}>" if unicodedata.category(c) in _HIDING_CATEGORIES else c


def visible(text: object) -> str:
    """``text`` with every character that could hide or reorder what people read (control, format, line
    separator: a right-to-left override, a zero-width space, NUL, a newline) shown as its code point, e.g.
    "<U+202E>gnp.exe": the one rule for every report, email, Dagster metadata and CLI line. "" for nothing."""
    if not present(text):
        return ""
    return _NOT_PRINTABLE_ASCII.sub(_marker, str(text))


def visible_lines(text: object) -> str:
    """Several lines of output (the CLI's): each line made `visible`, the line breaks between them kept."""
    return "\n".join(visible(line) for line in (str(text) if present(text) else "").split("\n"))
