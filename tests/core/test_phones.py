"""Phone normalisation and validation: the ways people type numbers, and exact agreement with phonenumbers.

The fast path in core/phones.py repeats phonenumbers' parsing and validation on plain strings; the
reference functions below say, with phonenumbers itself, what the answers must be, and the comparisons
allow no disagreement at all."""

from __future__ import annotations

import random
import re
import unicodedata

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.core.countries import to_alpha2
from humacrona_pipeline.core.phones import is_valid_e164, normalise_phone
from humacrona_sandbox.seed import generate

# --- the reference: phonenumbers itself ---------------------------------------------------------


def reference_normalise(text: str | None, region: str | None = "SE") -> str | None:
    """E.164 of what phonenumbers.parse reads when it is a valid number without an extension, else the
    text trimmed (NFC, whitespace collapsed); None for None or blank."""
    if text is None:
        return None
    trimmed = " ".join(unicodedata.normalize("NFC", text).split())
    if not trimmed:
        return None
    code = region.strip().upper() if isinstance(region, str) else None
    code = code if code in phonenumbers.SUPPORTED_REGIONS else "SE"
    try:
        number = phonenumbers.parse(trimmed, code)
    except phonenumbers.NumberParseException:
        return trimmed
    if number.extension or not phonenumbers.is_valid_number(number):
        return trimmed
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def reference_is_valid_e164(value: str) -> bool:
    if not re.fullmatch(r"\+[0-9]+", value):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value))
    except phonenumbers.NumberParseException:
        return False


def assert_agrees(text: str | None, region: str | None) -> str | None:
    ours = normalise_phone(text, region)
    assert ours == reference_normalise(text, region), (text, region)
    candidates = [ours or ""] + ([text, "+" + re.sub(r"\D", "", text)] if text else [])
    for value in candidates:
        assert is_valid_e164(value) == reference_is_valid_e164(value), value
    return ours


# --- how people type numbers --------------------------------------------------------------------

TYPED_SWEDISH = ["070-123 45 67", "070 123 45 67", "0701234567", "+46 70 123 45 67", "0046701234567",
                 "070-1234567", "(070) 123 45 67", "070\u00a0123\u00a045\u00a067", "070.123.45.67",
                 "+46 (0)70-123 45 67", "  070 - 123 45 67 ", "070\u2013123 45 67", "46701234567"]


@pytest.mark.parametrize("text", TYPED_SWEDISH)
@pytest.mark.parametrize("region", ["SE", None, "se", "xx"])
def test_swedish_mobile_typed_any_way_is_one_number(text, region):
    assert normalise_phone(text, region) == "+46701234567"
    assert is_valid_e164(normalise_phone(text, region))


@pytest.mark.parametrize(("text", "region"), [
    ("+47 412 34 567", "SE"), ("+47 412 34 567", "NO"), ("41234567", "NO"), ("412 34 567", "no"),
    ("0047 41234567", "SE"), ("0047 41234567", "NO"), ("+4741234567", None),
])
def test_norwegian_mobile(text, region):
    assert normalise_phone(text, region) == "+4741234567"


def test_region_decides_numbers_without_country_code():
    # Norway has no trunk prefix: its eight digits are the national number; Sweden drops the leading 0.
    assert normalise_phone("22 12 34 56", "NO") == "+4722123456"
    assert normalise_phone("08-123 456 78", "SE") == "+46812345678"
    assert normalise_phone("08-123 456 78") == "+46812345678"
    assert normalise_phone("41234567", "SE") == "41234567"  # not a Swedish number: left as typed


@pytest.mark.parametrize(("text", "expected"), [
    (None, None), ("", None), ("   ", None), ("\u00a0\t", None),
    ("070-123", "070-123"),  # too short
    ("  ring  mig  ", "ring mig"),
    ("070 123 45 67 89 01 23", "070 123 45 67 89 01 23"),  # too long
    ("+99 123 456 789", "+99 123 456 789"),  # no such country code
    ("08-123 456 78 ext. 12", "08-123 456 78 ext. 12"),  # an extension would be lost in E.164
    ("Cafe\u0301 070", "Caf\u00e9 070"),  # NFC
])
def test_unreadable_numbers_come_back_trimmed_for_the_validator_to_reject(text, expected):
    assert normalise_phone(text) == expected
    if expected is not None:
        assert not is_valid_e164(expected)


