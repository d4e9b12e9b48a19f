"""Phone numbers: one E.164 form for every way people type a number, and whether that number can exist.

Huma's ``phone`` and Crona's ``Mobil`` hold the same numbers written differently ("070-123 45 67",
"+46 70 123 45 67", "0046701234567"), so they are compared in E.164. Both answers are the ones
``phonenumbers`` gives; but ``phonenumbers.parse`` + ``is_valid_number`` cost ~20 µs a number, which is
seconds for a 100 000-employee reconciliation. Here the common case (digits, spaces, dashes, dots,
brackets and a leading "+") takes a fast path that repeats phonenumbers' steps on plain strings, with
the national-number patterns compiled once per country from phonenumbers' own metadata (`core.phone_metadata`):
strip an international prefix or "+", split the country code, strip the national (trunk) prefix when
phonenumbers would, then match the possible lengths and number-type patterns. Everything else (letters, extensions,
RFC 3966, full-width digits, two-digit input, a "+" with no known country code, national-prefix
transform rules) goes to phonenumbers itself. tests/core/test_phones.py holds the two to zero
disagreements on a large generated set and on the seed data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import phonenumbers
from phonenumbers import SUPPORTED_REGIONS, NumberParseException

from .chars import char_matrix
from .known import KnownValid
from .phone_metadata import (
    COUNTRY_CODES,
    MAX_COUNTRY_CODE,
    MAX_NSN,
    MIN_NSN,
    TOO_LONG,
    SlowPath,
    country_plans,
    matches_general,
    national_e164,
    nsn_length,
    region_plan,
    split_country_code,
    strip_national_prefix,
    valid_in,
)

__all__ = ["DEFAULT_REGION", "e164_verdicts", "is_known_e164", "is_valid_e164", "known_numbers", "normalise_phone"]

DEFAULT_REGION = "SE"

# phonenumbers' longest input (phonenumberutil: _MAX_INPUT_STRING_LENGTH).
_MAX_INPUT = 250

# Separators the fast path removes. All are phonenumbers "valid punctuation" that can neither start an
# extension ("~", "#", "x", ",", ";" can) nor end the number's digits; whitespace is already collapsed
# to " " by then. Any other character sends the text to phonenumbers.
_SEPARATORS = " -./()[]\u00ad\u200b\u2060\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DROP_SEPARATORS = str.maketrans("", "", _SEPARATORS)


def _fast(text: str, region: str) -> str | None:
    """E.164 of a valid number, None for anything phonenumbers cannot read or finds invalid; SlowPath when the
    text is outside what this path repeats exactly. ``text`` has its whitespace collapsed to single spaces."""
    if len(text) > _MAX_INPUT:
        raise SlowPath
    plus = text[:1] == "+"
    digits = text[1:] if plus else text
    if not (digits.isdigit() and digits.isascii()):
        # Separators to drop: spaces and hyphens first (str.replace is quicker than translate), then the rest.
        cleaned = text.replace(" ", "").replace("-", "")
        plus = cleaned[:1] == "+"
        digits = cleaned[1:] if plus else cleaned
        if not (digits.isdigit() and digits.isascii()):
            cleaned = cleaned.translate(_DROP_SEPARATORS)
            plus = cleaned[:1] == "+"
            digits = cleaned[1:] if plus else cleaned
            if not (digits.isdigit() and digits.isascii()):
                raise SlowPath  # letters, other symbols, a "+" inside the number: phonenumbers decides
    if len(digits) < 3:  # two digits without separators are read by a rule of their own
        raise SlowPath
    if plus:
        country_code, nsn = split_country_code(digits)
        if country_code == 0:  # phonenumbers then retries without the "+"
            raise SlowPath
        return national_e164(country_code, nsn)

    plan = region_plan(region)
    if plan.international_literal is not None:
        idd_end = len(plan.international_literal) if digits.startswith(plan.international_literal) else -1
    else:
        idd = plan.international_prefix.match(digits) if plan.international_prefix is not None else None
        idd_end = -1 if idd is None else idd.end()
    if idd_end >= 0 and digits[idd_end:idd_end + 1] != "0":  # a 0 after it: not an international prefix
        rest = digits[idd_end:]
        if len(rest) <= MIN_NSN:
            return None  # TOO_SHORT_AFTER_IDD
        country_code, nsn = split_country_code(rest)
        return national_e164(country_code, nsn) if country_code else None

    # No international prefix: the region's own country code, unless the digits begin with it and
    # phonenumbers would read them as that country code written without "+".
    own = str(plan.country_code)
    if digits.startswith(own):
        after = strip_national_prefix(digits[len(own):], plan)
        if ((not matches_general(digits, plan) and matches_general(after, plan))
                or nsn_length(digits, plan) == TOO_LONG):
            return national_e164(plan.country_code, after)
    return national_e164(plan.country_code, digits, plan)


def _slow(text: str, region: str) -> str | None:
    """The same answer from phonenumbers itself; a number with an extension is not read (E.164 has no
    place for it, and dropping it silently would change the number)."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=1024)
def _region_code(region: str | None) -> str:
    if isinstance(region, str):
        code = region.strip().upper()
        if code in SUPPORTED_REGIONS:
            return code
    return DEFAULT_REGION


