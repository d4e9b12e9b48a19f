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
from .countries import is_alpha2, to_alpha2
from .fields import ADDRESS_PARTS, PART_SEPARATOR, Kind
from .normalise import address_parts, bank_account_split, bank_account_value, is_known_valid_account

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


def valid(kind: Kind, values: pd.Series) -> pd.Series:
    """A boolean per value: True when it may be synced (nulls are True; required-ness is checked elsewhere)."""
    present = values.notna()
    result = pd.Series(True, index=values.index)
    if kind in (Kind.TEXT, Kind.IDENTIFIER) or not present.any():
        return result
    subject = values[present].astype(str)
    if kind == Kind.EMAIL:
        result[present] = subject.str.fullmatch(EMAIL_PATTERN)
        return result.astype(bool)
    if kind == Kind.PHONE:
        test = phones.is_valid_e164
    else:
        check = _PROBLEMS[kind]

        def test(value: str) -> bool:
            return check(value) is None
    # Each distinct value once: dates, addresses and the like repeat across many employees.
    codes, uniques = pd.factorize(subject)
    verdicts = np.fromiter((test(u) for u in uniques), dtype=bool, count=len(uniques))
    result[present] = verdicts[codes]
    return result.astype(bool)


def duplicated(values: pd.Series) -> pd.Series:
    """True for every non-null value that occurs more than once."""
    return values.notna() & values.duplicated(keep=False)
