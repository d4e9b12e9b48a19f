"""Issue 13 §1/§4, the PAXml 2.0 codec: a Crona export read into the API path's rows, and the import file the
sync writes. Round trip (the raw rows, and so the canonical table, come back the same), hostile text, files that
are not PAXml 2.0 refused with the schema's line and element, a person without anstid kept as unreadable,
duplicate anstid left to validation, and the shipped schema being the published one."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from humacrona_pipeline.connectors.crona_wire import CRONA_COLUMNS, KEY_FIELD, REQUIRED_COLUMNS, employee_row
from humacrona_pipeline.connectors.paxml import PaxmlError, UnwritableValueError
from humacrona_pipeline.connectors.paxml.read import employee_rows
from humacrona_pipeline.connectors.paxml.schema import SCHEMA_FILE, parse
from humacrona_pipeline.connectors.paxml.wire import ELEMENT_BY_COLUMN
from humacrona_pipeline.connectors.paxml.write import import_document
from humacrona_pipeline.core.canonical import NOT_SYNCABLE, build_table
from humacrona_pipeline.core.fields import BY_NAME, CRONA, FIELDS, RECORD_ID_COLUMN
from humacrona_pipeline.core.unreadable import UNREADABLE_COLUMN
from tests.core.test_properties import SETTINGS, crona_row, people_lists, written
from tests.reference_files import reference_file

GIVEN_COLUMN, FAMILY_COLUMN, EMAIL_COLUMN, START_COLUMN, END_COLUMN = (
    BY_NAME[name].crona_columns[0] for name in ("given_name", "family_name", "work_email", "start_date", "end_date"))
OWNED = set(ELEMENT_BY_COLUMN.values())


def _create(anstnr: str, **values: str) -> dict:
    """A create's change: every column Crona requires, with the given ones on top."""
    change = {column: f"{column.lower()}-{anstnr}" for column in REQUIRED_COLUMNS}
    return {**change, KEY_FIELD: anstnr, EMAIL_COLUMN: f"p{anstnr}@nordljus.se", **values}


def _owned_change(row: dict) -> dict:
    """What a create of a raw row carries: its AnstNr and every owned column it holds."""
    return {c: v for c, v in row.items() if v is not None and (c in ELEMENT_BY_COLUMN or c == KEY_FIELD)}


def _raw_row(data: st.DataObject, person) -> dict:
    """A raw Crona row as people leave it, its dates as the sync writes them (YYYY-MM-DD: xs:date takes no
    other form, so a date written another way reaches a PAXml file only through the pipeline's normalising)."""
    row = crona_row(data.draw(written(person, map_names=False)))
    row[START_COLUMN] = person.start.isoformat() if person.start else None
    row[END_COLUMN] = person.end.isoformat() if person.end else None
    return row


def _document(persons: str, header: str = "<version>2.0</version>", root: str = "paxml",
              encoding: str = "UTF-8", root_attributes: str = "") -> bytes:
    text = (f'<?xml version="1.0" encoding="{encoding}"?>\n<{root}{root_attributes}>\n<header>{header}</header>\n'
            f"<personal>\n{persons}\n</personal>\n</{root}>\n")
    return text.encode(encoding)


def _read_back(document: bytes) -> list[dict]:
    rows, unreadable = employee_rows(document)
    assert unreadable == []
    return rows


# --- the wire mapping --------------------------------------------------------------------------------


def test_every_synced_crona_column_has_its_own_paxml_element():
    owned = [c for f in FIELDS for c in f.crona_columns if c != RECORD_ID_COLUMN[CRONA]]
    assert sorted(ELEMENT_BY_COLUMN) == sorted(owned)
    assert len(OWNED) == len(owned)
    assert set(ELEMENT_BY_COLUMN) <= set(CRONA_COLUMNS)


# --- round trip ----------------------------------------------------------------------------------------


@SETTINGS
@given(st.data(), people_lists(max_size=5))
def test_raw_rows_written_as_paxml_read_back_the_same_and_every_document_validates(data, people):
    rows = [_raw_row(data, p) for p in people]
    document = import_document([_owned_change(r) for r in rows], created=[r[KEY_FIELD] for r in rows])
    parse(document)  # validates against the shipped schema
    back = _read_back(document)
    assert back == [employee_row(r) for r in rows]
    if rows:  # and so the canonical table is the same: nothing downstream sees which channel it came from
        original = build_table(pd.DataFrame(rows, columns=list(CRONA_COLUMNS)), CRONA)
        again = build_table(pd.DataFrame(back, columns=list(CRONA_COLUMNS)), CRONA)
        pd.testing.assert_frame_equal(original.frame, again.frame)
        pd.testing.assert_frame_equal(original.quarantine, again.quarantine)


XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                   | st.sampled_from("\t\n\r"), max_size=40)


@SETTINGS
@given(XML_TEXT)
def test_any_text_xml_can_hold_reads_back_unchanged(value):
    document = import_document([{KEY_FIELD: "7", GIVEN_COLUMN: value}])
    (row,) = _read_back(document)
    assert row[GIVEN_COLUMN] == value


@pytest.mark.parametrize("value", ["<b>Åsa</b>", "Tom & Jerry", "x ]]> y", "\"quoted\" 'single'", "Łukasz",
                                   "Zoë 🎉", "<![CDATA[x]]>", "&amp;", "  spaced\tand\nbroken  "])
def test_hostile_text_is_written_as_valid_xml_and_reads_back_unchanged(value):
    document = import_document([{KEY_FIELD: "42", GIVEN_COLUMN: value, FAMILY_COLUMN: value}])
    (row,) = _read_back(document)
    assert (row[GIVEN_COLUMN], row[FAMILY_COLUMN]) == (value, value)
    assert b"<b>" not in document and b"]]>" not in document.split(b"?>", 1)[1]


@pytest.mark.parametrize("value", ["A\x00B", "bell\x07", "esc\x1b[31m", "lone \ud800 surrogate", "\ufffe"])
def test_a_character_xml_cannot_hold_raises_naming_the_employee_and_field(value):
    with pytest.raises(UnwritableValueError, match=f"{KEY_FIELD} '1234': {FAMILY_COLUMN} holds U\\+"):
        import_document([{KEY_FIELD: "1234", GIVEN_COLUMN: "Ok", FAMILY_COLUMN: value}])


def test_the_written_document_has_a_paxml_2_header_and_only_what_changes():
    now = datetime.fromisoformat("2026-12-07T09:30:00+01:00")
    document = import_document([_create("1001"), {KEY_FIELD: "1002", END_COLUMN: "2027-01-31"}],
                               created=["1001"], now=now)
    root = etree.fromstring(document)
    assert document.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert root.findtext("header/version") == "2.0"
    assert root.findtext("header/programnamn").startswith("humacrona")
    assert datetime.fromisoformat(root.findtext("header/datum")) == now
    first, second = root.findall("personal/person")
    assert dict(first.attrib) == {"anstid": "1001"} and dict(second.attrib) == {"anstid": "1002"}
    assert {child.tag for child in first} == {ELEMENT_BY_COLUMN[c] for c in REQUIRED_COLUMNS if c != KEY_FIELD}
    assert [(child.tag, child.text) for child in second] == [(ELEMENT_BY_COLUMN[END_COLUMN], "2027-01-31")]


@SETTINGS
@given(st.data(), people_lists(max_size=4))
def test_the_writer_never_sends_delete_nor_payroll_elements(data, people):
    rows = [_raw_row(data, p) for p in people]
    root = etree.fromstring(import_document([_owned_change(r) for r in rows]))
    for person in root.iter("person"):
        assert set(person.attrib) == {"anstid"}
        assert {child.tag for child in person} <= OWNED
    assert b"delete" not in etree.tostring(root)


def test_a_create_without_a_required_column_or_a_cleared_date_is_refused_before_writing():
    lacking = _create("5")
    del lacking[GIVEN_COLUMN]
    with pytest.raises(ValueError, match=f"cannot create an employee without {GIVEN_COLUMN}"):
        import_document([lacking], created=["5"])
    with pytest.raises(UnwritableValueError, match=f"'6': {END_COLUMN} cannot be cleared"):
        import_document([{KEY_FIELD: "6", END_COLUMN: None}])
    with pytest.raises(ValueError, match="more than one change"):
        import_document([{KEY_FIELD: "7"}, {KEY_FIELD: "7", GIVEN_COLUMN: "X"}])
    with pytest.raises(ValueError, match="not written by the sync"):
        import_document([{KEY_FIELD: "8", "Andrad": "2026-01-01"}])


def test_a_cleared_text_is_an_empty_element_and_reads_back_as_empty_text():
    (row,) = _read_back(import_document([{KEY_FIELD: "9", FAMILY_COLUMN: None}]))
    assert row[FAMILY_COLUMN] == ""


