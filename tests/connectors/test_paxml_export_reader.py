"""Issue 13 §1, Crona Lön read from its PAXml export (`connectors.paxml.export_reader.PaxmlExport`): the same rows
the API gives for the same employees (so everything after the read is the same on both channels), a file that
is not PAXml 2.0 refused with the schema's line, the company and the export's time from its header (the file's
modification time when the header has no `datum`)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from humacrona_pipeline.connectors.crona import CronaClient
from humacrona_pipeline.connectors.crona_wire import CRONA_COLUMNS
from humacrona_pipeline.connectors.http import NotFoundError
from humacrona_pipeline.connectors.paxml import PaxmlError
from humacrona_pipeline.connectors.paxml.export_reader import PaxmlExport
from humacrona_pipeline.connectors.paxml.wire import ELEMENT_BY_COLUMN
from humacrona_pipeline.core.canonical import NOT_SYNCABLE, build_table
from humacrona_pipeline.core.unreadable import UNREADABLE_COLUMN
from humacrona_sandbox.seed import generate
from tests.connectors.connector_testkit import CRONA_CODE, FAST_RETRY, serve_crona

# What only the API carries: Crona's change time and the c/o line (neither is in a PAXml <person>, neither synced).
API_ONLY = ("Andrad", "Adress2")


def export_document(persons: str, header: str = "<datum>2026-12-01T08:30:00+01:00</datum>"
                    "<foretagorgnr>556677-8899</foretagorgnr><foretagnamn>Nordljus Tech AB</foretagnamn>") -> bytes:
    """A Crona export as Crona Lön writes one: ISO-8859-1, a header, `<personal>` with ``persons``."""
    return ("<?xml version='1.0' encoding='ISO-8859-1'?>\n<paxml>\n<header><format>PERSONAL</format>"
            f"<version>2.0</version>{header}<programnamn>Crona Lön</programnamn></header>\n"
            f"<personal>\n{persons}\n</personal>\n</paxml>\n").encode("iso-8859-1")


def person(anstid: str, **elements: str) -> str:
    inner = "".join(f"<{tag}>{text}</{tag}>" for tag, text in elements.items())
    return f'<person anstid="{anstid}">{inner}</person>' if anstid else f"<person>{inner}</person>"


def write_export(path: Path, data: bytes, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def opened(path: Path) -> tuple[PaxmlExport, list[dict], list[dict]]:
    async def read():
        async with PaxmlExport(path) as export:
            rows, unreadable = await export.employee_table()
            return export, rows, unreadable

    return asyncio.run(read())


def test_the_export_gives_the_rows_the_api_gives_for_the_same_employees(tmp_path):
    workforce = generate(60, seed=11)
    with serve_crona(workforce.crona_employees) as served:
        path = write_export(tmp_path / "export.xml", served.sandbox.export_paxml())

        async def api():
            async with CronaClient(served.url, CRONA_CODE, retry=FAST_RETRY) as client:
                return await client.employee_table()

        api_rows, api_unreadable = asyncio.run(api())
    export, rows, unreadable = opened(path)
    assert len(rows) == len(api_rows) > 40 and unreadable == api_unreadable == []
    assert all(list(row) == list(CRONA_COLUMNS) for row in rows)
    strip = [{k: v for k, v in row.items() if k not in API_ONLY} for row in api_rows]
    assert [{k: v for k, v in row.items() if k not in API_ONLY} for row in rows] == strip
    assert all(row[c] is None for row in rows for c in API_ONLY)
    # so the canonical tables (what reconciliation sees) are the same on both channels
    paxml_table = build_table(pd.DataFrame(rows), "crona")
    api_table = build_table(pd.DataFrame(api_rows), "crona")
    assert len(paxml_table.frame) == len(rows)
    pd.testing.assert_frame_equal(paxml_table.frame, api_table.frame)
    pd.testing.assert_frame_equal(paxml_table.quarantine, api_table.quarantine)
    assert paxml_table.schema_errors == api_table.schema_errors == []


def test_the_export_answers_the_look_ups_the_api_client_answers(tmp_path):
    path = write_export(tmp_path / "e.xml", export_document(
        person("1001", fornamn="Åsa", efternamn="Öberg", epostarb="asa.oberg@nordljus.se", bankclearing="8327-9",
               bankkonto="1234567897", manlon="42000")
        + person("1002", fornamn="Bo", efternamn="Ek", epostarb="bo.ek@nordljus.se")))

    async def look_ups():
        async with PaxmlExport(path) as export:
            listed = await export.list_employees()
            found = await export.find_employee("1001")
            missing = await export.find_employee("9999")
            got = await export.get_employee("1002")
            with pytest.raises(NotFoundError) as raised:
                await export.get_employee("9999")
            return listed, found, missing, got, raised.value

    listed, found, missing, got, error = asyncio.run(look_ups())
    assert [r["AnstNr"] for r in listed] == ["1001", "1002"]
    assert found["FoNamn"] == "Åsa" and found["EfNamn"] == "Öberg"
    assert found["UtbetKontoNr"] == "1234567897" and found["UtbetClearNr"] == "8327-9"
    assert set(found) == set(CRONA_COLUMNS)  # payroll elements (manlon) are not read
    assert missing is None and got["EpostArb"] == "bo.ek@nordljus.se"
    assert "9999" in str(error)


def test_a_person_without_anstid_is_an_unreadable_row_with_its_line(tmp_path):
    path = write_export(tmp_path / "e.xml", export_document(
        person("1001", fornamn="Ada", epostarb="ada@nordljus.se") + "\n"
        + person("", fornamn="Ny", epostarb="ny@nordljus.se")))
    _, rows, unreadable = opened(path)
    assert [r["AnstNr"] for r in rows] == ["1001"]
    assert len(unreadable) == 1 and unreadable[0]["EpostArb"] == "ny@nordljus.se"
    assert "line " in unreadable[0][UNREADABLE_COLUMN] and "anstid" in unreadable[0][UNREADABLE_COLUMN]


@pytest.mark.parametrize(("data", "said"), [
    (export_document(person("1001", fornamn="Ada", lonesumma="42000")), "lonesumma"),
    (export_document(person("1001", anstdatum="2026-02-30")), "anstdatum"),
    (export_document(person("1001", fornamn="Ada")).replace(b"<version>2.0</version>", b"<version>1.0</version>"),
     "version"),
    (b"<?xml version='1.0'?>\n<paxml><header><version>2.0</version></header><personal><person anstid='1'>",
     "not an XML document"),
    (b"", "not an XML document"),
])
def test_a_file_that_is_not_paxml_2_is_refused_with_one_line_naming_where(tmp_path, data, said):
    path = write_export(tmp_path / "bad.xml", data)
    with pytest.raises(PaxmlError) as raised:
        opened(path)
    line = str(raised.value)
    assert "\n" not in line and said in line
    assert "line " in line
    with pytest.raises(PaxmlError):
        PaxmlExport(path).load()


def test_an_unreadable_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        PaxmlExport(tmp_path / "gone.xml").load()


def test_company_and_export_time_come_from_the_header(tmp_path):
    path = write_export(tmp_path / "e.xml", export_document(person("1001", fornamn="Ada")), mtime=1_600_000_000)
    export, _, _ = opened(path)
    assert export.company == {"namn": "Nordljus Tech AB", "orgnr": "556677-8899"}
    assert export.exported_at == datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    assert export.exported_at.tzinfo is not None


def test_a_header_time_without_a_zone_is_swedish_local_time(tmp_path):
    """08:30 in a Swedish payroll file is 07:30 UTC in winter and 06:30 in summer: read as UTC, an export taken
    before an import file could look newer than it and conclude the file's writes not applied."""
    winter = write_export(tmp_path / "w.xml", export_document(
        person("1001", fornamn="Ada"), header="<datum>2026-12-01T08:30:00</datum>"), mtime=1_600_000_000)
    summer = write_export(tmp_path / "s.xml", export_document(
        person("1001", fornamn="Ada"), header="<datum>2026-07-01T08:30:00</datum>"), mtime=1_600_000_000)
    export, _, _ = opened(winter)
    assert export.exported_at == datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    assert export.company is None
    assert opened(summer)[0].exported_at == datetime(2026, 7, 1, 6, 30, tzinfo=UTC)


