"""phonenumbers' metadata compiled for `core.phones`' fast path: per region, the national-number patterns,
possible lengths and prefixes, and the steps of ``phonenumbers.parse`` + ``is_valid_number`` that use them
once the digits are known (country code, national prefix, length, number type). Anything these steps do not
repeat exactly raises `SlowPath`, and the caller asks phonenumbers itself."""

from __future__ import annotations

import re
from dataclasses import dataclass

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

# phonenumbers' limits (phonenumberutil: _MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN, _MAX_LENGTH_COUNTRY_CODE).
MIN_NSN = 2
MAX_NSN = 17
MAX_COUNTRY_CODE = 3

# Results of nsn_length(): phonenumbers' ValidationResult for the national number's length.
_POSSIBLE, _LOCAL_ONLY, _TOO_SHORT, TOO_LONG, _INVALID_LENGTH = range(5)
# A national prefix is stripped only when what remains is possible or still too long (phonenumbers.parse).
KEEP_STRIPPED = (_POSSIBLE, TOO_LONG)

# The number types phonenumbers tries in _number_type_helper; a number is valid when it matches the
# general description and any one of these.
_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
               "voicemail", "fixed_line", "mobile")


class SlowPath(Exception):
    """Raised inside the fast path for input it does not cover; the caller asks phonenumbers instead."""


@dataclass(frozen=True)
class RegionPlan:
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


def _compile_plan(metadata: PhoneMetadata) -> RegionPlan:
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
    return RegionPlan(
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


def _checked_plan(metadata: PhoneMetadata | None) -> RegionPlan:
    if metadata is None or not metadata.general_desc.possible_length:  # not in phonenumbers 9.x; be safe
        raise SlowPath
    return _compile_plan(metadata)


_REGION_PLANS: dict[str, RegionPlan] = {}
_COUNTRY_PLANS: dict[int, tuple[RegionPlan, ...]] = {}


def region_plan(region: str) -> RegionPlan:
    """The plan for a supported region code, compiled on first use."""
    plan = _REGION_PLANS.get(region)
    if plan is None:
        plan = _REGION_PLANS[region] = _checked_plan(PhoneMetadata.metadata_for_region(region, None))
    return plan


def country_plans(country_code: int) -> tuple[RegionPlan, ...]:
    """Plans for every region sharing a country code, main region first (COUNTRY_CODE_TO_REGION_CODE order);
    a non-geographic code ("001": 800, 882, ...) has one plan of its own."""
    plans = _COUNTRY_PLANS.get(country_code)
    if plans is None:
        regions = COUNTRY_CODE_TO_REGION_CODE[country_code]
        if regions == ("001",):
            plans = (_checked_plan(PhoneMetadata.metadata_for_nongeo_region(country_code, None)),)
        else:
            plans = tuple(region_plan(r) for r in regions if PhoneMetadata.metadata_for_region(r, None) is not None)
        _COUNTRY_PLANS[country_code] = plans
    return plans


def nsn_length(nsn: str, plan: RegionPlan) -> int:
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
        return TOO_LONG
    return _POSSIBLE if n in lengths else _INVALID_LENGTH


def matches_general(nsn: str, plan: RegionPlan) -> bool:
    return plan.general is not None and plan.general.fullmatch(nsn) is not None


def strip_national_prefix(nsn: str, plan: RegionPlan) -> str:
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
        raise SlowPath
    stripped = nsn[end:]
    if matches_general(nsn, plan) and not matches_general(stripped, plan):
        return nsn
    return stripped


# Country calling codes by their digits ("46" -> 46); none starts with 0.
COUNTRY_CODES = {str(code): code for code in COUNTRY_CODE_TO_REGION_CODE}


def split_country_code(digits: str) -> tuple[int, str]:
    """(country code, rest) for digits after "+" or an international prefix; (0, digits) when none fits.

    phonenumbers' _extract_country_code: the shortest 1-3 digit prefix that is a known country code."""
    code = COUNTRY_CODES.get(digits[:1])
    if code is not None:
        return code, digits[1:]
    code = COUNTRY_CODES.get(digits[:2])
    if code is not None:
        return code, digits[2:]
    code = COUNTRY_CODES.get(digits[:3])
    if code is not None:
        return code, digits[3:]
    return 0, digits


def _type_known(nsn: str, plan: RegionPlan) -> bool:
    pattern = plan.valid.get(len(nsn))
    return pattern is not None and pattern.fullmatch(nsn) is not None


def valid_in(plans: tuple[RegionPlan, ...], nsn: str) -> bool:
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


def national_e164(country_code: int, nsn: str, plan: RegionPlan | None = None) -> str | None:
    """The rest of phonenumbers.parse once the country code is known, then is_valid_number: the E.164 text
    of a valid number, or None. ``plan`` is the metadata parse strips the national prefix with: the
    default region's when the number had no country code, else the country code's main region's."""
    if len(nsn) < MIN_NSN:
        return None
    plans = country_plans(country_code)
    if plan is None:
        plan = plans[0]
    stripped = strip_national_prefix(nsn, plan)
    if stripped is not nsn and nsn_length(stripped, plan) in KEEP_STRIPPED:
        nsn = stripped
    if len(nsn) < MIN_NSN or len(nsn) > MAX_NSN:
        return None
    # Leading zeros are kept as phonenumbers keeps them (italian_leading_zero), so the digits are the NSN.
    return f"+{country_code}{nsn}" if valid_in(plans, nsn) else None
