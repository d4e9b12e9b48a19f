"""PAXml 2.0's names for the Crona columns the sync owns (paxml.md's table): the `<person>` element holding
each raw Crona column, keyed by the field table's columns (`core.fields`), so no Crona name is spelled here.
The employment ID is the `anstid` attribute of `<person>`, not an element. Every other `<person>` element
(anstform, manlon, skattetabell, …) is payroll data the sync does not own: not read, never written."""

from __future__ import annotations

from ...core.fields import CRONA, FIELDS, RECORD_ID_COLUMN, Kind

ROOT = "paxml"
HEADER = "header"
PERSONAL = "personal"
PERSON = "person"
ID_ATTRIBUTE = "anstid"
VERSION = "2.0"
PROGRAM = "humacrona"

# The phone field's canonical name is also Huma's property name, which only the field table spells.
_PHONE = next(f.name for f in FIELDS if f.kind == Kind.PHONE)
# The PAXml elements of each synced field, in the order of the field's Crona columns.
_ELEMENTS_BY_FIELD: dict[str, tuple[str, ...]] = {
    "given_name": ("fornamn",),
    "family_name": ("efternamn",),
    "work_email": ("epostarb",),
    "address": ("postadress", "postnr", "ort", "land"),
    _PHONE: ("mobiltelefon",),
    "start_date": ("anstdatum",),
    "end_date": ("avgdatum",),
    "bank_account": ("bankclearing", "bankkonto"),
    "private_email": ("eposthem",),
    "job_title": ("befattning",),
}
# The Crona column that is the `anstid` attribute (the field table's record id).
ID_COLUMN = RECORD_ID_COLUMN[CRONA]
# Raw Crona column -> PAXml element, in field-table order (the record id is the attribute, not here).
ELEMENT_BY_COLUMN: dict[str, str] = {
    column: element
    for f in FIELDS if f.name in _ELEMENTS_BY_FIELD
    for column, element in zip(f.crona_columns, _ELEMENTS_BY_FIELD[f.name], strict=True)
}
COLUMN_BY_ELEMENT: dict[str, str] = {element: column for column, element in ELEMENT_BY_COLUMN.items()}
# Elements the schema types xs:date: PAXml cannot hold an empty one, so a file cannot clear a date.
DATE_ELEMENTS: frozenset[str] = frozenset(
    ELEMENT_BY_COLUMN[c] for f in FIELDS if f.kind == Kind.DATE for c in f.crona_columns)
