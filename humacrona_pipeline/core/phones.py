"""Phone numbers: one E.164 form for every way people type a number, and whether that number can exist.

Huma's ``phone`` and Crona's ``Mobil`` hold the same numbers written differently ("070-123 45 67",
"+46 70 123 45 67", "0046701234567"), so they are compared in E.164. Both answers are the ones
``phonenumbers`` gives; but ``phonenumbers.parse`` + ``is_valid_number`` cost ~20 µs a number, which is
seconds for a 100 000-employee reconciliation. Here the common case (digits, spaces, dashes, dots,
brackets and a leading "+") takes a fast path that repeats phonenumbers' steps on plain strings, with
the national-number patterns compiled once per country from phonenumbers' own metadata: strip an
international prefix or "+", split the country code, strip the national (trunk) prefix when phonenumbers
would, then match the possible lengths and number-type patterns. Everything else (letters, extensions,
RFC 3966, full-width digits, two-digit input, a "+" with no known country code, national-prefix
transform rules) goes to phonenumbers itself. tests/core/test_phones.py holds the two to zero
disagreements on a large generated set and on the seed data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS, NumberParseException, PhoneMetadata

from .chars import char_matrix
from .known import KnownValid

__all__ = ["DEFAULT_REGION", "e164_verdicts", "is_known_e164", "is_valid_e164", "known_numbers", "normalise_phone"]

DEFAULT_REGION = "SE"

# phonenumbers' limits (phonenumberutil: _MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN, _MAX_INPUT_STRING_LENGTH,
# _MAX_LENGTH_COUNTRY_CODE).
_MIN_NSN = 2
_MAX_NSN = 17
_MAX_INPUT = 250
_MAX_COUNTRY_CODE = 3

# Separators the fast path removes. All are phonenumbers "valid punctuation" that can neither start an
# extension ("~", "#", "x", ",", ";" can) nor end the number's digits; whitespace is already collapsed
# to " " by then. Any other character sends the text to phonenumbers.
_SEPARATORS = " -./()[]\u00ad\u200b\u2060\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DROP_SEPARATORS = str.maketrans("", "", _SEPARATORS)

# Results of _length(): phonenumbers' ValidationResult for the national number's length.
_POSSIBLE, _LOCAL_ONLY, _TOO_SHORT, _TOO_LONG, _INVALID_LENGTH = range(5)
# A national prefix is stripped only when what remains is possible or still too long (phonenumbers.parse).
_KEEP_STRIPPED = (_POSSIBLE, _TOO_LONG)

# The number types phonenumbers tries in _number_type_helper; a number is valid when it matches the
# general description and any one of these.
_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
               "voicemail", "fixed_line", "mobile")


class _Slow(Exception):
    """Raised inside the fast path for input it does not cover; the caller asks phonenumbers instead."""


@dataclass(frozen=True)
class _Plan:
    """What the fast path needs from one region's metadata, compiled once."""

    country_code: int
    international_prefix: re.Pattern | None
    international_literal: str | None  # the international prefix when it is plain digits ("00")
    general: re.Pattern | None  # general_desc pattern, used with fullmatch
    lengths: tuple[int, ...]  # general_desc possible lengths (never empty)
    local_lengths: tuple[int, ...]
    national_prefix: re.Pattern | None  # national_prefix_for_parsing
    national_literal: str | None  # the same when it is plain digits ("0"): startswith instead of a regex
    transform: bool  # the region rewrites its national prefix: left to phonenumbers
    leading_digits: re.Pattern | None  # tells regions sharing a country code apart
    valid: dict[int, re.Pattern]  # per length: general pattern AND any type pattern, for fullmatch


def _compile(pattern: str | None) -> re.Pattern | None:
    return re.compile(pattern) if pattern else None


def _literal(pattern: str | None) -> str | None:
    return pattern if pattern and pattern.isascii() and pattern.isdigit() else None


