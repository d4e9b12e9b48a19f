"""Validators: whether a normalised value may be synced, and if not, a reason a person can act on.

Each kind has a vectorised test (what the pandera schemas run over a whole column) and an explanation
(what a quarantine row says about the few values that fail). Bank-account reasons never carry the number."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from . import bank_accounts, phones
from .chars import is_none
from .countries import is_alpha2, to_alpha2
from .display import present
from .fields import ADDRESS_PARTS, PART_SEPARATOR, Kind
from .normalise import (address_parts, bank_account_split, bank_account_value, is_known_valid_account, known_accounts,
                        known_addresses)

# A practical address check (no network): one @, a dot-separated domain of letters, digits and hyphens.
EMAIL_PATTERN = (r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                 r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_EMAIL = re.compile(EMAIL_PATTERN)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FIRST_YEAR = 1900


def _email_problem(value: str) -> str | None:
    if _EMAIL.fullmatch(value):
        return None
    if "@" not in value:
        return f"{value!r} is not an email address (no @)"
    return f"{value!r} is not a valid email address"


def _date_problem(value: str) -> str | None:
    if not _DATE.fullmatch(value):
        return f"{value!r} is not a date written YYYY-MM-DD"
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not a calendar date"
    if day.year < _FIRST_YEAR:
        return f"{value!r} is before {_FIRST_YEAR}"
    return None


def _phone_problem(value: str) -> str | None:
    if phones.is_valid_e164(value):
        return None
    return f"{value!r} is not a valid phone number"


def _address_problem(value: str) -> str | None:
    pieces = value.split(PART_SEPARATOR)
    if len(pieces) == len(ADDRESS_PARTS) and all(pieces) and is_alpha2(pieces[-1]):
        return None  # the common case, without building the parts
    parts = address_parts(value)
    code = parts["country"]
    if code is None:
        return "the address has no country"
    if not is_alpha2(code):
        known = to_alpha2(code)
        hint = (f" (it names {known}; the policy option map_country_names would map it)" if known
                else "")
        return f"country {code!r} is not an ISO 3166-1 alpha-2 code{hint}"
    missing = [name.replace("_", " ") for name in ("line1", "postal_code", "city") if parts[name] is None]
    if missing:
        return f"the address has no {' and no '.join(missing)}"
    return None


def _bank_account_problem(value: str) -> str | None:
    if is_known_valid_account(value):
        return None
    check = _bank_check(value)
    if check.valid:
        if not _STORED_ACCOUNT.fullmatch(value) or bank_account_value(check) != value:
            return "the bank account is not in clearing + account form (normalise it first)"
        return None
    return f"not a valid Swedish bank account: {check.reason}"


_STORED_ACCOUNT = re.compile(r"\d{4,5} \d+")


@lru_cache(maxsize=1 << 17)
def _bank_check(value: str) -> bank_accounts.BankAccountCheck:
    """Stored form ("clearing account") is validated as two parts; anything else is read as typed."""
    if _STORED_ACCOUNT.fullmatch(value):
        return bank_accounts.validate(*bank_account_split(value))
    return bank_accounts.parse(value)


def _no_problem(value: str) -> str | None:
    return None


_PROBLEMS: dict[Kind, Callable[[str], str | None]] = {
    Kind.EMAIL: _email_problem,
    Kind.DATE: _date_problem,
    Kind.PHONE: _phone_problem,
    Kind.ADDRESS: _address_problem,
    Kind.BANK_ACCOUNT: _bank_account_problem,
    Kind.TEXT: _no_problem,
    Kind.IDENTIFIER: _no_problem,
}


def problem(kind: Kind, value: object) -> str | None:
    """Why ``value`` (normalised) cannot be synced, or None when it can. Blank values have no problem."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return _PROBLEMS[kind](str(value))


# Values the normalisers recorded as valid: a set lookup instead of the validator (see core.known).
_KNOWN = {Kind.PHONE: phones.known_numbers, Kind.ADDRESS: known_addresses, Kind.BANK_ACCOUNT: known_accounts}


def valid(kind: Kind, values: pd.Series) -> pd.Series:
    """A boolean per value: True when it may be synced (nulls are True; required-ness is checked elsewhere)."""
    result = np.ones(len(values), dtype=bool)
    if kind in (Kind.TEXT, Kind.IDENTIFIER):
        return pd.Series(result, index=values.index)
    array = values.to_numpy(dtype=object)
    rest = np.flatnonzero(~is_none(array))
    if kind in _KNOWN:  # (a known value is text, so never a blank)
        known = _KNOWN[kind]
        rest = rest[~known.mask_objects(array[rest])]
        rest = rest[~known.mask(array[rest])]
    subject = array[rest].tolist()
    odd = [k for k, v in enumerate(subject) if type(v) is not str]
    if odd:  # NaN and the like are blanks too (valid); other values are validated as their text
        blank = {k for k in odd if not present(subject[k])}
        keep = [k for k in range(len(subject)) if k not in blank]
        rest = rest[keep]
        subject = [subject[k] if type(subject[k]) is str else str(subject[k]) for k in keep]
    if len(rest):
        result[rest] = _test(kind, subject)
    return pd.Series(result, index=values.index)


def _test(kind: Kind, subject: list[str]) -> np.ndarray:
    if kind == Kind.EMAIL:
        match = _EMAIL.fullmatch  # one regex per address: quicker than hashing it into a set of known ones
        return np.fromiter((match(v) is not None for v in subject), dtype=bool, count=len(subject))
    verdicts = np.ones(len(subject), dtype=bool)
    todo = np.arange(len(subject))
    if kind == Kind.PHONE:  # E.164 text, grouped by country code, without reading it one number at a time
        decided = phones.e164_verdicts(subject)
        verdicts = decided == 1
        todo = np.flatnonzero(decided < 0)
        test = phones.is_valid_e164
    else:
        check = _PROBLEMS[kind]

        def test(value: str) -> bool:
            return check(value) is None
    if len(todo):
        # Each distinct value once: dates, addresses and the like repeat across many employees.
        codes, uniques = pd.factorize(np.array([subject[i] for i in todo.tolist()], dtype=object))
        distinct = np.fromiter((test(u) for u in uniques), dtype=bool, count=len(uniques))
        verdicts[todo] = distinct[codes]
    return verdicts


def duplicated(values: pd.Series) -> pd.Series:
    """True for every non-null value that occurs more than once."""
    repeated = values.duplicated(keep=False).to_numpy() & ~is_none(values.to_numpy(dtype=object))
    if repeated.any():  # NaN and the like are blanks too
        at = np.flatnonzero(repeated)
        repeated[at] = pd.notna(values.to_numpy(dtype=object)[at])
    return pd.Series(repeated, index=values.index)
