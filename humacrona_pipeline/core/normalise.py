"""Normalisers: one written form per value, so values that differ only in how they are written compare equal.

A normaliser never judges a value: what it cannot read it returns cleaned but otherwise unchanged, and
the validators (`core.validators`, run through the pandera schemas) reject it with a reason. Every
normaliser is idempotent (normalising twice equals normalising once) and maps blank to None."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import numpy as np

from . import bank_accounts, bank_vector, chars, phones
from .countries import is_alpha2, to_alpha2
from .fields import ADDRESS_PARTS, PART_SEPARATOR
from .known import KnownValid

DEFAULT_REGION = "SE"
_SPACE = re.compile(r"\s+")
_SE_POSTAL = re.compile(r"^(\d{3}) ?(\d{2})$")
_BASIC_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


# Whitespace to `str.split` that is a control character other than tab, line feed and carriage return
# (VT, FF, the information separators U+001C-U+001F, NEL): kept as it is, for the validators to refuse,
# rather than turned into a space unseen.
_CONTROL_SPACE = "\x0b\x0c\x1c\x1d\x1e\x1f\x85"
_HAS_CONTROL_SPACE = re.compile(f"[{_CONTROL_SPACE}]")
_SPACE_RUN = re.compile(f"[^\\S{_CONTROL_SPACE}]+")


def _collapse(value: str) -> str:
    """Every whitespace run one space, none at either end: tab, line break and the Unicode spaces (NBSP, U+2028)
    become a space; control characters stay (see `_CONTROL_SPACE`). (Printable text has none: checked in C.)"""
    if value.isprintable() or _HAS_CONTROL_SPACE.search(value) is None:
        return " ".join(value.split())
    return _SPACE_RUN.sub(" ", value).strip(" ")


def text(value: object) -> str | None:
    """Trimmed, Unicode NFC, inner whitespace collapsed to one space; blank or missing is None. Nothing else
    is changed: a control or format character stays, for the text rules (`validators.text_problem`) to refuse."""
    if value is None:
        return None
    if not isinstance(value, str):
        if value != value:  # NaN from pandas
            return None
        value = str(value)
    cleaned = _collapse(value) if value.isascii() else _collapse(unicodedata.normalize("NFC", value))
    return cleaned or None


def email(value: object) -> str | None:
    """Trimmed and lower-cased: addresses compare without regard to letter case."""
    cleaned = text(value)
    return cleaned.lower() if cleaned is not None else None


def texts(values: Sequence[object]) -> list[str | None]:
    """`text` of each value of a column; a column already in normal form (ids) is found so as a whole, else
    ASCII text, the usual case, is normalised inline (a call would cost as much as the work)."""
    if _all_plain(values, lower=False):
        return list(values)
    if _holds_control_space(values):
        return [text(v) for v in values]
    return [(" ".join(v.split()) or None) if type(v) is str and v.isascii() else text(v) for v in values]


def emails(values: Sequence[object]) -> list[str | None]:
    """`email` of each value of a column, as `texts` does it."""
    if _all_plain(values, lower=True):
        return list(values)
    if _holds_control_space(values):
        return [email(v) for v in values]
    return [(" ".join(v.split()).lower() or None) if type(v) is str and v.isascii() else email(v) for v in values]


def _holds_control_space(values: Sequence[object]) -> bool:
    """Whether some text value holds a character `_collapse` keeps though `str.split` splits on it (searched
    for once over the column joined)."""
    try:
        joined = "".join(values)  # (the usual column: text only)
    except TypeError:
        joined = "".join([v for v in values if type(v) is str])
    return _HAS_CONTROL_SPACE.search(joined) is not None


def _all_plain(values: Sequence[object], *, lower: bool) -> bool:
    """True when every value is None or ASCII text with no whitespace at all and not empty (and, with
    ``lower``, no capitals): `text` (`email`) returns each as it is. Checked on the column's characters
    joined, in C, rather than value by value."""
    if not all(type(v) is str or v is None for v in values):
        return False
    texts = [v for v in values if v is not None]
    if "" in texts:
        return False
    joined = "".join(texts)
    return joined.isascii() and joined.split(maxsplit=1) == [joined] and not (lower and joined != joined.lower())


def iso_date(value: object) -> str | None:
    """YYYY-MM-DD. Also reads a date-time ("2024-01-31T00:00:00Z") and the basic form 20240131."""
    cleaned = text(value)
    if cleaned is None:
        return None
    if len(cleaned) == 10:
        return cleaned
    match = _DATE_TIME.match(cleaned) or None
    if match:
        return match.group(1)
    match = _BASIC_DATE.match(cleaned)
    if match:
        candidate = "-".join(match.groups())
        try:
            date.fromisoformat(candidate)
        except ValueError:
            return cleaned
        return candidate
    return cleaned


def country(value: object, *, map_names: bool = False) -> str | None:
    """An ISO 3166-1 alpha-2 code in capitals ("se" -> "SE"). A country name ("Sverige") is kept as written
    unless ``map_names``; then a name `countries.to_alpha2` knows becomes its code (never one holding a
    control or format character: that is refused, not read past)."""
    cleaned = text(value)
    if cleaned is None:
        return None
    if len(cleaned) == 2 and is_alpha2(cleaned.upper()):
        return cleaned.upper()
    if map_names and chars.banned_characters().search(cleaned) is None:  # a name with a control character stays
        return to_alpha2(cleaned) or cleaned                          # as it is, for the validators to refuse
    return cleaned


def postal_code(value: object, country_code: str | None) -> str | None:
    """Swedish postal codes as Posten writes them ("114 55"); others upper-cased with spaces collapsed."""
    cleaned = text(value)
    if cleaned is None:
        return None
    if country_code in (None, "SE"):
        match = _SE_POSTAL.match(cleaned)
        if match:
            return f"{match.group(1)} {match.group(2)}"
    return cleaned.upper()


def address(line1: object, postal: object, city: object, country_value: object, *,
            map_country_names: bool = False) -> str | None:
    """The address as one comparable string (parts in `ADDRESS_PARTS` order); None when every part is blank."""
    code = country(country_value, map_names=map_country_names)
    parts = (text(line1), postal_code(postal, code if code and len(code) == 2 else None), text(city), code)
    if all(p is None for p in parts):
        return None
    return PART_SEPARATOR.join(p or "" for p in parts)


def address_parts(value: str | None) -> dict[str, str | None]:
    """The parts of a stored address (`ADDRESS_PARTS` keys), blank parts as None."""
    if value is None:
        return dict.fromkeys(ADDRESS_PARTS)
    pieces = value.split(PART_SEPARATOR)
    pieces += [""] * (len(ADDRESS_PARTS) - len(pieces))
    return {name: (piece or None) for name, piece in zip(ADDRESS_PARTS, pieces)}


def phone(value: object, region: str | None) -> str | None:
    """E.164 ("+46701234567"); the region (the address's country, else Sweden) reads national numbers."""
    if not isinstance(value, str):
        value = text(value)  # None, NaN or a number typed into a text column
        if value is None:
            return None
    if phones.is_known_e164(value):  # already E.164 and seen valid (typically: the other system's number)
        return value
    return phones.normalise_phone(value, region or DEFAULT_REGION)


def phones_column(values: Sequence[object], regions: Sequence[str | None]) -> list[str | None]:
    """`phone` of each (value, region). E.164 text that is its own normal form (`phones.e164_verdicts`) is
    kept as it is, the valid numbers recorded like those `normalise_phone` makes; the rest is read one by one."""
    known = phones.known_numbers
    out = list(values)
    found = known.mask(values)  # valid E.164 already: its own normal form
    rest = np.flatnonzero(~found).tolist()
    verdicts = phones.e164_verdicts([values[i] for i in rest])
    known.remember_all(values[rest[k]] for k in np.flatnonzero(verdicts == 1).tolist())
    one_by_one = [rest[k] for k in np.flatnonzero(verdicts < 0).tolist()]
    for i in one_by_one:
        out[i] = None if values[i] is None else phone(values[i], regions[i])
    # These objects hold known numbers: validating them is then a lookup by identity.
    known.remember_objects([values[i] for i in np.flatnonzero(found).tolist()]
                           + [out[i] for i in one_by_one if out[i] in known])
    return out


def phone_region(country_value: object) -> str:
    """The region national phone numbers are read in: the address's country, by name too, else Sweden."""
    if not isinstance(country_value, str):
        return DEFAULT_REGION
    if len(country_value) == 2 and country_value.isupper():
        return country_value
    return _region_of(country_value)


@lru_cache(maxsize=1024)
def _region_of(country_value: str) -> str:
    return to_alpha2(country_value) or DEFAULT_REGION


# Stored forms this module produced from valid accounts, and addresses `core.canonical` built with every
# part and an ISO country: validating a column just normalised is then a lookup (`core.known`).
known_accounts = KnownValid()
known_addresses = KnownValid()


def is_known_valid_account(value: str) -> bool:
    """True when ``value`` is the stored form of an account this module found valid."""
    return value in known_accounts


def bank_account_value(check: bank_accounts.BankAccountCheck) -> str:
    """The stored form of a valid account: clearing number (5 digits for Swedbank 8xxx-x), a space, the
    account zero-padded to the bank's length. Full number: only `display` may show it, masked."""
    value = f"{check.clearing} {check.account}"
    if check.valid:
        known_accounts.remember(value)
    return value


def bank_account_text(value: object) -> str | None:
    """An account typed as one string (Huma's `bankAccount.number`), in the stored form when it is valid."""
    if not isinstance(value, str) or not value.strip():
        value = text(value)  # None, NaN or a number
        if value is None:
            return None
    check = bank_accounts.parse(value)  # parse cleans what it reads; only a rejected value needs text()
    return bank_account_value(check) if check.valid else text(value)


def bank_account_parts(clearing: object, account: object) -> str | None:
    """An account held as clearing number and account number (Crona), in the stored form when it is valid."""
    clearing_text, account_text = text(clearing), text(account)
    if clearing_text is None and account_text is None:
        return None
    if clearing_text is None or account_text is None:
        # The whole number typed into one of the two columns: read it the way a typed account is read.
        return bank_account_text(clearing_text or account_text)
    stored = f"{clearing_text} {account_text}"
    if stored in known_accounts:  # already the stored form of an account found valid (the other system's)
        return stored
    check = bank_accounts.validate(clearing_text or "", account_text or "")
    if check.valid:
        return bank_account_value(check)
    return f"{clearing_text or ''} {account_text or ''}".strip()


def bank_account_texts(values: Sequence[object], blank_instead: Sequence[object] | None = None) -> list[str | None]:
    """`bank_account_text` of each value, or of the same row of ``blank_instead`` (None without it) where the
    value is not text or is blank: Huma's number, else its IBAN. The valid accounts in the usual typed shapes
    are found a column at a time (`bank_vector`); only the rest are read one by one."""
    stored = bank_vector.stored_forms(values)
    known_accounts.remember_all(stored)
    for i, s in enumerate(stored):
        if s is None:
            value = values[i]
            if not (isinstance(value, str) and value.strip()):
                value = blank_instead[i] if blank_instead is not None else None
            stored[i] = bank_account_text(value)  # a valid one is remembered by `bank_account_value`
    return stored


def bank_account_parts_column(clearings: Sequence[object], accounts: Sequence[object]) -> list[str | None]:
    """`bank_account_parts` of each (clearing, account) pair, a column at a time like `bank_account_texts`.

    A pair already in a known stored form (digits, one space, digits: the other system's account) is kept;
    two texts joined by a comma are what `bank_accounts.parse` reads as exactly that pair."""
    stored: list[str | None] = [None] * len(clearings)
    rest: list[int] = []
    for i, (c, a) in enumerate(zip(clearings, accounts)):
        pair = c + " " + a if type(c) is str and type(a) is str else None
        if pair in known_accounts:
            stored[i] = pair
        else:
            rest.append(i)
    known = [s for s in stored if s is not None]
    joined = [clearings[i] + "," + accounts[i] if type(clearings[i]) is str and type(accounts[i]) is str
              else None for i in rest]
    found = bank_vector.stored_forms(joined)
    known_accounts.remember_all(found)
    for i, s in zip(rest, found):
        if s is None:
            s = stored[i] = bank_account_parts(clearings[i], accounts[i])
            if s in known_accounts:
                known.append(s)
        else:
            stored[i] = s
    known_accounts.remember_objects(known)  # validating them is then a lookup by identity
    return stored


def bank_account_split(value: str) -> tuple[str, str]:
    """(clearing, account) of a stored account, as Crona holds them."""
    clearing, _, account = value.partition(" ")
    return clearing, account