# --- reading Crona's export -----------------------------------------------------------------------------


def test_an_iso_8859_1_export_is_decoded_as_its_declaration_says(tmp_path):
    person = ('<person anstid="12"><fornamn>Åsa</fornamn><efternamn>Öberg</efternamn>'
              "<anstform>T</anstform><manlon>32000</manlon></person>")
    path = tmp_path / "crona-export.xml"
    schema_hint = (' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                   ' xsi:noNamespaceSchemaLocation="http://www.paxml.se/2.0/paxml.xsd"')  # as exports carry it
    path.write_bytes(_document(person, encoding="ISO-8859-1", root_attributes=schema_hint))
    assert "Åsa".encode("latin-1") in path.read_bytes()
    ((row,), unreadable) = employee_rows(path)
    assert unreadable == []
    assert row == employee_row({KEY_FIELD: "12", GIVEN_COLUMN: "Åsa", FAMILY_COLUMN: "Öberg"})


@pytest.mark.parametrize(("document", "said"), [
    (_document('<person anstid="1"/>', root="paxmlx"), "line 2: Element 'paxmlx': No matching global declaration"),
    (_document('<person anstid="1"/>', header="<version>1.0</version>"), "line 3: Element 'version'"),
    (_document('<person anstid="1">\n<skonummer>44</skonummer></person>'), "line 6: Element 'skonummer'"),
    (_document('<person anstid="1">\n<anstdatum>snart</anstdatum></person>'), "line 6: Element 'anstdatum'"),
    (_document('<person anstid="1" persnr="1"/>'), "Element 'person', attribute 'persnr'"),
    (b"<paxml><header><version>2.0</version></header>", "not an XML document: line 1"),
])
def test_a_file_that_is_not_paxml_2_is_refused_with_line_and_element(document, said):
    with pytest.raises(PaxmlError, match="^(not valid PAXml 2.0|not an XML document)") as refused:
        employee_rows(document)
    assert said in str(refused.value)


def test_a_file_with_a_doctype_is_refused_and_no_entity_is_read():
    document = (b'<?xml version="1.0"?>\n<!DOCTYPE paxml [<!ENTITY x SYSTEM "file:///etc/hostname">]>\n'
                b'<paxml><header><version>2.0</version></header><personal><person anstid="1">'
                b"<fornamn>&x;</fornamn></person></personal></paxml>")
    with pytest.raises(PaxmlError, match="DOCTYPE"):
        employee_rows(document)


def test_a_person_without_anstid_is_an_unreadable_row_with_its_reason_and_the_rest_is_read():
    document = _document('<person anstid="1"><fornamn>Ann</fornamn></person>\n'
                         "<person><fornamn>Bo</fornamn><epostarb>bo@nordljus.se</epostarb></person>")
    rows, unreadable = employee_rows(document)
    assert [r[KEY_FIELD] for r in rows] == ["1"]
    (row,) = unreadable
    assert row[KEY_FIELD] is None and row[EMAIL_COLUMN] == "bo@nordljus.se" and row[GIVEN_COLUMN] is None
    assert row[UNREADABLE_COLUMN] == "unreadable in Crona: PAXml export line 6: a <person> without anstid " \
                                     "(the employment number)"
    assert set(row) == {*CRONA_COLUMNS, UNREADABLE_COLUMN}


def test_a_duplicate_anstid_keeps_both_rows_and_validation_makes_both_unsyncable():
    document = _document('<person anstid="3"><epostarb>a@nordljus.se</epostarb></person>\n'
                         '<person anstid="3"><epostarb>b@nordljus.se</epostarb></person>')
    rows = _read_back(document)
    assert [(r[KEY_FIELD], r[EMAIL_COLUMN]) for r in rows] == [("3", "a@nordljus.se"), ("3", "b@nordljus.se")]
    table = build_table(pd.DataFrame(rows, columns=list(CRONA_COLUMNS)), CRONA)
    quarantine = table.quarantine
    blocked = quarantine[(quarantine["effect"] == NOT_SYNCABLE) & quarantine["reason"].str.contains("more than once")]
    assert sorted(blocked["work_email"]) == ["a@nordljus.se", "b@nordljus.se"]


# --- the shipped schema ---------------------------------------------------------------------------------


def test_the_shipped_schema_is_the_published_paxml_2_schema_byte_for_byte():
    assert SCHEMA_FILE.read_bytes() == reference_file("paxml-2.0.xsd").read_bytes()
