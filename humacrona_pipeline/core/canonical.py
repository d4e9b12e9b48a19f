"""Raw extract rows -> the canonical employee table of one system, validated, with its quarantine.

Nothing is dropped: every raw row becomes a canonical row, and every value that may not be synced gets
a quarantine row saying why. A quarantined field is not synced for that employee; an employee missing
something its own system requires (or whose work email cannot be matched) is not syncable at all. Reading
the raw columns into canonical values is `core.canonical_mapping`'s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import validators
from .canonical_mapping import CANONICAL_COLUMNS, to_canonical
from .chars import is_none
from .display import display_value
from .fields import BY_NAME, CRONA, FIELD_NAMES, HUMA, MATCH_KEY, SYSTEM_NAMES
from .schemas import END_NOT_BEFORE_START, RECORD_ID, failure_cases

QUARANTINE_COLUMNS = ("side", "record_id", "work_email", "field", "value", "reason", "effect")
FIELD_NOT_SYNCED = "field not synced"
NOT_SYNCABLE = "employee not syncable"


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
    # The frame holds only str and None (as `to_canonical` builds it): a blank is then found by identity.
    text_only: bool = False

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
        """A boolean per field and employee (`by_field` layout): True where the employee has a value.
        Computed once, like `quarantined`."""
        cached = self.__dict__.get("_present")
        if cached is None:
            cached = ~is_none(self.by_field()) if self.text_only else pd.notna(self.by_field())
            self.__dict__["_present"] = cached
        return cached

    def by_field(self) -> np.ndarray:
        """The field values as one object array, a row per field (`FIELD_NAMES` order) and a column per row of
        ``frame``: each field's values lie together, as comparing or picking them a field at a time wants."""
        cached = self.__dict__.get("_by_field")
        if cached is None:
            if list(self.frame.columns) == list(CANONICAL_COLUMNS) and (self.frame.dtypes == object).all():
                cached = self.frame.to_numpy().T[1:]  # a view of the frame's block when it has one
            if cached is None or not cached.flags.c_contiguous:
                cached = np.stack([self.frame[name].to_numpy(dtype=object) for name in FIELD_NAMES])
            self.__dict__["_by_field"] = cached
        return cached

    def positions(self, record_ids: object) -> np.ndarray:
        """Row positions in ``frame`` of the given record ids (-1 for one it does not hold; the last row for an
        id held more than once, which is quarantined anyway). The id index is built once, like `present`."""
        ids, at = self._id_index()
        found = ids.get_indexer(np.asarray(record_ids, dtype=object))
        return found if at is None else np.where(found >= 0, at[found], -1)

    def _id_index(self) -> tuple[pd.Index, np.ndarray | None]:
        """(unique record ids, None) or, when some id is held twice, (each id once, its last row)."""
        index = self.__dict__.get("_ids")
        if index is None:
            ids = pd.Index(self.frame[RECORD_ID].to_numpy())
            if ids.is_unique:
                index = (ids, None)
            else:
                last = np.flatnonzero(~ids.duplicated(keep="last"))
                index = (ids[last], last)
            self.__dict__["_ids"] = index
        return index

    def first_holders(self, column: str, values: object) -> dict:
        """value -> record id of the first row holding it, for the given values that some row holds. The
        column's index (each value once, with its first row) is built once, like `present`."""
        indexes = self.__dict__.setdefault("_holders", {})
        if column not in indexes:
            held = self.frame[column].to_numpy(dtype=object)
            at = np.flatnonzero(~pd.isna(held) if not self.text_only else ~is_none(held))
            index = pd.Index(held[at], dtype=object)
            if not index.is_unique:
                first = ~index.duplicated(keep="first")
                index, at = index[first], at[first]
            indexes[column] = (index, at)
        index, at = indexes[column]
        values = list(values)
        found = index.get_indexer(np.array(values, dtype=object)) if values else np.empty(0, dtype=np.intp)
        ids = self.frame[RECORD_ID].to_numpy()
        return {v: ids[at[k]] for v, k in zip(values, found.tolist()) if k >= 0}

    def emails_of(self, record_ids: set) -> dict:
        """record id -> work email, for the given ids (of the last row holding an id twice)."""
        ids = list(record_ids)
        at = self.positions(ids) if ids else np.empty(0, dtype=np.intp)
        emails = self.frame[MATCH_KEY.name].to_numpy()
        return {r: emails[k] for r, k in zip(ids, at.tolist()) if k >= 0}

    def _quarantine_mask(self) -> pd.DataFrame:
        mask = np.zeros((len(self.frame), len(FIELD_NAMES)), dtype=bool)
        field = pd.Index(FIELD_NAMES).get_indexer(self.quarantine["field"].to_numpy())
        rows = np.flatnonzero(field >= 0)
        if len(rows):
            record_ids = self.quarantine["record_id"].to_numpy()[rows]
            if self._id_index()[1] is None:
                at = self.positions(record_ids)
                found = at >= 0
                mask[at[found], field[rows][found]] = True
            else:  # every row holding a quarantined record's id
                ids = self.frame[RECORD_ID]
                for k in np.unique(field[rows]).tolist():
                    mask[:, k] = ids.isin(set(record_ids[field[rows] == k].tolist())).to_numpy()
        return pd.DataFrame(mask, index=self.frame.index, columns=list(FIELD_NAMES))

    def syncable(self) -> pd.Series:
        """A boolean per employee: False when a quarantine row says the whole employee cannot be synced."""
        blocked = self.quarantine.loc[self.quarantine["effect"] == NOT_SYNCABLE, "record_id"]
        if self._id_index()[1] is not None or blocked.isna().any():  # every row holding a blocked id or a blank
            return ~self.frame[RECORD_ID].isin(set(blocked))
        ok = np.ones(len(self.frame), dtype=bool)
        at = self.positions(blocked.to_numpy())
        ok[at[at >= 0]] = False
        return pd.Series(ok, index=self.frame.index)

    def quarantine_share(self) -> float:
        """Share of employees with at least one quarantine row (0 for an empty table)."""
        if self.frame.empty:
            return 0.0
        return self.quarantine["record_id"].nunique() / len(self.frame)


