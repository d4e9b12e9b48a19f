"""A Crona Lön PAXml export -> the rows the API path gives (`connectors.crona.employee_rows`): one row of
`CRONA_COLUMNS` per `<person>`, so canonical tables, validation and everything after are the same for both
channels. A file that is not valid PAXml 2.0 is refused whole (PaxmlError: the schema's message and line); a
`<person>` without `anstid` is kept as an unreadable row with its reason, never dropped."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from .schema import parse
from .wire import COLUMN_BY_ELEMENT, ID_ATTRIBUTE, ID_COLUMN, PERSON, PERSONAL

SYSTEM = "Crona"  # as the API client names it in reasons


def document_bytes(source: bytes | str | PathLike) -> bytes:
    """The document itself: bytes as given, else the file's bytes (never decoded here: the XML declaration
    says how, and the parser reads it)."""
    return source if isinstance(source, bytes) else Path(source).read_bytes()


def _person_values(person) -> dict[str, str]:
    """The owned columns a `<person>` holds (an empty element is an empty string); other elements ignored."""
    values = {}
    for child in person:
        column = COLUMN_BY_ELEMENT.get(child.tag) if isinstance(child.tag, str) else None
        if column is not None:  # all its text: a comment or processing instruction inside does not cut it off
            values[column] = "".join(child.itertext())
    return values


def employee_rows(source: bytes | str | PathLike) -> tuple[list[dict], list[dict]]:
    """(rows of `CRONA_COLUMNS`, unreadable rows) of a PAXml export, in document order; an unreadable row has
    only the work email (when given) and the reason in `UNREADABLE_COLUMN`. PaxmlError for a file that is
    not valid PAXml 2.0."""
    return rows_of(parse(document_bytes(source)))


def rows_of(root) -> tuple[list[dict], list[dict]]:
    """`employee_rows` of a document already parsed and validated (`schema.parse`)."""
    from ...core.unreadable import UNREADABLE_COLUMN, reason_line
    from ..crona_wire import WORK_EMAIL_COLUMN, employee_row

    rows, unreadable = [], []
    for personal in root.iterchildren(PERSONAL):
        for element in personal.iterchildren(PERSON):
            values = _person_values(element)
            employment_id = element.get(ID_ATTRIBUTE)
            if employment_id:
                rows.append(employee_row({**values, ID_COLUMN: employment_id}))
                continue
            reason = reason_line(SYSTEM, f"PAXml export line {element.sourceline}: a <{PERSON}> without "
                                         f"{ID_ATTRIBUTE} (the employment number)")
            row = employee_row({WORK_EMAIL_COLUMN: values.get(WORK_EMAIL_COLUMN)})
            unreadable.append({**row, UNREADABLE_COLUMN: reason})
    return rows, unreadable
