"""Pandera models of the canonical employee tables, one per system, generated from the field table.

Validation is lazy: every failure is collected. A failure with a row index quarantines one field of one
employee; a failure without one (a missing column, a wrong type) is a schema error that fails the whole
table. Required-ness differs per system (Crona cannot hold an employee without an AnstNr, Huma can)."""

from __future__ import annotations

from functools import cache

import pandas as pd
import pandera.pandas as pa
from pandera import extensions
from pandera.typing import Series

from . import validators
from .fields import BY_NAME, CRONA, FIELDS, HUMA, SYSTEM_NAMES, Kind

RECORD_ID = "record_id"
END_NOT_BEFORE_START = "end_not_before_start"


@extensions.register_check_method(statistics=["kind"])
def synced_value(values: pd.Series, *, kind: str) -> pd.Series:
    """The value is one the field's validator accepts (see `core.validators`)."""
    return validators.valid(Kind(kind), values)


@extensions.register_check_method(statistics=["field"])
def text_rules(values: pd.Series, *, field: str) -> pd.Series:
    """The value keeps the field's text rules: printable, NFC, trimmed, not too long (see `core.fields`)."""
    return validators.text_valid(BY_NAME[field], values)


@extensions.register_check_method()
def no_duplicates(values: pd.Series) -> pd.Series:
    """No other employee on the same side holds the value."""
    return ~validators.duplicated(values)


def _end_not_before_start(df: pd.DataFrame) -> pd.Series:
    start, end = df["start_date"], df["end_date"]
    both = start.notna() & end.notna()
    later = end[both].astype(str) >= start[both].astype(str)
    return (~both | later.reindex(df.index, fill_value=True)).astype(bool)


def end_not_before_start(cls, df: pd.DataFrame) -> pd.Series:
    """An employment does not end before it starts (Crona refuses AvgDatum before AnstDatum)."""
    return _end_not_before_start(df)


def _namespace(side: str) -> dict:
    # Object columns holding str or None. (Series[str] would have pandera test every cell's type in Python;
    # the mapping in core.canonical only ever writes str or None.)
    annotations: dict = {RECORD_ID: Series[object]}
    namespace: dict = {RECORD_ID: pa.Field(nullable=False, unique=True)}
    for f in FIELDS:
        annotations[f.name] = Series[object]
        checks: dict = {}
        if f.kind not in (Kind.TEXT, Kind.IDENTIFIER):
            checks["synced_value"] = {"kind": f.kind.value}
        if f.text_rules and not validators.implied_text_rules(f):
            checks["text_rules"] = {"field": f.name}
        if f.unique_anywhere:
            checks["no_duplicates"] = ()
        # ignore_na=False: the checks pass nulls themselves, so pandera need not drop them from a copy first.
        namespace[f.name] = pa.Field(nullable=not f.required_in(side), ignore_na=False, **checks)

    class Config:
        name = f"{SYSTEM_NAMES[side]} employees"
        strict = True  # a column the field table does not know is a mapping error
        coerce = False

    namespace["__annotations__"] = annotations
    namespace["Config"] = Config
    # (Rows without both dates pass it; ignore_na=False spares pandera a null test of the whole frame.)
    namespace[END_NOT_BEFORE_START] = pa.dataframe_check(end_not_before_start, ignore_na=False)
    namespace["__doc__"] = (f"The canonical {SYSTEM_NAMES[side]} employee table: one row per record, one column per"
                            " synced field, normalised values.")
    return namespace


@cache
def employee_model(side: str) -> type[pa.DataFrameModel]:
    """The DataFrameModel for one side (`HUMA` or `CRONA`)."""
    name = f"{SYSTEM_NAMES[side]}Employees"
    return type(name, (pa.DataFrameModel,), _namespace(side))


HumaEmployees = employee_model(HUMA)
CronaEmployees = employee_model(CRONA)


def failure_cases(frame: pd.DataFrame, side: str) -> pd.DataFrame:
    """Every failure of the side's model on ``frame`` (pandera's failure-case table; empty when valid)."""
    try:
        # inplace: the model neither coerces nor fills defaults, so pandera need not copy the frame first.
        employee_model(side).validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases
    return pd.DataFrame(columns=["schema_context", "column", "check", "check_number", "failure_case", "index"])