# --- validation -----------------------------------------------------------------------------------


# Pandera's table-wide failures (no row to quarantine), in words; {case} is pandera's failure case.
SCHEMA_PROBLEMS = {
    "column_in_schema": "column {case!r} is not one of the synced fields",
    "column_in_dataframe": "column {case!r} is missing",
}


def _schema_error(column: object, check: str, case: object) -> str:
    where = "" if column is None or pd.isna(column) else f"{column}: "
    template = SCHEMA_PROBLEMS.get(check)
    if template is not None:
        return where + template.format(case=case)
    if check.startswith("dtype("):
        return f"{where}values of type {case}, expected {check[6:-1]}"
    return f"{where}{check} ({case})"


def explain_failures(frame: pd.DataFrame, side: str, failures: pd.DataFrame) -> tuple[list[dict], list[str]]:
    """Pandera's failure cases (`schemas.failure_cases`) in words: one quarantine row (`QUARANTINE_COLUMNS`)
    per failing field of an employee, its reason given by `_reason` (the one mapping of check names to what
    they mean), and a schema error for each failure of the whole table. The schema checks show their failures
    through this too, so a failure reads the same in the quarantine and in a check's result."""
    rows: list[dict] = []
    schema_errors: list[str] = []
    seen: set[tuple] = set()
    holders = _Holders(frame)
    cells = _Cells(frame)
    for case in failures.itertuples(index=False):
        index = case.index
        column = case.column
        check = str(case.check)
        if index is None or (isinstance(index, float) and index != index):
            schema_errors.append(_schema_error(column, check, case.failure_case))
            continue
        index = int(index)
        if check == END_NOT_BEFORE_START:
            column = "end_date"
        elif column not in frame.columns:
            schema_errors.append(_schema_error(column, check, case.failure_case))
            continue
        key = (index, column)
        if key in seen:
            continue
        seen.add(key)
        value = cells.at(index, column)
        rows.append(_row(cells, side, index, column, value, _reason(cells, side, index, column, check, value, holders)))
    return rows, schema_errors