def test_a_file_without_datum_is_dated_by_its_modification_time(tmp_path):
    path = write_export(tmp_path / "e.xml", export_document(person("1001", fornamn="Ada"), header=""),
                        mtime=1_765_000_000.25)
    export, rows, _ = opened(path)
    assert export.exported_at == datetime.fromtimestamp(1_765_000_000.25, UTC)
    assert export.exported_at.tzinfo is not None
    assert export.company is None and [r["AnstNr"] for r in rows] == ["1001"]


def test_every_owned_element_is_read_into_its_column(tmp_path):
    values = {element: f"v-{element}" for element in ELEMENT_BY_COLUMN.values()}
    values.update(anstdatum="2020-01-01", avgdatum="2027-06-30")
    path = write_export(tmp_path / "e.xml", export_document(person("1001", **values)))
    _, rows, _ = opened(path)
    assert {c: rows[0][c] for c in ELEMENT_BY_COLUMN} == {c: values[e] for c, e in ELEMENT_BY_COLUMN.items()}


def test_utf_8_and_iso_8859_1_exports_read_the_same_as_their_declarations_say(tmp_path):
    latin = export_document(person("1001", fornamn="Åsa", efternamn="Öberg", ort="Malmö"))
    utf8 = latin.decode("iso-8859-1").replace("encoding='ISO-8859-1'", "encoding='UTF-8'").encode()
    assert latin != utf8
    _, latin_rows, _ = opened(write_export(tmp_path / "latin.xml", latin))
    _, utf8_rows, _ = opened(write_export(tmp_path / "utf8.xml", utf8))
    assert latin_rows == utf8_rows and latin_rows[0]["FoNamn"] == "Åsa" and latin_rows[0]["Ort"] == "Malmö"


