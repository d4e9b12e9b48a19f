"""Validators: whether a normalised value may be synced, and if not, a reason a person can act on.

Each kind has a vectorised test (what the pandera schemas run over a whole column) and an explanation
(what a quarantine row says about the few values that fail). Bank-account reasons never carry the number.
Every text field also keeps the text rules of the field table (`fields.TEXT_RULES`, `Field.max_lengths`):
`text_valid` tests a column, `field_problem` explains a value."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import cache, lru_cache
from operator import methodcaller

import numpy as np
import pandas as pd

from . import bank_accounts, chars, phones
from .chars import is_none
from .countries import is_alpha2, to_alpha2
from .display import present
from .fields import ADDRESS_PARTS, EMAIL_LIMIT, FIELDS, PART_SEPARATOR, Field, Kind
from .known import KnownValid
from .normalise import (
    address_parts,
    bank_account_split,
    bank_account_value,
    is_known_valid_account,
    known_accounts,
    known_addresses,
)

# A practical address check (no network): one @, a dot-separated domain of letters, digits and hyphens.
EMAIL_PATTERN = (r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                 r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_EMAIL = re.compile(EMAIL_PATTERN)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FIRST_YEAR = 1900


def _email_problem(value: str) -> str | None:
    if _EMAIL.fullmatch(value):
        if len(value) > EMAIL_LIMIT:
            return f"the email address is {len(value)} characters long; at most {EMAIL_LIMIT} are synced"
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


# The country is the address's last part; the parts before it say where in that country.
_PLACE_PARTS, _COUNTRY_PART = ADDRESS_PARTS[:-1], ADDRESS_PARTS[-1]


def _address_problem(value: str) -> str | None:
    pieces = value.split(PART_SEPARATOR)
    if len(pieces) == len(ADDRESS_PARTS) and all(pieces) and is_alpha2(pieces[-1]):
        return None  # the common case, without building the parts
    parts = address_parts(value)
    code = parts[_COUNTRY_PART]
    if code is None:
        return "the address has no country"
    if not is_alpha2(code):
        known = to_alpha2(code)
        hint = (f" (it names {known}; the policy option map_country_names would map it)" if known
                else "")
        return f"country {code!r} is not an ISO 3166-1 alpha-2 code{hint}"
    missing = [name.replace("_", " ") for name in _PLACE_PARTS if parts[name] is None]
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
        # One regex per address: quicker than hashing it into a set of known ones. It admits printable ASCII
        # without spaces only, so of the text rules just the length is left to test (`implied_text_rules`).
        match = _EMAIL.fullmatch
        return np.fromiter((match(v) is not None and len(v) <= EMAIL_LIMIT for v in subject), dtype=bool,
                           count=len(subject))
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
        codes, uniques = chars.factorize(np.array([subject[i] for i in todo.tolist()], dtype=object))
        distinct = np.fromiter((test(u) for u in uniques), dtype=bool, count=len(uniques))
        verdicts[todo] = distinct[codes]
    return verdicts


# --- text rules (`fields.Field.max_lengths`): what every text field must be, whatever its kind ----------------

# The address parts (`fields.ADDRESS_PARTS`) as people read them: their names in words, the first line "street".
_PART_LABELS = {part: part.replace("_", " ") for part in ADDRESS_PARTS} | {ADDRESS_PARTS[0]: "street"}
# Whitespace a normalised text (or an address part) cannot hold: any but a space, two spaces, one at an end.
_ODD_SPACE = re.compile(r"[^\S ]|  |^ | $")


def _character(ch: str) -> str:
    name = unicodedata.name(ch, "")
    kind = {"Cc": "a control character", "Cf": "an invisible formatting character",
            "Cs": "a lone surrogate"}.get(unicodedata.category(ch), "a character")
    return f"{kind} (U+{ord(ch):04X}{' ' + name if name else ''})"


def _pieces(f: Field, value: str) -> list[tuple[str, str, int]]:
    """(label, text, limit) of each part of a value: the address's parts, else the value itself."""
    if f.kind != Kind.ADDRESS:
        return [(f.label, value, f.max_lengths[0])]
    parts = value.split(PART_SEPARATOR)
    return [(f"{f.label} {_PART_LABELS[name]}", part, limit)
            for name, part, limit in zip(ADDRESS_PARTS, parts, f.max_lengths)]


