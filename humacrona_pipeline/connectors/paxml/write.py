"""One PAXml 2.0 import document from the sync's changes to Crona: for each employee its `anstid` and only the
elements that change (a create: every element Crona requires). Never the `delete` attribute, never payroll
data the sync does not own; the document is validated against the schema before its bytes are returned."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime

from .schema import UnwritableValueError, parse
from .wire import (
    DATE_ELEMENTS,
    ELEMENT_BY_COLUMN,
    HEADER,
    ID_ATTRIBUTE,
    ID_COLUMN,
    PERSON,
    PERSONAL,
    PROGRAM,
    ROOT,
    VERSION,
)

# ISO-8859-1, not UTF-8: the encoding of the published schema and of the PAXml files Swedish payroll programs
# exchange, so an importer that assumes Latin-1 still reads å, ä, ö right; a character outside Latin-1 (Ł, an
# emoji) is written as a character reference (&#321;), which every XML parser reads back exactly.
ENCODING = "ISO-8859-1"


def _xml_char(code: int) -> bool:
    """Whether XML 1.0 can hold the character (its Char production)."""
    return (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF)


def _text(employment_id: str, column: str, value: object) -> str:
    """The element text of one value; UnwritableValueError naming employee and field when XML cannot hold it."""
    element = ELEMENT_BY_COLUMN[column]
    if value is None:
        if element in DATE_ELEMENTS:
            raise UnwritableValueError(f"{ID_COLUMN} {employment_id!r}: {column} cannot be cleared by a PAXml file "
                                       f"(<{element}> is a date and PAXml 2.0 has no empty date)")
        return ""  # PAXml has no "cleared": an empty element is an empty string
    return _checked(employment_id, column, str(value))


def _checked(employment_id: str, column: str, text: str) -> str:
    bad = next((ch for ch in text if not _xml_char(ord(ch))), None)
    if bad is not None:
        raise UnwritableValueError(f"{ID_COLUMN} {employment_id!r}: {column} holds U+{ord(bad):04X}, a character "
                                   "XML 1.0 cannot hold; the text rules should have quarantined it")
    return text


def _person(personal, change: Mapping[str, object]) -> None:
    """One `<person anstid=…>` with the changed elements, in the field table's order."""
    from lxml import etree

    employment_id = change.get(ID_COLUMN)
    if not employment_id:
        raise ValueError(f"a change for Crona without its {ID_COLUMN}: {sorted(change)}")
    employment_id = _checked(str(employment_id), ID_COLUMN, str(employment_id))
    unknown = sorted(set(change) - set(ELEMENT_BY_COLUMN) - {ID_COLUMN})
    if unknown:
        raise ValueError(f"{ID_COLUMN} {employment_id}: {', '.join(unknown)} not written by the sync in PAXml")
    person = etree.SubElement(personal, PERSON, {ID_ATTRIBUTE: employment_id})
    for column, element in ELEMENT_BY_COLUMN.items():
        if column in change:
            etree.SubElement(person, element).text = _text(employment_id, column, change[column])


def _check_creates(changes: list[Mapping[str, object]], created: Collection[str]) -> None:
    """A create must carry every column Crona requires (core.fields.REQUIRED_FOR_CREATE), non-empty."""
    from ..crona_wire import REQUIRED_COLUMNS

    for change in changes:
        if str(change.get(ID_COLUMN)) in created:
            missing = [c for c in REQUIRED_COLUMNS if c != ID_COLUMN and not change.get(c)]
            if missing:
                raise ValueError(f"{ID_COLUMN} {change.get(ID_COLUMN)}: Crona cannot create an employee "
                                 f"without {', '.join(missing)}")


def _header(root, now: datetime) -> None:
    from lxml import etree

    header = etree.SubElement(root, HEADER)
    etree.SubElement(header, "version").text = VERSION
    etree.SubElement(header, "datum").text = now.isoformat(timespec="seconds")
    etree.SubElement(header, "programnamn").text = f"{PROGRAM} {program_version()}".strip()


def program_version() -> str:
    """The installed humacrona's version ("" when run from a tree that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PROGRAM)
    except PackageNotFoundError:
        return ""


def import_document(changes: Iterable[Mapping[str, object]], *, created: Collection[str] = (),
                    now: datetime | None = None) -> bytes:
    """The PAXml 2.0 import document for per-employee changes ({AnstNr, changed Crona column -> value}; None
    clears a text element). ``created`` names the AnstNr of new employees (each must carry every required
    column). Raises ValueError / UnwritableValueError before anything is built; PaxmlError if the built
    document does not validate (a bug: it is never returned)."""
    from lxml import etree

    changes = list(changes)
    twice = sorted(i for i, n in Counter(str(change.get(ID_COLUMN)) for change in changes).items() if n > 1)
    if twice:
        raise ValueError(f"more than one change for {ID_COLUMN} {', '.join(twice)}")
    _check_creates(changes, {str(i) for i in created})
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("the document's datum must be timezone-aware")
    root = etree.Element(ROOT)
    _header(root, now)
    if changes:  # the schema wants at least one <person> in a <personal>
        personal = etree.SubElement(root, PERSONAL)
        for change in changes:
            _person(personal, change)
    # CRLF line ends, as PAXml files are exchanged (paxml.md); an XML reader reads a value's line break back alike
    document = etree.tostring(root, encoding=ENCODING, xml_declaration=True, pretty_print=True).replace(b"\n", b"\r\n")
    parse(document)  # the bytes themselves, validated against the schema
    return document