def test_an_export_with_bad_values_quarantines_those_and_the_rest_syncs(tmp_path):
    good = {"fornamn": "Bo", "efternamn": "Ek", "postadress": "Storgatan 1", "postnr": "111 22", "ort": "Stockholm",
            "land": "SE", "bankclearing": "8327-9", "bankkonto": "1234567897"}
    path = write_export(tmp_path / "e.xml", export_document("\n".join([
        person("1001", epostarb="bo@nordljus.se", **good),
        person("1002", epostarb="sverige@nordljus.se", **{**good, "land": "Sverige"}),
        person("1003", epostarb="konto@nordljus.se", **{**good, "bankkonto": "1234567890"}),
        person("", epostarb="utan@nordljus.se", **good),
        person("1005", epostarb="dubbel1@nordljus.se", **good),
        person("1005", epostarb="dubbel2@nordljus.se", **good),
    ])))
    _, rows, unreadable = opened(path)
    assert [r["EpostArb"] for r in unreadable] == ["utan@nordljus.se"]
    table = build_table(pd.DataFrame(rows), "crona")
    quarantine = table.quarantine.set_index(["work_email", "field"])
    assert ("sverige@nordljus.se", "address") in quarantine.index
    assert ("konto@nordljus.se", "bank_account") in quarantine.index
    assert "1234567890" not in " ".join(map(str, table.quarantine.to_numpy().ravel()))  # masked
    doubles = table.quarantine[table.quarantine["work_email"].isin(["dubbel1@nordljus.se", "dubbel2@nordljus.se"])]
    assert set(doubles.loc[doubles["effect"] == NOT_SYNCABLE, "work_email"]) == {"dubbel1@nordljus.se",
                                                                                "dubbel2@nordljus.se"}
    assert not table.quarantine["work_email"].eq("bo@nordljus.se").any()
    assert table.frame.set_index("record_id").loc["1001", "bank_account"] == "83279 1234567897"


def test_a_refused_value_is_not_repeated_in_the_message_a_log_would_keep(tmp_path):
    """A personnummer or salary account the schema refuses must not reach the run's logs through its message."""
    path = write_export(tmp_path / "e.xml", export_document(
        '<person anstid="1001" persnr="8501011234"><fornamn>Ada</fornamn>'
        "<anstdatum>83279 1234567897</anstdatum></person>"))
    with pytest.raises(PaxmlError) as refused:
        opened(path)
    message = str(refused.value)
    assert "not valid PAXml 2.0: line" in message and "persnr" in message
    assert "8501011234" not in message and "1234567897" not in message


def test_an_import_file_humacrona_wrote_is_refused_as_an_export(tmp_path):
    """Dropped into the export folder by mistake, it would read as a Crona holding only the changed people."""
    from humacrona_pipeline.connectors.paxml.write import import_document

    path = tmp_path / "export.xml"
    path.write_bytes(import_document([{"AnstNr": "1001", "FoNamn": "Ada"}]))
    with pytest.raises(PaxmlError, match="an import file humacrona wrote"):
        opened(path)


def test_a_comment_inside_a_value_does_not_cut_the_value_off(tmp_path):
    path = write_export(tmp_path / "e.xml", export_document(
        '<person anstid="1001"><fornamn>An<!-- typed by HR -->na<?pi x?> Lisa</fornamn></person>'))
    _, rows, _ = opened(path)
    assert rows[0]["FoNamn"] == "Anna Lisa"


def test_an_import_file_has_crlf_line_ends_and_reads_back_the_same(tmp_path):
    from humacrona_pipeline.connectors.paxml.read import employee_rows
    from humacrona_pipeline.connectors.paxml.write import import_document

    document = import_document([{"AnstNr": "1001", "FoNamn": "Åsa", "Befattning": "Lönechef"}])
    assert b"\r\n" in document and b"\n" not in document.replace(b"\r\n", b"")
    (row,), _ = employee_rows(document)
    assert (row["FoNamn"], row["Befattning"]) == ("Åsa", "Lönechef")