def characters_problem(f: Field, value: str) -> str | None:
    """Why the characters of ``value`` break the text rules (a control or format character, not NFC, not
    trimmed and collapsed), or None. Checked first: the other reasons read the value."""
    if f.kind == Kind.ADDRESS and value.count(PART_SEPARATOR) != len(f.max_lengths) - 1:
        return f"the {f.label} does not have its {len(f.max_lengths)} parts, one per line (normalise it first)"
    for label, part, _ in _pieces(f, value):
        found = chars.banned_characters().search(part)
        if found:
            return f"the {label} holds {_character(found.group())}, which is not synced"
        if not unicodedata.is_normalized("NFC", part):
            return f"the {label} is not in Unicode NFC form (normalise it first)"
        if _ODD_SPACE.search(part):
            return f"the {label} has whitespace at an end or doubled (normalise it first)"
    return None


def length_problem(f: Field, value: str) -> str | None:
    """Why ``value`` is too long or not of the field's pattern (`Field.pattern`), or None."""
    for label, part, limit in _pieces(f, value):
        if len(part) > limit:
            return f"the {label} is {len(part)} characters long; at most {limit} are synced"
    if f.pattern and not _pattern(f.pattern).fullmatch(value):
        return f"{value!r} is not {f.pattern_words}"
    return None


@cache
def _pattern(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.ASCII)


@cache
def _shape(f: Field, joined: bool) -> re.Pattern:
    """A value of ``f`` within its lengths (part by part) and of its pattern; with ``joined``, any number of
    them joined by newlines, so that one match in C tests a whole column. (A pattern never matches a newline.)"""
    if f.kind == Kind.ADDRESS:
        one = "\n".join(f"[^\n]{{0,{limit}}}" for limit in f.max_lengths)
    elif f.pattern:
        one = f"(?=[^\n]{{0,{f.max_lengths[0]}}}(?![^\n]))(?:{f.pattern})"
    else:
        one = f"[^\n]{{0,{f.max_lengths[0]}}}"
    return re.compile(f"{one}(?:\n{one})*" if joined else one, re.ASCII)


def implied_text_rules(f: Field) -> bool:
    """Whether the kind's own validator (`valid`) already holds the field to its text rules: an email address
    is printable ASCII without spaces by its pattern, and its length is tested with it."""
    return f.kind == Kind.EMAIL and f.max_lengths == (EMAIL_LIMIT,)