class _Cells:
    """``frame.at[label, column]`` for many cells: columns read once as arrays, labels mapped to positions
    (a frame whose labels repeat is read through ``frame.at`` itself)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.columns: dict[str, np.ndarray] = {}
        self.unique = frame.index.is_unique
        self.range = isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1

    def at(self, label: int, column: str) -> object:
        if not self.unique:
            return self.frame.at[label, column]
        values = self.columns.get(column)
        if values is None:
            values = self.columns[column] = self.frame[column].to_numpy()
        if self.range and 0 <= label < len(values):
            return values[label]
        return values[self.frame.index.get_loc(label)]


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


def _reason(cells: _Cells, side: str, index: int, column: str, check: str, value: object,
            holders: _Holders) -> tuple[str, str]:
    """(reason, effect) of one failure: what each pandera check of `core.schemas` means, as people read it."""
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
        return (f"end date {cells.at(index, 'end_date')} is before start date {cells.at(index, 'start_date')}",
                FIELD_NOT_SYNCED)
    if check.startswith("no_duplicates"):
        record = cells.at(index, RECORD_ID)
        same = [r for r in holders.of(column, value) if r != record]
        others = ", ".join(str(r) for r in same[:3])
        more = f" and {len(same) - 3} more" if len(same) > 3 else ""
        if f.match_key:
            return (f"work email also held by {system} record {others}{more}: the employee cannot be matched",
                    NOT_SYNCABLE)
        return f"{f.label} also held by {system} record {others}{more}", FIELD_NOT_SYNCED
    explanation = validators.field_problem(f, value) or f"failed {check}"
    if f.match_key:
        return f"{explanation}: the employee cannot be matched", NOT_SYNCABLE
    return explanation, FIELD_NOT_SYNCED


def _row(cells: _Cells, side: str, index: int, column: str, value: object,
         reason_effect: tuple[str, str]) -> dict:
    reason, effect = reason_effect
    return {
        "side": side,
        "record_id": cells.at(index, RECORD_ID),
        "work_email": cells.at(index, MATCH_KEY.name),
        "field": column,
        "value": display_value(column, value),
        "reason": reason,
        "effect": effect,
    }


def build_table(raw: pd.DataFrame, side: str, *, map_country_names: bool = False) -> CanonicalTable:
    """Map, normalise and validate one side's raw extract."""
    frame, mapped = to_canonical(raw, side, map_country_names=map_country_names)
    return validate_table(frame, side, mapped_countries=mapped, text_only=True)


def validate_table(frame: pd.DataFrame, side: str, *, mapped_countries: int = 0,
                   text_only: bool = False) -> CanonicalTable:
    """Run the side's pandera model over a canonical frame and turn its failures into quarantine rows.
    ``text_only``: the caller guarantees every value is a str or None (`CanonicalTable.text_only`)."""
    failures = failure_cases(frame, side)
    rows, schema_errors = explain_failures(frame, side, failures)
    quarantine = pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))
    if not quarantine.empty:
        quarantine = quarantine.sort_values(["record_id", "field"], kind="stable").reset_index(drop=True)
    return CanonicalTable(side, frame, quarantine, schema_errors, mapped_countries, text_only)


__all__ = ["CANONICAL_COLUMNS", "CanonicalTable", "FIELD_NOT_SYNCED", "HUMA", "CRONA", "NOT_SYNCABLE",
           "QUARANTINE_COLUMNS", "build_table", "explain_failures", "to_canonical", "validate_table"]
