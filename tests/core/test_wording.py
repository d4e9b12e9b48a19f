"""Counts and shares as people read them: the noun agrees with the count, a share is a rounded percentage."""

from __future__ import annotations

import pytest

from humacrona_pipeline.core.wording import percent, plural, verb


@pytest.mark.parametrize(("count", "expected"), [(0, "0 conflicts"), (1, "1 conflict"), (2, "2 conflicts"),
                                                 (21, "21 conflicts")])
def test_plural(count, expected):
    assert plural(count, "conflict") == expected


def test_irregular_plural_and_verb():
    assert plural(1, "salary account change", "salary account changes") == "1 salary account change"
    assert plural(2, "entry", "entries") == "2 entries"
    assert [verb(n, "has", "have") for n in (0, 1, 2)] == ["have", "has", "have"]


def test_percent_is_rounded_to_one_decimal():
    assert percent(0.10126582278481013) == "10.1 %"
    assert percent(0.2) == "20.0 %"
    assert percent(0) == "0.0 %"
    assert percent(1) == "100.0 %"