def field_problem(f: Field, value: object) -> str | None:
    """Why ``value`` (normalised) of field ``f`` cannot be synced, or None: the text rules' characters, then
    the kind's validator (`problem`), then the length and pattern. Blank values have no problem."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    if f.text_rules:
        reason = characters_problem(f, text)
        if reason:
            return reason
    reason = problem(f.kind, text)
    if reason or not f.text_rules:
        return reason
    return length_problem(f, text)


class KnownTexts(dict):
    """Field name -> the objects `core.canonical` found to keep that field's text rules, when it normalised
    each distinct value (names, titles and cities repeat): validating its column is then a lookup by identity
    (`core.known`). Emptied with the other memo caches."""

    def __init__(self) -> None:
        super().__init__((f.name, KnownValid()) for f in FIELDS if f.text_rules)

    def cache_clear(self) -> None:
        for known in self.values():
            known.cache_clear()


known_texts = KnownTexts()


@cache
def part_field(f: Field, part: str) -> Field:
    """One part of a composite field (the address's ``part``) as a text field of its own, with its limit."""
    k = ADDRESS_PARTS.index(part)
    return replace(f, name=f"{f.name}.{part}", label=f"{f.label} {_PART_LABELS[part]}", kind=Kind.TEXT,
                   max_lengths=(f.max_lengths[k],))


def text_valid(f: Field, values: pd.Series) -> pd.Series:
    """A boolean per value: True when it keeps the text rules of ``f`` (nulls are True). Values known valid
    (`known_texts`) are found by identity; the rest of the column is tested whole (`_suspects`, in C over the
    values joined), and only the values it cannot clear are judged one by one."""
    array = values.to_numpy(dtype=object)
    result = np.ones(len(array), dtype=bool)
    rest = np.flatnonzero(~is_none(array))
    known = known_texts.get(f.name)
    if known is not None and len(rest):
        rest = rest[~known.mask_objects(array[rest])]
    subject = array[rest].tolist()
    try:
        suspects = _suspects(f, subject) if subject else None
    except TypeError:  # not all text (joining failed): NaN and the like are blanks, other values judged as text
        keep = [k for k, v in enumerate(subject) if type(v) is str or present(v)]
        rest = rest[keep]
        subject = [v if type(v) is str else str(v) for v in (subject[k] for k in keep)]
        suspects = _suspects(f, subject) if subject else None
    if suspects is not None:
        at = np.flatnonzero(suspects)
        codes, uniques = chars.factorize(np.array([subject[i] for i in at.tolist()], dtype=object))
        verdicts = np.fromiter((characters_problem(f, u) is None and length_problem(f, u) is None
                                for u in uniques), dtype=bool, count=len(uniques))
        result[rest[at]] = verdicts[codes]
    return pd.Series(result, index=values.index)


# A space where a normalised text has none: doubled, or at either end of a value or an address part (the
# position found is the space's own, so it falls in the value holding it).
_SPACED = re.compile(r"  |^ | $| (?=\n)|(?<=\n) ")
_OTHER_SPACE = re.compile(r"[^\S\n ]")  # whitespace but a space (and the newline joining the values)


def _suspects(f: Field, subject: list[str]) -> np.ndarray | None:
    """None when every value surely keeps the text rules, else a boolean per value that may not (the values
    to judge one by one). Each rule is first tested over the whole column joined; only a rule some value
    breaks is then located, by the positions of what breaks it."""
    n = len(subject)
    joined = "\n".join(subject)  # (a TypeError when some value is not text)
    parts = len(f.max_lengths) if f.kind == Kind.ADDRESS else 1
    shaped = joined.count("\n") == parts * n - 1 and _shape(f, True).fullmatch(joined) is not None
    if shaped and parts > 1:  # the parts of each value are its own (not one value short, the next one over)
        shaped = bool((np.fromiter(map(methodcaller("count", "\n"), subject), dtype=np.int64, count=n)
                       == parts - 1).all())
    if shaped and f.pattern:  # a pattern admits printable ASCII without spaces only (`fields.Field.pattern`)
        return None
    # No Cc/Cf/Cs and no whitespace but spaces (a newline within a value is found by counting them, above).
    printable = (joined.replace("\n", "") if parts > 1 else "".join(subject)).isprintable()
    spaced = "  " in joined or " \n" in joined or "\n " in joined or joined[:1] == " " or joined[-1:] == " "
    nfc = joined.isascii() or unicodedata.is_normalized("NFC", joined)
    if printable and not spaced and nfc and shaped:
        return None
    suspect = np.zeros(n, dtype=bool)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, subject), dtype=np.int64, count=n)[:-1] + 1, out=starts[1:])

    def mark(pattern: re.Pattern) -> None:
        found = np.fromiter((m.start() for m in pattern.finditer(joined)), dtype=np.int64)
        suspect[np.searchsorted(starts, found, side="right") - 1] = True

    if not printable:
        mark(chars.banned_characters("\n"))
        mark(_OTHER_SPACE)
    if spaced:
        mark(_SPACED)
    if not nfc:
        suspect |= np.fromiter((not v.isascii() and not unicodedata.is_normalized("NFC", v) for v in subject),
                               dtype=bool, count=n)
    if not shaped:
        aligned = np.fromiter(map(methodcaller("count", "\n"), subject), dtype=np.int64, count=n) == parts - 1
        suspect |= ~aligned  # a newline within a value, or an address of other parts
        if aligned.all():  # every value has its parts: compare their lengths at once
            lengths = np.fromiter(map(len, joined.split("\n")), dtype=np.int64, count=parts * n).reshape(n, parts)
            suspect |= (lengths > np.array(f.max_lengths)).any(axis=1)
            if f.pattern:
                match = _pattern(f.pattern).fullmatch
                suspect |= np.fromiter((match(v) is None for v in subject), dtype=bool, count=n)
        else:
            match = _shape(f, False).fullmatch
            suspect |= np.fromiter((match(v) is None for v in subject), dtype=bool, count=n)
    return suspect


def duplicated(values: pd.Series) -> pd.Series:
    """True for every non-null value that occurs more than once."""
    repeated = values.duplicated(keep=False).to_numpy() & ~is_none(values.to_numpy(dtype=object))
    if repeated.any():  # NaN and the like are blanks too
        at = np.flatnonzero(repeated)
        repeated[at] = pd.notna(values.to_numpy(dtype=object)[at])
    return pd.Series(repeated, index=values.index)
