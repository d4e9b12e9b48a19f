"""Phones a column at a time (`phones.e164_verdicts`, `normalise.phones_column`) against the one-by-one code.

A verdict of 0 or 1 claims two things: `normalise_phone` returns the text unchanged in every region, and
`is_valid_e164` says 1 (valid) or 0. Both are checked against the scalar functions and against phonenumbers
itself; -1 claims nothing. The column normaliser must return what `normalise.phone` returns, row by row."""

from __future__ import annotations

import random

import phonenumbers
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.core import normalise as norm
from humacrona_pipeline.core import phones
from humacrona_pipeline.core.phones import e164_verdicts, is_valid_e164, normalise_phone
from tests.core.test_phones import _generated_inputs, reference_is_valid_e164

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REGIONS = ("SE", "NO", "FI", "GB", "US", "AR", None)


def assert_verdicts_hold(values: list) -> list:
    phones.known_numbers.cache_clear()
    verdicts = e164_verdicts(values).tolist()
    assert len(verdicts) == len(values)
    for value, verdict in zip(values, verdicts):
        if verdict < 0:
            continue
        assert verdict in (0, 1)
        for region in REGIONS:
            assert normalise_phone(value, region) == value, (value, region)
        phones.known_numbers.cache_clear()  # (normalise_phone remembers valid numbers: decide afresh)
        assert is_valid_e164(value) == bool(verdict), value
        assert reference_is_valid_e164(value) == bool(verdict), value
    return verdicts


def assert_column_agrees(values: list, regions: list) -> None:
    """phones_column equals phone() row by row, cold and with the numbers of a first pass known."""
    phones.known_numbers.cache_clear()
    reference = [norm.phone(v, r) if v is not None else None for v, r in zip(values, regions)]
    phones.known_numbers.cache_clear()
    assert norm.phones_column(values, regions) == reference
    assert norm.phones_column(values, regions) == reference  # warm: every valid number now known
    phones.known_numbers.cache_clear()


def _examples() -> list[str]:
    """phonenumbers' example numbers of every region and type, in E.164: mostly valid starting points."""
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
                     phonenumbers.PhoneNumberType.TOLL_FREE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                out.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return out


EXAMPLES = _examples()


def _e164_like(rng: random.Random) -> str:
    """An example number with its last digits redrawn (valid or not), or a random country code and digits."""
    if rng.random() < 0.7:
        example = rng.choice(EXAMPLES)
        keep = max(2, len(example) - rng.randint(0, 4))
        return example[:keep] + "".join(rng.choice("0123456789") for _ in range(len(example) - keep))
    code = str(rng.choice([46, 47, 45, 358, 44, 1, 49, 7, 39, 800, 882, 979, 262, 599, 1684]
                          + sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)))
    return "+" + code + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 19)))


def test_a_large_generated_set():
    rng = random.Random(20261201)
    values = [_e164_like(rng) for _ in range(20_000)] + [text for text, _ in _generated_inputs(10_000, seed=7)]
    verdicts = assert_verdicts_hold(values)
    assert verdicts.count(1) > 2_000 and verdicts.count(0) > 2_000  # both answers exercised
    regions = [rng.choice(REGIONS) for _ in values]
    assert_column_agrees(values[:8000], regions[:8000])


TRICKY = ["+46701234567", "+460701234567", "+4607012345", "+46", "+467", "+4670", "+1", "+12", "+123",
          "+12025550123", "+4420 7946 0958", "+442079460958", "+447911123456", "+79123456789", "+358401234567",
          "+3580401234567", "+80012345678", "+88213", "+0123456789", "+00467012345", "++46701234567",
          "+46701234567 ", " +46701234567", "+46 70 123 45 67", "+46-70-1234567", "+４６７０１２３４５６７",
          "+\u0664\u0666701234567", "+46701234567\x00", "+4670123456789012345678", "+" + "9" * 25, "46701234567",
          "0701234567", "070-123 45 67", "+47 412 34 567", "+4741234567", "+4779123456", "+4702345678",
          "+1 (202) 555-0123", "+44 (0)20 7946 0958", "tel:+46701234567", "+46701234567 ext. 12", "", " ",
          None, 46701234567, float("nan"), "+", "+4", "+46 7"]


def test_tricky_values():
    assert_verdicts_hold(TRICKY)
    for region in REGIONS:
        assert_column_agrees(TRICKY, [region] * len(TRICKY))


@st.composite
def typed_numbers(draw) -> str:
    rng = random.Random(draw(st.integers(0, 2 ** 32)))
    text = _e164_like(rng)
    if draw(st.booleans()):
        k = rng.randrange(len(text) + 1)
        text = text[:k] + draw(st.sampled_from(" -()+.0\u00a0x")) + text[k:]
    return text


@SETTINGS
@given(st.lists(typed_numbers() | st.text(alphabet="+0123456789 -", max_size=20) | st.none(), max_size=25),
       st.sampled_from(REGIONS))
@example(["+460701234567", "+46701234567"], "SE")
def test_verdicts_and_column_agree(values, region):
    assert_verdicts_hold(values)
    assert_column_agrees(values, [region] * len(values))
