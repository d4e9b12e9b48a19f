"""Raw extract rows -> the canonical employee table of one system, validated, with its quarantine.

Nothing is dropped: every raw row becomes a canonical row, and every value that may not be synced gets
a quarantine row saying why. A quarantined field is not synced for that employee; an employee missing
something its own system requires (or whose work email cannot be matched) is not syncable at all."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import normalise as norm
from . import validators
from .countries import is_alpha2
from .display import display_value
from .fields import BY_NAME, CRONA, FIELD_NAMES, FIELDS, HUMA, MATCH_KEY, RECORD_ID_COLUMN, SYSTEM_NAMES, Field
from .schemas import END_NOT_BEFORE_START, RECORD_ID, failure_cases

QUARANTINE_COLUMNS = ("side", "record_id", "work_email", "field", "value", "reason", "effect")
FIELD_NOT_SYNCED = "field not synced"
NOT_SYNCABLE = "employee not syncable"
CANONICAL_COLUMNS = (RECORD_ID, *FIELD_NAMES)


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
        """A boolean per employee and field (frame's index, `FIELD_NAMES` columns): True when quarantined."""
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


def _column(raw: pd.DataFrame, name: str) -> list:
    if name not in raw.columns:
        raise KeyError(f"the raw table has no column {name!r}")
    return raw[name].tolist()


def _map_simple(raw: pd.DataFrame, f: Field, side: str) -> list:
    values = _column(raw, f.columns(side)[0])
    if f.kind.value == "email":
        return [norm.email(v) for v in values]
    if f.kind.value == "date":
        return [norm.iso_date(v) for v in values]
    return [norm.text(v) for v in values]


def _map_address(raw: pd.DataFrame, side: str, map_country_names: bool) -> tuple[list, int]:
    line1, postal, city, country = (_column(raw, c) for c in BY_NAME["address"].columns(side))
    values = [norm.address(*parts, map_country_names=map_country_names)
              for parts in zip(line1, postal, city, country)]
    mapped = 0
    if map_country_names:
        mapped = sum(1 for raw_country, value in zip(country, values)
                     if value is not None and norm.text(raw_country) is not None
                     and not is_alpha2(str(norm.text(raw_country)).upper())
                     and is_alpha2(norm.address_parts(value)["country"]))
    return values, mapped


def _map_bank_account(raw: pd.DataFrame, side: str) -> list:
    columns = BY_NAME["bank_account"].columns(side)
    if side == CRONA:
        clearing, account = (_column(raw, c) for c in columns)
        return [norm.bank_account_parts(c, a) for c, a in zip(clearing, account)]
    numbers = _column(raw, columns[0])
    # An international account has an IBAN instead of a number: kept, so it is not taken for a gap.
    ibans = raw["bankAccount.iban"].tolist() if "bankAccount.iban" in raw.columns else [None] * len(numbers)
    return [norm.bank_account_text(n if norm.text(n) is not None else i) for n, i in zip(numbers, ibans)]


def to_canonical(raw: pd.DataFrame, side: str, *, map_country_names: bool = False) -> tuple[pd.DataFrame, int]:
    """The canonical frame (`CANONICAL_COLUMNS`) of one side's raw extract, and how many country names
    were mapped to codes. Phone numbers are read in the region of the employee's own address."""
    data: dict[str, list] = {RECORD_ID: [norm.text(v) for v in _column(raw, RECORD_ID_COLUMN[side])]}
    address_country = _column(raw, BY_NAME["address"].columns(side)[3])
    mapped = 0
    for f in FIELDS:
        if f.name == "address":
            data[f.name], mapped = _map_address(raw, side, map_country_names)
        elif f.name == "bank_account":
            data[f.name] = _map_bank_account(raw, side)
        elif f.name == "phone":
            numbers = _column(raw, f.columns(side)[0])
            data[f.name] = [norm.phone(v, norm.phone_region(c)) for v, c in zip(numbers, address_country)]
        else:
            data[f.name] = _map_simple(raw, f, side)
    frame = pd.DataFrame(data, columns=list(CANONICAL_COLUMNS), index=pd.RangeIndex(len(raw)), dtype=object)
    return frame, mapped


# --- validation -----------------------------------------------------------------------------------


def _quarantine_rows(frame: pd.DataFrame, side: str, failures: pd.DataFrame) -> tuple[list[dict], list[str]]:
    rows: list[dict] = []
    schema_errors: list[str] = []
    seen: set[tuple] = set()
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
        rows.append(_row(frame, side, index, column, value, _reason(frame, side, index, column, check, value)))
    return rows, schema_errors


def _reason(frame: pd.DataFrame, side: str, index: int, column: str, check: str, value: object) -> tuple[str, str]:
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
        same = frame.index[(frame[column] == value) & (frame.index != index)]
        others = ", ".join(str(frame.at[i, RECORD_ID]) for i in same[:3])
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
    return CanonicalTable(side, frame, quarantine, schema_errors, mapped_countries)


__all__ = ["CANONICAL_COLUMNS", "CanonicalTable", "FIELD_NOT_SYNCED", "HUMA", "CRONA", "NOT_SYNCABLE",
           "QUARANTINE_COLUMNS", "build_table", "to_canonical", "validate_table"]