def _trim(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


# E.164 numbers this module has produced or found valid, so validating a column that was just normalised
# is a lookup (`core.known`).
known_numbers = KnownValid()


def is_known_e164(value: str) -> bool:
    """True when ``value`` is an E.164 number this module produced (so valid, and its own normal form)."""
    return value in known_numbers


def normalise_phone(text: str | None, region: str | None = DEFAULT_REGION) -> str | None:
    """The number in E.164 ("+46701234567") when phonenumbers reads it as a valid number, else the input
    trimmed (NFC, whitespace collapsed to single spaces) so that a validator rejects it and a report shows
    what was typed; None for None or blank text.

    ``region`` (ISO 3166-1 alpha-2, any case; SE when None or unknown) supplies the country code and the
    national (trunk) prefix of numbers written without a country code: "070-123 45 67" is Swedish by
    default, "41234567" needs region "NO". Map country names first (countries.to_alpha2). A number with an
    extension ("ext. 12") comes back as typed: E.164 has no place for the extension."""
    if text is None:
        return None
    trimmed = _trim(text)
    if not trimmed:
        return None
    code = _region_code(region)
    try:
        e164 = _fast(trimmed, code)
    except SlowPath:
        e164 = _slow(trimmed, code)
    if e164 is None:
        return trimmed
    known_numbers.remember(e164)
    return e164


def is_valid_e164(value: str) -> bool:
    """True exactly when ``value`` is E.164 text ("+" and digits, nothing else) that phonenumbers finds
    valid: ``phonenumbers.is_valid_number(phonenumbers.parse(value))``."""
    if value in known_numbers:
        return True
    if not isinstance(value, str) or value[:1] != "+" or value[1:2] == "0":
        return False
    digits = value[1:]
    if len(digits) < 3 or len(value) > _MAX_INPUT or not digits.isascii() or not digits.isdigit():
        return False  # not E.164, or (two digits) not a number phonenumbers reads
    country_code, nsn = split_country_code(digits)
    if country_code == 0:
        return False  # phonenumbers retries without "+" and, with no region, gives up
    try:
        return national_e164(country_code, nsn) is not None
    except SlowPath:
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(value))
        except NumberParseException:
            return False


# --- a column at a time ---------------------------------------------------------------------------
#
# Text that is already E.164 ("+" and ASCII digits, the usual form in both systems) is its own normal form
# whenever the country's national prefix cannot be stripped from it: `normalise_phone` then returns it as
# it is, valid or not. Only its validity needs working out, which is one compiled pattern per number, the
# numbers grouped by country code (and length) with numpy instead of read one by one.

_MAX_E164 = 1 + MAX_COUNTRY_CODE + MAX_NSN  # longer "+digits" text is left to normalise_phone
# Regex syntax that looks before the position a match starts at: a pattern without it matches a number
# inside the E.164 text just as it matches the number alone.
_READS_CONTEXT = re.compile(r"\^|\\A|\\b|\\B|\(\?<[=!]")


def _country_code_table(digits: int) -> np.ndarray:
    table = np.zeros(10 ** digits, dtype=np.int64)
    for text, code in COUNTRY_CODES.items():
        if len(text) == digits:
            table[code] = code
    return table


_CC1, _CC2, _CC3 = (_country_code_table(k) for k in (1, 2, 3))


def e164_verdicts(values: Sequence[object]) -> np.ndarray:
    """Per value: 1 or 0 when it is E.164 text that `normalise_phone` returns unchanged (whatever the region)
    and `is_valid_e164` finds valid (1) or not (0); -1 for any other value, which has to be read one by one."""
    verdicts = np.full(len(values), -1, dtype=np.int8)
    if not len(values):
        return verdicts
    chars, lengths, readable = char_matrix(values, _MAX_E164, min_width=4)
    chars = chars.astype(np.int64) - ord("0")
    width = chars.shape[1]
    inside = np.arange(width) < lengths[:, None]
    digit = (chars >= 0) & (chars <= 9)
    # "+" and at least three digits (two have a rule of their own).
    ok = readable & (lengths >= 4) & (chars[:, 0] == ord("+") - ord("0")) & (digit[:, 1:] | ~inside[:, 1:]).all(1)
    d1, d12, d123 = chars[:, 1], chars[:, 1] * 10 + chars[:, 2], chars[:, 1] * 100 + chars[:, 2] * 10 + chars[:, 3]
    d1, d12, d123 = (np.where(ok, d, 0) for d in (d1, d12, d123))
    # phonenumbers' _extract_country_code: the shortest known one.
    code = np.where(_CC1[d1] > 0, _CC1[d1], np.where(_CC2[d12] > 0, _CC2[d12], _CC3[d123]))
    code_len = np.where(_CC1[d1] > 0, 1, np.where(_CC2[d12] > 0, 2, 3))
    ok &= code > 0
    for country_code in np.unique(code[ok]).tolist():
        try:
            plans = country_plans(country_code)
        except SlowPath:
            continue
        if not plans:
            continue
        rows = np.flatnonzero(ok & (code == country_code))
        start = 1 + int(code_len[rows[0]])
        plan = plans[0]
        if plan.national_literal is not None:  # a number beginning with the national prefix is read one by one
            prefix = np.array([int(ch) for ch in plan.national_literal])
            span = min(len(prefix), width - start)
            rows = rows[~(chars[rows, start:start + span] == prefix[:span]).all(1)]
        elif plan.national_prefix is not None:
            continue
        nsn_lengths = lengths[rows] - start
        verdicts[rows] = 0  # too short or too long for any number, unless found valid below
        for length in np.unique(nsn_lengths).tolist():
            if length < MIN_NSN or length > MAX_NSN:
                continue
            at = rows[nsn_lengths == length]
            if len(plans) == 1:
                pattern = plan.valid.get(length)
                if pattern is None:
                    continue
                if _READS_CONTEXT.search(pattern.pattern):  # (none does: then the number is matched on its own)
                    found = [pattern.fullmatch(values[i][start:]) is not None for i in at.tolist()]
                else:  # matched in place, after the country code, without copying it out
                    found = [pattern.fullmatch(values[i], start) is not None for i in at.tolist()]
            else:
                found = [valid_in(plans, values[i][start:]) for i in at.tolist()]
            verdicts[at] = found
    return verdicts
