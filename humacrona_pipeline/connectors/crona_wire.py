"""Crona Lön's wire format: the one place besides the field table (`core.fields`) that spells Crona's field
names. An employee as Crona sends it becomes one row of `CRONA_COLUMNS`; canonical values (`core.normalise`)
become the bodies of `POST /anstallda` and `PATCH /anstallda/{AnstNr}`.

Which fields a create requires, the record id (AnstNr) and the match key (work email) are the field table's
facts, read from it here; what is Crona's alone (every column of the contract, the salary account split over
a clearing and an account column) is stated here.
"""

from __future__ import annotations

from ..core import normalise as norm
from ..core.fields import BY_NAME, CRONA, FIELDS, MATCH_KEY, RECORD_ID_COLUMN, REQUIRED_FOR_CREATE, Kind

# Every field of a Crona employee, in the contract's order; `Andrad` is set by Crona and read-only.
CRONA_COLUMNS: tuple[str, ...] = (
    "AnstNr",
    "FoNamn",
    "EfNamn",
    "EpostArb",
    "EpostPriv",
    "Adress1",
    "Adress2",
    "PostNr",
    "Ort",
    "Land",
    "Mobil",
    "AnstDatum",
    "AvgDatum",
    "UtbetClearNr",
    "UtbetKontoNr",
    "Befattning",
    "Andrad",
)
# The column naming an employee (the AnstNr): the field table's record id.
KEY_FIELD = RECORD_ID_COLUMN[CRONA]
# The work email column, by which an employee is matched.
WORK_EMAIL_COLUMN = MATCH_KEY.crona_columns[0]
# Columns that hold a bank account (the field table's masked fields): shown masked (last four digits) wherever
# rows are displayed. Crona splits an account over a clearing and an account column, in that order; the
# clearing number only names the bank branch, so only the last column is masked.
CRONA_MASKED_COLUMNS: tuple[str, ...] = tuple(f.crona_columns[-1] for f in FIELDS if f.masked)


def employee_row(employee: dict) -> dict:
    """One row with exactly `CRONA_COLUMNS` (a field Crona left out is None)."""
    return {column: employee.get(column) for column in CRONA_COLUMNS}


# ------------------------------------------------------------------------------------ write bodies
#
# Canonical values (core.normalise) -> Crona's columns. Addresses are written to Adress1, PostNr, Ort and
# Land (Adress2, the c/o line, is not synced and left as it is); a salary account to UtbetClearNr and
# UtbetKontoNr. None clears every column of the field. The AnstNr is the record's key: it goes into a
# create only, never into a PATCH body.

# The columns `POST /anstallda` cannot do without: those of the fields Crona requires, in table order.
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for name in REQUIRED_FOR_CREATE[CRONA] for c in BY_NAME[name].crona_columns)
IMMUTABLE_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.immutable_in_crona)  # the employment ID


def crona_values(field_name: str, value: str | None) -> dict[str, str | None]:
    """The Crona columns (and their values) that hold one canonical field's value."""
    f = BY_NAME[field_name]
    columns = f.crona_columns
    if value is None:
        return dict.fromkeys(columns)
    if f.kind == Kind.ADDRESS:
        return dict(zip(columns, norm.address_parts(value).values()))
    if f.kind == Kind.BANK_ACCOUNT:
        return dict(zip(columns, norm.bank_account_split(value)))
    return {columns[0]: value}


def patch_body(changes: dict[str, str | None]) -> dict:
    """`PATCH /anstallda/{AnstNr}` body for canonical field -> new value (None clears). The employment
    ID (AnstNr) cannot be changed in Crona and must not be among the changes."""
    if any(name in changes for name in IMMUTABLE_FIELDS):
        raise ValueError(f"the {KEY_FIELD} of an existing Crona employee cannot be changed")
    body: dict = {}
    for name, value in changes.items():
        body.update(crona_values(name, value))
    return body


def create_body(values: dict[str, str | None]) -> dict:
    """`POST /anstallda` body for a new employee from canonical field -> value; the AnstNr is the
    employment ID. Raises ValueError naming what Crona requires and the values lack."""
    body: dict = {}
    for name, value in values.items():
        if value is not None:
            body.update(crona_values(name, value))
    missing = [c for c in REQUIRED_COLUMNS if not body.get(c)]
    if missing:
        raise ValueError(f"Crona cannot create an employee without {', '.join(missing)}")
    return {KEY_FIELD: body.pop(KEY_FIELD), **body}


def is_same_employee(employee: dict, work_email: str) -> bool:
    """Whether a Crona employee is the person with this work email (compared without letter case)."""
    return norm.email(employee.get(WORK_EMAIL_COLUMN)) == norm.email(work_email)


def remaining_changes(employee: dict, body: dict) -> dict:
    """The columns of a write body that the stored employee does not hold yet (the AnstNr left out)."""
    return {k: v for k, v in body.items() if k != KEY_FIELD and employee.get(k) != v}
