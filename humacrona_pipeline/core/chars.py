"""Columns of text as numpy arrays, for work that looks at 100 000 values at once.

Reading values one by one in Python costs about a microsecond each where they need parsing; numpy compares
whole columns of characters in a few milliseconds. The checks built on this (`bank_vector`,
`phones.e164_verdicts`) decide the common shapes and leave every other value to the one-by-one code, which
stays the definition. `is_none` finds blanks without reading the values at all; `banned_characters` finds a
control or format character in a whole column's text at once."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from .fields import BANNED_CATEGORIES


def char_matrix(values: Sequence[object], max_length: int, min_width: int = 1
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code points, lengths, readable): one row per value, the text left-aligned and padded with 0 to the
    longest value read (at least ``min_width`` columns). Only text of 1 to ``max_length`` characters is
    read (``readable``); any other value is an empty row of length 0."""
    strings = [v if type(v) is str else "" for v in values]
    n = len(strings)
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
    readable = (lengths > 0) & (lengths <= max_length)
    if not readable.all():
        strings = [s if k else "" for s, k in zip(strings, readable.tolist())]
        lengths = np.where(readable, lengths, 0)
    width = max(int(lengths.max()) if n else 0, min_width)
    chars = np.array(strings, dtype=f"<U{width}").view(np.uint32).reshape(n, width)
    return chars, lengths, readable


def pointers(values: np.ndarray) -> np.ndarray:
    """The address of each element of an object array (its ``id``), read without touching the objects."""
    values = values if values.flags.c_contiguous else np.ascontiguousarray(values)
    return np.frombuffer(values, dtype=np.intp).reshape(values.shape)


def is_none(values: np.ndarray) -> np.ndarray:
    """``value is None`` per element of an object array, from its pointers alone: no value is read, which for
    a million values spread over the heap is most of what ``pd.isna`` costs. (NaN is not None: callers that
    may hold NaN check the rest with ``pd.isna``.)"""
    return pointers(values) == id(None)


@lru_cache(maxsize=4)
def banned_characters(allowed: str = "") -> re.Pattern:
    """One character of a category no synced text may hold (`fields.BANNED_CATEGORIES`: control, format,
    lone surrogate), but for those in ``allowed`` (the separator a column is joined with). Built once from
    the running Python's Unicode tables (about 0.1 s): the class is then searched for over a whole column
    joined, in C."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)) in BANNED_CATEGORIES and chr(code) not in allowed:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    body = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"[{body}]")


_NOT_TEXT = object()  # a value no column holds: with it, pandas hashes the column's values as Python objects


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize` (codes, uniques; blanks -1) that tells "Åsa\\x00" from "Åsa". Pandas hashes a column of
    only str as C strings, which end at the first NUL, so values differing after a NUL would share one code;
    one value that is not text makes it hash Python objects instead, at the same speed."""
    array = np.empty(len(values) + 1, dtype=object)
    array[:-1] = np.asarray(values, dtype=object)
    array[-1] = _NOT_TEXT
    codes, uniques = pd.factorize(array, use_na_sentinel=True)
    return codes[:-1], uniques[:-1]
