"""Columns of text as numpy arrays, for work that looks at 100 000 values at once.

Reading values one by one in Python costs about a microsecond each where they need parsing; numpy compares
whole columns of characters in a few milliseconds. The checks built on this (`bank_vector`,
`phones.e164_verdicts`) decide the common shapes and leave every other value to the one-by-one code, which
stays the definition. `is_none` finds blanks without reading the values at all."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
