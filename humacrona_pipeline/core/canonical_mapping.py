"""Raw extract rows -> canonical values: each system's columns read into the field table's canonical form
(`CANONICAL_COLUMNS`), normalised. Validating the result and quarantining what may not be synced is
`core.canonical`'s; this module only reads and normalises, remembering what it already found valid."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from . import normalise as norm
from . import validators
from .chars import factorize, is_none
from .countries import is_alpha2
from .fields import (
    ADDRESS_PARTS,
    BY_NAME,
    CRONA,
    FIELD_NAMES,
    FIELDS,
    HUMA_IBAN_COLUMN,
    PART_SEPARATOR,
    RECORD_ID_COLUMN,
    Kind,
)
from .schemas import RECORD_ID

__all__ = ["CANONICAL_COLUMNS", "to_canonical"]

CANONICAL_COLUMNS = (RECORD_ID, *FIELD_NAMES)


def _column(raw: pd.DataFrame, name: str) -> pd.Series:
    if name not in raw.columns:
        raise KeyError(f"the raw table has no column {name!r}")
    return raw[name]


def _objects(values: list) -> np.ndarray:
    """An object array of these very values. (Assigning a list of str to an array slice would go through a
    numpy str array first, which drops a trailing NUL: "Åsa\x00" would become "Åsa" unseen.)"""
    return np.fromiter(values, dtype=object, count=len(values))


def _each_distinct(values: pd.Series, *fns: Callable[[object], object]) -> list[np.ndarray]:
    """Each ``fn`` applied once per distinct value (names, cities, dates and titles repeat across thousands of
    employees), spread back over the rows; blanks (None/NaN) give None."""
    codes, uniques = factorize(values.to_numpy(dtype=object))
    out = []
    for fn in fns:
        mapped = _objects([fn(u) for u in uniques] + [None])
        out.append(mapped[codes])  # code -1 (blank) picks the trailing None
    return out


def _each_distinct_checked(values: pd.Series, *pairs: tuple[Callable[[object], object], object]
                           ) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each (fn, field): ``fn`` of each distinct value spread over the rows (as `_each_distinct`), and
    whether each keeps the text rules of the field (blank: True), judged once per distinct value."""
    codes, uniques = factorize(values.to_numpy(dtype=object))
    out = []
    for fn, f in pairs:
        mapped = _objects([fn(u) for u in uniques] + [None])
        ok = np.ones(len(uniques) + 1, dtype=bool)
        ok[:-1] = validators.text_valid(f, pd.Series(mapped[:-1], dtype=object)).to_numpy()
        out.append((mapped[codes], ok[codes]))
    return out


def _keeps_text_rules(f, value: object) -> bool:
    return value is None or (validators.characters_problem(f, value) is None
                             and validators.length_problem(f, value) is None)


def _remember_texts(f, values: np.ndarray, ok: np.ndarray) -> None:
    """Remember, by identity, the values of a column found to keep the text rules (`validators.known_texts`):
    validating the column is then a lookup."""
    validators.known_texts[f.name].remember_objects(values[ok & ~is_none(values)].tolist())


_SIMPLE = {Kind.EMAIL: norm.email, Kind.DATE: norm.iso_date, Kind.TEXT: norm.text, Kind.IDENTIFIER: norm.text}
# One value per employee: finding the distinct ones first would cost more than it saves.
_EACH_VALUE = {Kind.EMAIL: norm.emails, Kind.IDENTIFIER: norm.texts}