@pytest.mark.parametrize(("value", "valid"), [
    ("+46701234567", True), ("+4741234567", True), ("+4722123456", True), ("+358401234567", True),
    ("+46 70 123 45 67", False),  # a valid number, but not E.164 text
    ("+4670123", False), ("0701234567", False), ("46701234567", False), ("+", False), ("", False),
    ("+0046701234567", False), ("+46701234567\n", False), ("+４６701234567", False),
])
def test_is_valid_e164(value, valid):
    assert is_valid_e164(value) is valid
    assert reference_is_valid_e164(value) is valid


# --- exact agreement with phonenumbers ----------------------------------------------------------

_PREFERRED_CODES = [46, 47, 45, 358, 44, 1, 49]
_REGIONS = ["SE", "NO", "DK", "FI", "GB", "US", "DE", "SJ", "AX", "GG", "CA", "IT", "AR", "BR", None, "xx", "se"]
_SEPARATORS = [" ", "-", ".", "", "\u00a0", "/", "\u2013", " - "]
_GARBAGE = "0123456789" * 4 + " -.()+/x#~;,*aZ\u00a0\u2013\u2212\u0663\uff10\u30fc\u00ad\u200b\t"


def _generated_inputs(count: int, seed: int) -> list[tuple[str, str | None]]:
    """Random national numbers of 1-18 digits behind the country codes that matter here (and every other
    one), written as E.164, with an international or trunk prefix, grouped with separators, bracketed;
    plus garbage."""
    rng = random.Random(seed)
    all_codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)

    def grouped(digits: str) -> str:
        groups, i = [], 0
        while i < len(digits):
            size = rng.randint(1, 4)
            groups.append(digits[i:i + size])
            i += size
        return rng.choice(_SEPARATORS).join(groups)

    out = []
    for _ in range(count):
        code = str(rng.choice(_PREFERRED_CODES * 6 + all_codes))
        nsn = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
        if rng.random() < 0.6:
            nsn = rng.choice("123456789") + nsn[1:]
        form = rng.random()
        if form < 0.25:
            text = f"+{code}{nsn}"
        elif form < 0.4:
            text = rng.choice(["+", "00", "011", "+00", "0", ""]) + grouped(code + nsn)
        elif form < 0.55:
            text = "0" + grouped(nsn)
        elif form < 0.7:
            text = grouped(nsn)
        elif form < 0.8:
            text = rng.choice(["(", "+", "(+", " "]) + grouped(code) + rng.choice([")", ") ", " "]) + grouped(nsn)
        elif form < 0.9:
            text = "".join(rng.choice(_GARBAGE) for _ in range(rng.randint(0, 25)))
        elif form < 0.95:
            text = "+" + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 22)))
        else:
            text = rng.choice(["46", "47", "0046", "+46 0", "+47 0"]) + grouped(nsn)
        out.append((text, rng.choice(_REGIONS)))
    return out


def test_agrees_with_phonenumbers_on_a_large_generated_set():
    inputs = _generated_inputs(30_000, seed=20261125)
    results = [assert_agrees(text, region) for text, region in inputs]
    # The set must exercise both answers, or agreement would prove little.
    assert sum(1 for r in results if r and is_valid_e164(r)) > 1_500
    assert sum(1 for r in results if r is not None and not is_valid_e164(r)) > 10_000


def _seed_phones(data) -> list[tuple[str | None, str | None]]:
    huma = [(u["phone"], (u["homeAddress"] or {}).get("country")) for u in data.huma_users]
    crona = [(e["Mobil"], to_alpha2(e["Land"])) for e in data.crona_employees]
    return huma + crona