def _compile_plan(metadata: PhoneMetadata) -> _Plan:
    general = metadata.general_desc
    lengths = tuple(general.possible_length)
    valid: dict[int, re.Pattern] = {}
    if general.national_number_pattern:
        descs = [getattr(metadata, name) for name in _TYPE_DESCS]
        if metadata.same_mobile_and_fixed_line_pattern:
            descs.pop()  # phonenumbers never tries mobile then (it matched fixed line or nothing)
        for length in lengths:
            alternatives = [d.national_number_pattern for d in descs
                            if d is not None and d.national_number_pattern
                            and (not d.possible_length or length in d.possible_length)]
            if alternatives:
                valid[length] = re.compile(
                    f"(?=(?:{general.national_number_pattern})\\Z)(?:{'|'.join(alternatives)})")
    return _Plan(
        country_code=metadata.country_code,
        international_prefix=_compile(metadata.international_prefix),
        international_literal=_literal(metadata.international_prefix),
        general=_compile(general.national_number_pattern),
        lengths=lengths,
        local_lengths=tuple(general.possible_length_local_only),
        national_prefix=_compile(metadata.national_prefix_for_parsing),
        national_literal=_literal(metadata.national_prefix_for_parsing),
        transform=bool(metadata.national_prefix_transform_rule),
        leading_digits=_compile(metadata.leading_digits),
        valid=valid,
    )


def _checked_plan(metadata: PhoneMetadata | None) -> _Plan:
    if metadata is None or not metadata.general_desc.possible_length:  # not in phonenumbers 9.x; be safe
        raise _Slow
    return _compile_plan(metadata)


_REGION_PLANS: dict[str, _Plan] = {}
_COUNTRY_PLANS: dict[int, tuple[_Plan, ...]] = {}


def _region_plan(region: str) -> _Plan:
    """The plan for a supported region code, compiled on first use."""
    plan = _REGION_PLANS.get(region)
    if plan is None:
        plan = _REGION_PLANS[region] = _checked_plan(PhoneMetadata.metadata_for_region(region, None))
    return plan


def _country_plans(country_code: int) -> tuple[_Plan, ...]:
    """Plans for every region sharing a country code, main region first (COUNTRY_CODE_TO_REGION_CODE order);
    a non-geographic code ("001": 800, 882, ...) has one plan of its own."""
    plans = _COUNTRY_PLANS.get(country_code)
    if plans is None:
        regions = COUNTRY_CODE_TO_REGION_CODE[country_code]
        if regions == ("001",):
            plans = (_checked_plan(PhoneMetadata.metadata_for_nongeo_region(country_code, None)),)
        else:
            plans = tuple(_region_plan(r) for r in regions if PhoneMetadata.metadata_for_region(r, None) is not None)
        _COUNTRY_PLANS[country_code] = plans
    return plans


def _length(nsn: str, plan: _Plan) -> int:
    """phonenumbers' _test_number_length for an unknown number type."""
    n = len(nsn)
    if n in plan.local_lengths:
        return _LOCAL_ONLY
    lengths = plan.lengths
    if n == lengths[0]:
        return _POSSIBLE
    if n < lengths[0]:
        return _TOO_SHORT
    if n > lengths[-1]:
        return _TOO_LONG
    return _POSSIBLE if n in lengths else _INVALID_LENGTH


def _matches_general(nsn: str, plan: _Plan) -> bool:
    return plan.general is not None and plan.general.fullmatch(nsn) is not None


def _strip_national_prefix(nsn: str, plan: _Plan) -> str:
    """phonenumbers' _maybe_strip_national_prefix_carrier_code, without the carrier code."""
    literal = plan.national_literal
    if literal is not None:
        if not nsn.startswith(literal):
            return nsn
        end = len(literal)
    else:
        if plan.national_prefix is None or not nsn:
            return nsn
        match = plan.national_prefix.match(nsn)
        if match is None:
            return nsn
        end = match.end()
    if plan.transform:
        raise _Slow
    stripped = nsn[end:]
    if _matches_general(nsn, plan) and not _matches_general(stripped, plan):
        return nsn
    return stripped


# Country calling codes by their digits ("46" -> 46); none starts with 0.
_COUNTRY_CODES = {str(code): code for code in COUNTRY_CODE_TO_REGION_CODE}


def _split_country_code(digits: str) -> tuple[int, str]:
    """(country code, rest) for digits after "+" or an international prefix; (0, digits) when none fits.

    phonenumbers' _extract_country_code: the shortest 1-3 digit prefix that is a known country code."""
    code = _COUNTRY_CODES.get(digits[:1])
    if code is not None:
        return code, digits[1:]
    code = _COUNTRY_CODES.get(digits[:2])
    if code is not None:
        return code, digits[2:]
    code = _COUNTRY_CODES.get(digits[:3])
    if code is not None:
        return code, digits[3:]
    return 0, digits