def _map_address(raw: pd.DataFrame, side: str, map_country_names: bool) -> tuple[np.ndarray, int, np.ndarray]:
    """The stored addresses, how many country names were mapped to codes, and each row's phone region."""
    line1, postal, city, country = (_column(raw, c) for c in BY_NAME["address"].columns(side))
    def code_of(value: object) -> str | None:
        return norm.country(value, map_names=map_country_names)

    f = BY_NAME["address"]
    street_part, postal_part, city_part, country_part = (validators.part_field(f, name) for name in ADDRESS_PARTS)
    codes, plain, regions, iso, foreign_postal, codes_ok = _each_distinct(
        country, code_of, norm.country, norm.phone_region, lambda v: is_alpha2(code_of(v)),
        lambda v: (code := code_of(v)) is not None and code != "SE" and len(code) == 2,  # else read as Swedish
        lambda v: _keeps_text_rules(country_part, code_of(v)))
    (swedish, swedish_ok), (foreign, foreign_ok) = _each_distinct_checked(
        postal, (lambda v: norm.postal_code(v, "SE"), postal_part),
        (lambda v: norm.postal_code(v, "XX"), postal_part))
    [(lines, lines_ok)] = _each_distinct_checked(line1, (norm.text, street_part))
    [(cities, cities_ok)] = _each_distinct_checked(city, (norm.text, city_part))
    codes_ok = codes_ok.astype(bool) | is_none(codes_ok)  # (a blank country: None, which keeps the rules)
    postal_codes = np.where(foreign_postal.astype(bool), foreign, swedish)
    values = np.array([None if street is None and se_postal is None and town is None and code is None
                       else PART_SEPARATOR.join((street or "", postal_code or "", town or "", code or ""))
                       for street, se_postal, postal_code, town, code
                       in zip(lines, swedish, postal_codes, cities, codes)],
                      dtype=object)
    # Every part given and an ISO country: what the address validator accepts (remembered by identity: no
    # other system's address is the same object).
    complete = iso.astype(bool) & ~is_none(lines) & ~is_none(postal_codes) & ~is_none(cities)
    norm.known_addresses.remember_objects(values[complete].tolist())
    postal_ok = np.where(foreign_postal.astype(bool), foreign_ok, swedish_ok)
    _remember_texts(f, values, lines_ok & postal_ok & cities_ok & codes_ok)
    mapped = 0
    if map_country_names:
        mapped = sum(1 for before, after in zip(plain, codes) if before is not None and before != after)
    return values, mapped, regions


def _map_bank_account(raw: pd.DataFrame, side: str) -> list:
    columns = BY_NAME["bank_account"].columns(side)
    if side == CRONA:
        clearing, account = (_column(raw, c).tolist() for c in columns)
        return norm.bank_account_parts_column(clearing, account)
    numbers = _column(raw, columns[0]).tolist()
    # An international account has an IBAN instead of a number: kept, so it is not taken for a gap.
    ibans = raw[HUMA_IBAN_COLUMN].tolist() if HUMA_IBAN_COLUMN in raw.columns else None
    return norm.bank_account_texts(numbers, blank_instead=ibans)


def to_canonical(raw: pd.DataFrame, side: str, *, map_country_names: bool = False) -> tuple[pd.DataFrame, int]:
    """The canonical frame (`CANONICAL_COLUMNS`) of one side's raw extract, and how many country names
    were mapped to codes. Phone numbers are read in the region of the employee's own address."""
    # One object block, a row per column: the frame is made on it without copying (nor consolidating) it.
    block = np.empty((len(CANONICAL_COLUMNS), len(raw)), dtype=object)
    block[0] = norm.texts(_column(raw, RECORD_ID_COLUMN[side]).tolist())
    addresses, mapped, regions = _map_address(raw, side, map_country_names)
    for k, f in enumerate(FIELDS, start=1):
        block[k] = addresses if f.kind == Kind.ADDRESS else _map_field(raw, side, f, regions)
    frame = pd.DataFrame(block.T, columns=list(CANONICAL_COLUMNS), index=pd.RangeIndex(len(raw)), copy=False)
    return frame, mapped


def _map_field(raw: pd.DataFrame, side: str, f, regions: np.ndarray) -> object:
    """The normalised values of one field other than the address."""
    if f.kind == Kind.BANK_ACCOUNT:
        return _map_bank_account(raw, side)
    values = _column(raw, f.columns(side)[0])
    if f.kind == Kind.PHONE:
        return norm.phones_column(values.tolist(), regions)
    if f.kind in _EACH_VALUE:
        return _EACH_VALUE[f.kind](values.tolist())
    if f.kind == Kind.TEXT and f.text_rules:
        [(mapped, ok)] = _each_distinct_checked(values, (norm.text, f))
        _remember_texts(f, mapped, ok)
        return mapped
    return _each_distinct(values, _SIMPLE[f.kind])[0]
