"""Raw extract rows -> the canonical employee table of one system, validated, with its quarantine.

Nothing is dropped: every raw row becomes a canonical row, and every value that may not be synced gets
a quarantine row saying why. A quarantined field is not synced for that employee; an employee missing
something its own system requires (or whose work email cannot be matched) is not syncable at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import normalise as norm
from . import validators
from .display import display_value
from .fields import (BY_NAME, CRONA, FIELD_NAMES, FIELDS, HUMA, MATCH_KEY, PART_SEPARATOR, RECORD_ID_COLUMN,
                     SYSTEM_NAMES, Kind)
from .schemas import END_NOT_BEFORE_START, RECORD_ID, failure_cases

QUARANTINE_COLUMNS = ("side", "record_id", "work_email", "field", "value", "reason", "effect")
FIELD_NOT_SYNCED = "field not synced"
NOT_SYNCABLE = "employee not syncable"
CANONICAL_COLUMNS = (RECORD_ID, *FIELD_NAMES)
_FIELD_SEPARATOR, _ABSENT = "\x1f", "\x00"  # control characters: text normalisation never leaves them in


@dataclass
class CanonicalTable:
    """One system's employees in canonical form.

    ``frame``: `record_id` (Huma user id / Crona AnstNr) and one column per field, normalised.
    ``quarantine``: one row per value that may not be synced (`QUARANTINE_COLUMNS`, values masked).
    ``schema_errors``: failures that concern the whole table (a missing column, a wrong type).
    ``mapped_countries``: Crona country names mapped to codes because the policy asked for it."""

    side: str
    frame: pd.DataFrame
    quarantine: pd.DataFrame
    schema_errors: list[str]
    mapped_countries: int = 0

    def __repr__(self) -> str:  # never the values: they include full bank accounts
        return (f"CanonicalTable(side={self.side!r}, rows={len(self.frame)}, quarantined={len(self.quarantine)},"
                f" schema_errors={len(self.schema_errors)}, mapped_countries={self.mapped_countries})")

    @property
    def system(self) -> str:
        return SYSTEM_NAMES[self.side]

    def quarantined(self) -> pd.DataFrame:
        """A boolean per employee and field (frame's index, `FIELD_NAMES` columns): True when quarantined.
        Computed once: a table is not changed after it is built (`validate_table` makes a new one)."""
        cached = self.__dict__.get("_quarantined")
        if cached is None:
            cached = self._quarantine_mask()
            self.__dict__["_quarantined"] = cached
        return cached

    def present(self) -> np.ndarray:
        """A boolean per employee and field (rows of ``frame``, columns in `FIELD_NAMES` order): True where
        the employee has a value. Computed once, like `quarantined`."""
        cached = self.__dict__.get("_present")
        if cached is None:
            cached = self.frame[list(FIELD_NAMES)].notna().to_numpy()
            self.__dict__["_present"] = cached
        return cached

    def fingerprints(self) -> np.ndarray:
        """One string per employee holding every synced value (frame's rows): two records with equal
        fingerprints agree on every field, so reconciling skips them without comparing field by field.
        Computed once, when the table is built."""
        cached = self.__dict__.get("_fingerprints")
        if cached is None:
            present = self.present()
            columns = [np.where(present[:, k], self.frame[name].to_numpy(), _ABSENT)
                       for k, name in enumerate(FIELD_NAMES)]
            cached = np.array([_FIELD_SEPARATOR.join(values) for values in zip(*columns)], dtype=object)
            self.__dict__["_fingerprints"] = cached
        return cached

    def _quarantine_mask(self) -> pd.DataFrame:
        mask = pd.DataFrame(False, index=self.frame.index, columns=list(FIELD_NAMES))
        rows = self.quarantine[self.quarantine["field"].isin(FIELD_NAMES)]
        if not rows.empty:
            position = pd.Series(self.frame.index, index=self.frame[RECORD_ID].astype(object))
            for name, group in rows.groupby("field"):
                index = position.reindex(group["record_id"].astype(object)).dropna()
                mask.loc[index.to_numpy(), name] = True
        return mask

    def syncable(self) -> pd.Series:
        """A boolean per employee: False when a quarantine row says the whole employee cannot be synced."""
        blocked = self.quarantine.loc[self.quarantine["effect"] == NOT_SYNCABLE, "record_id"]
        return ~self.frame[RECORD_ID].isin(set(blocked))

    def quarantine_share(self) -> float:
        """Share of employees with at least one quarantine row (0 for an empty table)."""
        if self.frame.empty:
            return 0.0
        return self.quarantine["record_id"].nunique() / len(self.frame)


# --- mapping --------------------------------------------------------------------------------------


def _column(raw: pd.DataFrame, name: str) -> pd.Series:
    if name not in raw.columns:
        raise KeyError(f"the raw table has no column {name!r}")
    return raw[name]


def _each_distinct(values: pd.Series, fn: Callable[[object], object]) -> np.ndarray:
    """``fn`` applied once per distinct value (names, cities, dates and titles repeat across thousands of
    employees), spread back over the rows; blanks (None/NaN) give None."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [fn(u) for u in uniques]
    mapped[-1] = None
    return mapped[codes]  # code -1 (blank) picks the trailing None


_SIMPLE = {Kind.EMAIL: norm.email, Kind.DATE: norm.iso_date, Kind.TEXT: norm.text, Kind.IDENTIFIER: norm.text}


def _map_address(raw: pd.DataFrame, side: str, map_country_names: bool) -> tuple[np.ndarray, int, np.ndarray]:
    """The stored addresses, how many country names were mapped to codes, and each row's phone region."""
    line1, postal, city, country = (_column(raw, c) for c in BY_NAME["address"].columns(side))
    codes = _each_distinct(country, lambda v: norm.country(v, map_names=map_country_names))
    plain = _each_distinct(country, norm.country) if map_country_names else codes
    regions = _each_distinct(country, norm.phone_region)
    swedish = _each_distinct(postal, lambda v: norm.postal_code(v, "SE"))
    foreign = _each_distinct(postal, lambda v: norm.postal_code(v, "XX"))
    lines, cities = _each_distinct(line1, norm.text), _each_distinct(city, norm.text)
    values = np.empty(len(raw), dtype=object)
    for k, parts in enumerate(zip(lines, swedish, foreign, cities, codes)):
        street, se_postal, other_postal, town, code = parts
        if street is None and se_postal is None and town is None and code is None:
            continue
        postal_code = se_postal if code is None or code == "SE" or len(code) != 2 else other_postal
        values[k] = PART_SEPARATOR.join((street or "", postal_code or "", town or "", code or ""))
    mapped = 0
    if map_country_names:
        mapped = sum(1 for before, after in zip(plain, codes) if before is not None and before != after)
    return values, mapped, regions


def _map_bank_account(raw: pd.DataFrame, side: str) -> list:
    columns = BY_NAME["bank_account"].columns(side)
    if side == CRONA:
        clearing, account = (_column(raw, c).tolist() for c in columns)
        return [norm.bank_account_parts(c, a) for c, a in zip(clearing, account)]
    numbers = _column(raw, columns[0]).tolist()
    # An international account has an IBAN instead of a number: kept, so it is not taken for a gap.
    ibans = raw["bankAccount.iban"].tolist() if "bankAccount.iban" in raw.columns else [None] * len(numbers)
    return [norm.bank_account_text(n if isinstance(n, str) and n.strip() else i) for n, i in zip(numbers, ibans)]


def to_canonical(raw: pd.DataFrame, side: str, *, map_country_names: bool = False) -> tuple[pd.DataFrame, int]:
    """The canonical frame (`CANONICAL_COLUMNS`) of one side's raw extract, and how many country names
    were mapped to codes. Phone numbers are read in the region of the employee's own address."""
    data: dict[str, object] = {RECORD_ID: [norm.text(v) for v in _column(raw, RECORD_ID_COLUMN[side]).tolist()]}
    addresses, mapped, regions = _map_address(raw, side, map_country_names)
    for f in FIELDS:
        if f.kind == Kind.ADDRESS:
            data[f.name] = addresses
        elif f.kind == Kind.BANK_ACCOUNT:
            data[f.name] = _map_bank_account(raw, side)
        elif f.kind == Kind.PHONE:
            numbers = _column(raw, f.columns(side)[0]).tolist()
            data[f.name] = [norm.phone(v, r) if v is not None else None for v, r in zip(numbers, regions)]
        else:
            data[f.name] = _each_distinct(_column(raw, f.columns(side)[0]), _SIMPLE[f.kind])
    frame = pd.DataFrame(data, columns=list(CANONICAL_COLUMNS), index=pd.RangeIndex(len(raw)), dtype=object)
    return frame, mapped


# --- validation -----------------------------------------------------------------------------------


def _quarantine_rows(frame: pd.DataFrame, side: str, failures: pd.DataFrame) -> tuple[list[dict], list[str]]:
    rows: list[dict] = []
    schema_errors: list[str] = []
    seen: set[tuple] = set()
    holders = _Holders(frame)
    for case in failures.itertuples(index=False):
        index = case.index
        column = case.column
        check = str(case.check)
        if index is None or (isinstance(index, float) and index != index):
            schema_errors.append(f"{column}: {check} ({case.failure_case})")
            continue
        index = int(index)
        if check == END_NOT_BEFORE_START:
            column = "end_date"
        elif column not in frame.columns:
            schema_errors.append(f"{column}: {check} ({case.failure_case})")
            continue
        key = (index, column)
        if key in seen:
            continue
        seen.add(key)
        value = frame.at[index, column]
        rows.append(_row(frame, side, index, column, value, _reason(frame, side, index, column, check, value, holders)))
    return rows, schema_errors


class _Holders:
    """value -> record ids holding it, per column, built once and only for duplicated values."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.by_column: dict[str, dict] = {}

    def of(self, column: str, value: object) -> list:
        if column not in self.by_column:
            values = self.frame[column]
            duplicated = self.frame.loc[values.notna() & values.duplicated(keep=False), [column, RECORD_ID]]
            self.by_column[column] = duplicated.groupby(column, sort=False)[RECORD_ID].agg(list).to_dict()
        return self.by_column[column].get(value, [])


def _reason(frame: pd.DataFrame, side: str, index: int, column: str, check: str, value: object,
            holders: _Holders) -> tuple[str, str]:
    """(reason, effect) of one failure."""
    system = SYSTEM_NAMES[side]
    if column == RECORD_ID:
        if value is None:
            return f"the {system} record has no id", NOT_SYNCABLE
        return f"{system} record id {value} occurs more than once", NOT_SYNCABLE
    f = BY_NAME[column]
    if check == "not_nullable":
        if f.match_key:
            return f"no {f.label}: the employee cannot be matched", NOT_SYNCABLE
        return f"no {f.label}, which {system} requires", NOT_SYNCABLE
    if check == END_NOT_BEFORE_START:
        return (f"end date {frame.at[index, 'end_date']} is before start date {frame.at[index, 'start_date']}",
                FIELD_NOT_SYNCED)
    if check.startswith("no_duplicates"):
        record = frame.at[index, RECORD_ID]
        same = [r for r in holders.of(column, value) if r != record]
        others = ", ".join(str(r) for r in same[:3])
        more = f" and {len(same) - 3} more" if len(same) > 3 else ""
        if f.match_key:
            return (f"work email also held by {system} record {others}{more}: the employee cannot be matched",
                    NOT_SYNCABLE)
        return f"{f.label} also held by {system} record {others}{more}", FIELD_NOT_SYNCED
    explanation = validators.problem(f.kind, value) or f"failed {check}"
    if f.match_key:
        return f"{explanation}: the employee cannot be matched", NOT_SYNCABLE
    return explanation, FIELD_NOT_SYNCED


def _row(frame: pd.DataFrame, side: str, index: int, column: str, value: object,
         reason_effect: tuple[str, str]) -> dict:
    reason, effect = reason_effect
    return {
        "side": side,
        "record_id": frame.at[index, RECORD_ID],
        "work_email": frame.at[index, MATCH_KEY.name],
        "field": column,
        "value": display_value(column, value),
        "reason": reason,
        "effect": effect,
    }


def build_table(raw: pd.DataFrame, side: str, *, map_country_names: bool = False) -> CanonicalTable:
    """Map, normalise and validate one side's raw extract."""
    frame, mapped = to_canonical(raw, side, map_country_names=map_country_names)
    return validate_table(frame, side, mapped_countries=mapped)


def validate_table(frame: pd.DataFrame, side: str, *, mapped_countries: int = 0) -> CanonicalTable:
    """Run the side's pandera model over a canonical frame and turn its failures into quarantine rows."""
    failures = failure_cases(frame, side)
    rows, schema_errors = _quarantine_rows(frame, side, failures)
    quarantine = pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))
    if not quarantine.empty:
        quarantine = quarantine.sort_values(["record_id", "field"], kind="stable").reset_index(drop=True)
    table = CanonicalTable(side, frame, quarantine, schema_errors, mapped_countries)
    if not schema_errors:
        table.fingerprints()
    return table


__all__ = ["CANONICAL_COLUMNS", "CanonicalTable", "FIELD_NOT_SYNCED", "HUMA", "CRONA", "NOT_SYNCABLE",
           "QUARANTINE_COLUMNS", "build_table", "to_canonical", "validate_table"]