def _type_known(nsn: str, plan: _Plan) -> bool:
    pattern = plan.valid.get(len(nsn))
    return pattern is not None and pattern.fullmatch(nsn) is not None


def _valid(plans: tuple[_Plan, ...], nsn: str) -> bool:
    """phonenumbers.is_valid_number: the number's region (by leading digits, else by the first region the
    number is valid in) and the number-type patterns of that region."""
    if len(plans) == 1:
        return _type_known(nsn, plans[0])
    for plan in plans:
        if plan.leading_digits is not None:
            if plan.leading_digits.match(nsn):
                return _type_known(nsn, plan)
        elif _type_known(nsn, plan):
            return True
    return False


def _national(country_code: int, nsn: str, plan: _Plan | None = None) -> str | None:
    """The rest of phonenumbers.parse once the country code is known, then is_valid_number: the E.164 text
    of a valid number, or None. ``plan`` is the metadata parse strips the national prefix with: the
    default region's when the number had no country code, else the country code's main region's."""
    if len(nsn) < _MIN_NSN:
        return None
    plans = _country_plans(country_code)
    if plan is None:
        plan = plans[0]
    stripped = _strip_national_prefix(nsn, plan)
    if stripped is not nsn and _length(stripped, plan) in _KEEP_STRIPPED:
        nsn = stripped
    if len(nsn) < _MIN_NSN or len(nsn) > _MAX_NSN:
        return None
    # Leading zeros are kept as phonenumbers keeps them (italian_leading_zero), so the digits are the NSN.
    return f"+{country_code}{nsn}" if _valid(plans, nsn) else None


def _fast(text: str, region: str) -> str | None:
    """E.164 of a valid number, None for anything phonenumbers cannot read or finds invalid; _Slow when the
    text is outside what this path repeats exactly. ``text`` has its whitespace collapsed to single spaces."""
    if len(text) > _MAX_INPUT:
        raise _Slow
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
                raise _Slow  # letters, other symbols, a "+" inside the number: phonenumbers decides
    if len(digits) < 3:  # two digits without separators are read by a rule of their own
        raise _Slow
    if plus:
        country_code, nsn = _split_country_code(digits)
        if country_code == 0:  # phonenumbers then retries without the "+"
            raise _Slow
        return _national(country_code, nsn)

    plan = _region_plan(region)
    if plan.international_literal is not None:
        idd_end = len(plan.international_literal) if digits.startswith(plan.international_literal) else -1
    else:
        idd = plan.international_prefix.match(digits) if plan.international_prefix is not None else None
        idd_end = -1 if idd is None else idd.end()
    if idd_end >= 0 and digits[idd_end:idd_end + 1] != "0":  # a 0 after it: not an international prefix
        rest = digits[idd_end:]
        if len(rest) <= _MIN_NSN:
            return None  # TOO_SHORT_AFTER_IDD
        country_code, nsn = _split_country_code(rest)
        return _national(country_code, nsn) if country_code else None

    # No international prefix: the region's own country code, unless the digits begin with it and
    # phonenumbers would read them as that country code written without "+".
    own = str(plan.country_code)
    if digits.startswith(own):
        after = _strip_national_prefix(digits[len(own):], plan)
        if ((not _matches_general(digits, plan) and _matches_general(after, plan))
                or _length(digits, plan) == _TOO_LONG):
            return _national(plan.country_code, after)
    return _national(plan.country_code, digits, plan)


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
    except _Slow:
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
    country_code, nsn = _split_country_code(digits)
    if country_code == 0:
        return False  # phonenumbers retries without "+" and, with no region, gives up
    try:
        return _national(country_code, nsn) is not None
    except _Slow:
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

_MAX_E164 = 1 + _MAX_COUNTRY_CODE + _MAX_NSN  # longer "+digits" text is left to normalise_phone
# Regex syntax that looks before the position a match starts at: a pattern without it matches a number
# inside the E.164 text just as it matches the number alone.
_READS_CONTEXT = re.compile(r"\^|\\A|\\b|\\B|\(\?<[=!]")


def _country_code_table(digits: int) -> np.ndarray:
    table = np.zeros(10 ** digits, dtype=np.int64)
    for text, code in _COUNTRY_CODES.items():
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
            plans = _country_plans(country_code)
        except _Slow:
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
            if length < _MIN_NSN or length > _MAX_NSN:
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
                found = [_valid(plans, values[i][start:]) for i in at.tolist()]
            verdicts[at] = found
    return verdicts