def test_agrees_with_phonenumbers_on_every_seed_phone():
    data = generate(2000, seed=3)
    phones = _seed_phones(data)
    assert sum(1 for text, _ in phones if text) > 3_500
    for text, region in phones:
        assert_agrees(text, region)
        # Also as they would look with any Nordic region, or none.
        for other in ("SE", "NO", None):
            assert_agrees(text, other)


def test_seed_phones_written_differently_are_the_same_number():
    """Huma's phone and Crona's Mobil of one person normalise alike, also when Crona writes it another way."""
    data = generate(2000, seed=3)
    planted = {d.email for d in data.discrepancies if d.field == "phone" and d.kind != "phone_format"}
    written_differently = {d.email for d in data.discrepancies if d.kind == "phone_format"}
    crona = {e["EpostArb"].casefold(): e for e in data.crona_employees}
    compared = reformatted = 0
    for user in data.huma_users:
        email = user["email"].casefold()
        employee = crona.get(email)
        if employee is None or email in planted or user["homeAddress"] is None:
            continue  # one-sided, a planted difference, or no address to say which country the number is from
        huma = normalise_phone(user["phone"], user["homeAddress"]["country"])
        mobil = normalise_phone(employee["Mobil"], to_alpha2(employee["Land"]))
        assert huma == mobil, (user["phone"], employee["Mobil"])
        if huma is not None:
            assert is_valid_e164(huma)
            compared += 1
        if email in written_differently:
            assert user["phone"] != employee["Mobil"]
            reformatted += 1
    assert compared > 1_500 and reformatted > 100


# --- properties ---------------------------------------------------------------------------------

_TYPING = st.text(alphabet="0123456789 -.()+/\u00a0\u2013", max_size=24)
_ANYTHING = st.text(max_size=30)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_TYPING, _ANYTHING), st.sampled_from(["SE", "NO", "DK", "FI", None]))
def test_normalising_twice_equals_once(text, region):
    once = normalise_phone(text, region)
    assert normalise_phone(once, region) == once
    assert once == reference_normalise(text, region)


@st.composite
def nordic_numbers(draw) -> tuple[str, str]:
    """A valid Swedish or Norwegian mobile or landline number: (region, national significant number)."""
    region = draw(st.sampled_from(["SE", "NO"]))
    if region == "SE":
        head = draw(st.sampled_from(["70", "72", "73", "76", "79", "8", "31", "40", "90", "13", "18"]))
        body = draw(st.text(alphabet="0123456789", min_size=9 - len(head), max_size=9 - len(head)))
    else:
        head = draw(st.sampled_from(["40", "41", "46", "47", "48", "9", "2", "5", "6", "7"]))
        body = draw(st.text(alphabet="0123456789", min_size=8 - len(head), max_size=8 - len(head)))
    nsn = head + body
    code = "46" if region == "SE" else "47"
    assume(phonenumbers.is_valid_number(phonenumbers.parse(f"+{code}{nsn}")))
    return region, nsn


@settings(max_examples=300, deadline=None)
@given(nordic_numbers(), st.lists(st.integers(1, 4), min_size=1, max_size=6),
       st.sampled_from([" ", "-", ".", "\u00a0", " - ", ""]))
def test_formatting_variants_of_one_number_give_the_same_e164(number, sizes, separator):
    region, nsn = number
    code = "46" if region == "SE" else "47"
    groups, rest = [], nsn
    for size in sizes:
        groups.append(rest[:size])
        rest = rest[size:]
    grouped = separator.join([g for g in groups if g] + ([rest] if rest else []))
    variants = [f"+{code}{nsn}", f"+{code} {grouped}", f"00{code}{nsn}", f"00{code} {grouped}"]
    if region == "SE":
        variants += [f"0{grouped}", f"(0{nsn[:2]}) {nsn[2:]}", f"+46 (0){grouped}", f"0{nsn[:2]}-{nsn[2:]}"]
    else:
        variants += [grouped, nsn]
    for text in variants:
        assert normalise_phone(text, region) == f"+{code}{nsn}", text
