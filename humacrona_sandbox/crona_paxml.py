"""PAXml 2.0 as the Crona sandbox reads and writes it: the file channel beside the employee API.

Stated here from paxml.md's table, not shared with the pipeline's PAXml connector: the sandbox is the
other side the connector is tested against, so the two readings of the format are kept apart.
Every document is checked against the published schema shipped beside this module (paxml-2.0.xsd, a
byte-for-byte copy of the reference), never against a hand-written subset. Exports are ISO-8859-1,
as Crona Lön writes its files; imports take whatever encoding the XML declaration states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from lxml import etree

SCHEMA_PATH = Path(__file__).with_name("paxml-2.0.xsd")
ENCODING = "ISO-8859-1"

# Crona API field -> PAXml <person> element (paxml.md). AnstNr is the attribute ``anstid``.
PERSON_ELEMENTS: dict[str, str] = {
    "FoNamn": "fornamn",
    "EfNamn": "efternamn",
    "EpostArb": "epostarb",
    "EpostPriv": "eposthem",
    "Adress1": "postadress",
    "Adress2": "extraadress",
    "PostNr": "postnr",
    "Ort": "ort",
    "Land": "land",
    "Mobil": "mobiltelefon",
    "AnstDatum": "anstdatum",
    "AvgDatum": "avgdatum",
    "UtbetClearNr": "bankclearing",
    "UtbetKontoNr": "bankkonto",
    "Befattning": "befattning",
}
_FIELD_OF_ELEMENT = {element: name for name, element in PERSON_ELEMENTS.items()}


class PaxmlInvalid(ValueError):
    """The document is not well-formed XML or not valid PAXml 2.0; ``line`` is where (0 when unknown)."""

    def __init__(self, message: str, line: int):
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line


@dataclass
class PaxmlPerson:
    """One ``<person>`` of an import: the Crona fields it gives (only those present) and what else it says."""

    anstid: str | None
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    delete: bool = False
    persnr: str | None = None
    ignored: list[str] = field(default_factory=list)  # payroll elements the sandbox does not keep


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def validate(document: etree._ElementTree) -> None:
    """Raise :class:`PaxmlInvalid` with the schema's first message and its line."""
    checker = schema()
    if not checker.validate(document):
        error = checker.error_log[0]
        raise PaxmlInvalid(error.message, error.line)


def export_time() -> str:
    """When the export is taken, for its header's ``datum``: UTC, to the millisecond, as ``Andrad``. A reader
    compares it with when it wrote its import file: whole seconds would date an export taken in the same
    second as that file before it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_employees(employees: list[dict], company_name: str, orgnr: str,
                    persnr_of: dict[str, str] | None = None) -> bytes:
    """Every employee as one valid PAXml 2.0 document: the header and ``<personal>``.

    A field that is null is left out (PAXml has no "cleared"), so importing the export changes nothing.
    ``persnr_of`` (AnstNr -> personnummer) gives the ``persnr`` attribute of those the sandbox holds one for.
    """
    root = etree.Element("paxml")
    header = etree.SubElement(root, "header")
    for name, value in (("format", "PERSONAL"), ("version", "2.0"),
                        ("datum", export_time()),
                        ("foretagorgnr", orgnr), ("foretagnamn", company_name),
                        ("programnamn", "Crona Lön (humacrona sandbox)")):
        etree.SubElement(header, name).text = value
    if employees:
        personal = etree.SubElement(root, "personal")
        for employee in employees:
            person = etree.SubElement(personal, "person", anstid=employee["AnstNr"])
            if (persnr := (persnr_of or {}).get(employee["AnstNr"])) is not None:
                person.set("persnr", persnr)
            for name, element in PERSON_ELEMENTS.items():
                if employee.get(name) is not None:
                    etree.SubElement(person, element).text = employee[name]
    document = etree.ElementTree(root)
    validate(document)
    return etree.tostring(document, xml_declaration=True, encoding=ENCODING, pretty_print=True)


def read_persons(data: bytes) -> list[PaxmlPerson]:
    """The ``<person>`` elements of a PAXml 2.0 document; :class:`PaxmlInvalid` when it is not one."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        document = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        raise PaxmlInvalid(f"not well-formed XML: {exc.msg}", exc.lineno or 0) from None
    validate(document)
    persons: list[PaxmlPerson] = []
    for element in document.getroot().iterfind("personal/person"):
        person = PaxmlPerson(anstid=element.get("anstid"), line=element.sourceline or 0,
                             persnr=element.get("persnr"), delete=element.get("delete") in ("true", "1"))
        for child in element:
            if not isinstance(child.tag, str):
                continue  # a comment or processing instruction
            name = _FIELD_OF_ELEMENT.get(child.tag)
            if name is None:
                person.ignored.append(child.tag)
            else:
                person.fields[name] = child.text or ""  # an empty element is an empty string
        persons.append(person)
    return persons
