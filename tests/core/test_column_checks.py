"""Whole-column normalisers and checks against their one-value definitions.

`normalise.texts`/`emails` inline the common case of `text`/`email`; `validators.valid` looks values up in
what the normalisers remembered (`core.known`) before validating the rest; `validators.duplicated` and
`chars.is_none` find blanks by identity first. Each must answer exactly as the plain definition does, for
every kind of value a frame can hold (str, None, NaN, numbers), from a cold start or a warm one."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.core import normalise as norm
from humacrona_pipeline.core import phones, validators
from humacrona_pipeline.core.chars import is_none, pointers
from humacrona_pipeline.core.fields import Kind
from humacrona_pipeline.core.known import KnownValid

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

blank = st.sampled_from([None, float("nan"), np.nan])
blanks = blank | st.just(pd.NA)  # (text() does not take pd.NA; a frame handed to the validators may hold it)
texts = st.text(max_size=25) | st.sampled_from(["Åsa", " Åsa ", "A\u030asa", "a  b", "\tx\n", "ANNA@X.SE", "\u00a0"])
values = st.lists(texts | blank | st.integers(-5, 10**12), max_size=30)


@SETTINGS
@given(values)
def test_texts_and_emails_are_text_and_email(items):
    assert norm.texts(items) == [norm.text(v) for v in items]
    assert norm.emails(items) == [norm.email(v) for v in items]


plain = st.text(alphabet="abcxyz0189.@-_", min_size=1, max_size=12)


@SETTINGS
@given(st.lists(plain | st.none(), max_size=30),
       st.none() | st.sampled_from(["", " ", "a b", "a ", "\ta", "Ab", "å", "a\x85b", "a\u00a0b", "A@B.SE", 7]))
def test_a_whole_plain_column_is_taken_as_it_is(items, odd):
    """A column of ids or lower-case emails is checked as a whole; one value that is not plain reads it all."""
    items = items + ([odd] if odd is not None else [])
    assert norm.texts(items) == [norm.text(v) for v in items]
    assert norm.emails(items) == [norm.email(v) for v in items]


# --- validators.valid: the known values first, then the validators ---------------------------------

PHONES = ["+46701234567", "+4741234567", "+460701234567", "+4670", "070-123 45 67", "+12025550123", "+1202555"]
ACCOUNTS = ["5000 1234560", "83279 1234567897", "8327 1234567897", "5000 1234561", "6789 123456789", "x"]
ADDRESSES = ["Storgatan 1\n114 55\nStockholm\nSE", "Storgatan 1\n\nStockholm\nSE",
             "Storgatan 1\n114 55\nStockholm\nSverige", "a\nb\nc\nSE\ne", "Storgatan 1\n114 55\nStockholm\nse"]
DATES = ["2024-01-31", "2024-02-30", "1899-12-31", "20240131", "2024-1-5"]
EMAILS = ["a@b.se", "A@b.se", "a@b", "a..b@c.se", "a@-b.se", "å@b.se", "a@b.s"]
BY_KIND = {Kind.PHONE: PHONES, Kind.BANK_ACCOUNT: ACCOUNTS, Kind.ADDRESS: ADDRESSES, Kind.DATE: DATES,
           Kind.EMAIL: EMAILS, Kind.TEXT: ["x", ""], Kind.IDENTIFIER: ["1", "1"]}


def reference_valid(kind: Kind, series: pd.Series) -> list[bool]:
    """The definition: a value may be synced when it is blank or the validator has no problem with it."""
    return [v is None or bool(pd.isna(v)) or validators.problem(kind, v) is None for v in series.tolist()]


def _forget_everything() -> None:
    for known in (phones.known_numbers, norm.known_accounts, norm.known_addresses):
        known.cache_clear()


@SETTINGS
@given(st.sampled_from(sorted(BY_KIND, key=str)), st.data())
def test_valid_is_the_validator(kind, data):
    items = data.draw(st.lists(st.sampled_from(BY_KIND[kind]) | blanks | texts | st.integers(0, 99), max_size=25))
    series = pd.Series(items, dtype=object, index=pd.RangeIndex(5, 5 + len(items)))
    _forget_everything()
    expected = reference_valid(kind, series)
    _forget_everything()
    got = validators.valid(kind, series)
    assert got.index.equals(series.index) and got.dtype == bool
    assert got.tolist() == expected
    # Warm: the same values, now remembered by the normalisers (as a just-normalised column is).
    text_items = [v for v in items if isinstance(v, str)]
    norm.phones_column(text_items, ["SE"] * len(text_items))
    norm.bank_account_texts(text_items)
    norm.known_addresses.remember_objects([v for v, ok in zip(items, expected)
                                           if kind == Kind.ADDRESS and ok and isinstance(v, str)])
    assert validators.valid(kind, series).tolist() == expected
    _forget_everything()


@SETTINGS
@given(st.lists(texts | blanks | st.integers(-5, 5), max_size=30))
def test_duplicated_is_the_definition(items):
    series = pd.Series(items, dtype=object)
    expected = (series.notna() & series.duplicated(keep=False)).tolist()
    assert validators.duplicated(series).tolist() == expected


@SETTINGS
@given(values)
def test_is_none_reads_pointers_only(items):
    array = np.array(items + [None], dtype=object)
    assert is_none(array).tolist() == [v is None for v in array]
    assert pointers(array).tolist() == [id(v) for v in array]
    strided = np.array([items + [None], items + [None]], dtype=object).T[:, 0]
    assert is_none(strided).tolist() == [v is None for v in strided]


# --- core.known -------------------------------------------------------------------------------------


def test_known_values_and_objects():
    known = KnownValid()
    a, b = "+46701234567", "".join(["+4670", "1234567"])  # equal, not the same object
    assert a == b and a is not b
    assert known.mask([a]).tolist() == [False]
    known.remember_all([a, None])
    assert known.mask([a, b, "x", None]).tolist() == [True, True, False, False]
    assert known.mask_objects(np.array([a, b, None], dtype=object)).tolist() == [True, False, False]
    known.remember_objects([b])
    assert known.mask_objects(np.array([a, b], dtype=object)).tolist() == [True, True]
    known.remember("5000 1234560")
    assert "1234560" not in repr(known) and "1234560" not in str(known)  # account numbers never shown
    known.cache_clear()
    assert not known and known.mask_objects(np.array([a, b], dtype=object)).tolist() == [False, False]


def test_known_objects_stay_alive():
    """An object remembered by identity is kept alive, so its address cannot be taken by another object."""
    known = KnownValid()
    known.remember_objects(["".join(["remembered", str(n)]) for n in range(1000)])
    addresses = {id(o) for o in known._objects}
    gc.collect()
    fresh = ["".join(["fresh", str(n)]) for n in range(1000)]
    assert not addresses & {id(o) for o in fresh}
    assert known.mask_objects(np.array(fresh, dtype=object)).sum() == 0


def test_known_sets_are_bounded(monkeypatch):
    from humacrona_pipeline.core import known as known_module
    monkeypatch.setattr(known_module, "LIMIT", 10)
    known = KnownValid()
    known.remember_all(str(n) for n in range(8))
    known.remember_all(str(n) for n in range(8, 16))  # would pass the limit: emptied first
    assert set(known) == {str(n) for n in range(8, 16)}
    assert len(known._objects) == 8
