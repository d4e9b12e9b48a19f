"""The Crona sandbox's PAXml file channel: export every employee, import a file under the API's rules."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from humacrona_sandbox import crona_paxml
from humacrona_sandbox.crona_app import CronaSandbox
from humacrona_sandbox.server import BackgroundServer
from humacrona_sandbox.store import Store
from tests.reference_files import reference_file
from tests.sandbox.test_crona_sandbox import EMPLOYEES, SEED, login

EXPORT = "/_sandbox/paxml/export"
IMPORT = "/_sandbox/paxml/import"


@pytest.fixture
def http():
    box = CronaSandbox(Store())
    box.load_seed([dict(e) for e in SEED])
    with BackgroundServer(box.app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        login(client)
        yield client


def paxml(persons: str) -> bytes:
    return ("<?xml version='1.0' encoding='ISO-8859-1'?>\n<paxml><header><version>2.0</version></header>"
            f"<personal>{persons}</personal></paxml>").encode("iso-8859-1")


def employees(http: httpx.Client) -> dict[str, dict]:
    return {e["AnstNr"]: e for e in http.get(EMPLOYEES).json()["anstallda"]}


def imported(http: httpx.Client, document: bytes) -> dict:
    response = http.post(IMPORT, content=document, headers={"Content-Type": "application/xml"})
    assert response.status_code == 200, response.text
    return response.json()


def by_anstid(answer: dict) -> dict[str, dict]:
    return {p["anstid"]: p for p in answer["personer"]}


def test_shipped_schema_is_the_reference_byte_for_byte():
    assert crona_paxml.SCHEMA_PATH.read_bytes() == reference_file("paxml-2.0.xsd").read_bytes()


def test_export_is_valid_paxml_with_every_employee(http):
    response = http.get(EXPORT)
    assert response.status_code == 200
    assert response.content.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    schema = etree.XMLSchema(etree.parse(str(reference_file("paxml-2.0.xsd"))))
    document = etree.ElementTree(etree.fromstring(response.content))
    assert schema.validate(document), schema.error_log
    persons = {p.get("anstid"): p for p in document.getroot().iterfind("personal/person")}
    assert set(persons) == {e["AnstNr"] for e in SEED}
    assert persons["1001"].findtext("postadress") == "Storgatan 1"
    assert persons["1002"].findtext("bankkonto") == "123456789"
    assert persons["1003"].findtext("avgdatum") == "2024-06-30"
    assert persons["1003"].find("bankkonto") is None  # null is left out, not written empty


def test_importing_the_export_changes_nothing(http):
    before = employees(http)
    answer = imported(http, http.get(EXPORT).content)
    assert answer["counts"] == {"applied": 3, "refused": 0, "created": 0, "updated": 0, "unchanged": 3}
    assert employees(http) == before  # Andrad too: nothing was written


def test_import_applies_a_family_name_and_an_address(http):
    answer = imported(http, paxml('<person anstid="1002"><efternamn>Ågren</efternamn>'
                                  "<postadress>Kungsgatan 5</postadress><postnr>411 19</postnr>"
                                  "<ort>Göteborg</ort><land>SE</land></person>"))
    assert by_anstid(answer)["1002"] == {"anstid": "1002", "line": 2, "result": "applied", "action": "updated"}
    after = employees(http)["1002"]
    assert (after["EfNamn"], after["Adress1"], after["PostNr"], after["Ort"]) == \
        ("Ågren", "Kungsgatan 5", "411 19", "Göteborg")
    assert after["FoNamn"] == "Astrid"  # an element left out is unchanged


def test_bad_account_and_non_iso_land_are_refused_while_the_rest_applies(http):
    before = employees(http)
    answer = imported(http, paxml('<person anstid="1001"><bankclearing>6789</bankclearing>'
                                  "<bankkonto>12</bankkonto></person>"
                                  '<person anstid="1002"><land>Sverige</land></person>'
                                  '<person anstid="1003"><befattning>Lönespecialist</befattning></person>'))
    results = by_anstid(answer)
    assert results["1001"]["result"] == "refused"
    assert set(results["1001"]["falt"]) == {"UtbetClearNr", "UtbetKontoNr"}
    assert results["1002"]["result"] == "refused" and results["1002"]["falt"] == ["Land"]
    assert "ISO 3166-1" in results["1002"]["reasons"][0]
    assert results["1003"] == {"anstid": "1003", "line": 2, "result": "applied", "action": "updated"}
    assert answer["counts"]["applied"] == 1 and answer["counts"]["refused"] == 2
    after = employees(http)
    assert after["1001"] == before["1001"] and after["1002"] == before["1002"]
    assert after["1003"]["Befattning"] == "Lönespecialist"


def test_a_file_that_is_not_paxml_is_refused_whole_with_its_line(http):
    before = employees(http)
    bad = paxml('<person anstid="1003"><befattning>Chef</befattning></person>\n<person anstid="1002"><skonummer>42'
                "</skonummer></person>")
    response = http.post(IMPORT, content=bad)
    assert response.status_code == 400
    fel = response.json()["fel"]
    assert fel["kod"] == "ogiltig_paxml"
    assert "line 3" in fel["meddelande"] and "skonummer" in fel["meddelande"]
    not_xml = http.post(IMPORT, content=b"<paxml><header>\n<version>2.0</header>")
    assert not_xml.status_code == 400 and "line 2" in not_xml.json()["fel"]["meddelande"]
    assert employees(http) == before


def test_delete_attribute_is_refused_per_person(http):
    answer = imported(http, paxml('<person anstid="1001" delete="true"/>'
                                  '<person anstid="1002"><mobiltelefon>+46701234567</mobiltelefon></person>'))
    results = by_anstid(answer)
    assert results["1001"]["result"] == "refused" and "never deletes" in results["1001"]["reasons"][0]
    assert results["1002"]["result"] == "applied"
    assert "1001" in employees(http)


def test_new_anstid_is_created_only_with_the_required_fields(http):
    answer = imported(http, paxml('<person anstid="2001"><fornamn>Nils</fornamn><efternamn>Berg</efternamn>'
                                  "<epostarb>nils.berg@nordljus.se</epostarb><anstdatum>2025-01-01</anstdatum></person>"
                                  '<person anstid="2002"><fornamn>Saga</fornamn></person>'))
    results = by_anstid(answer)
    assert results["2001"]["action"] == "created"
    assert results["2002"]["result"] == "refused" and set(results["2002"]["falt"]) == {"EfNamn", "EpostArb"}
    created = http.get(f"{EMPLOYEES}/2001").json()
    assert (created["FoNamn"], created["EfNamn"], created["AnstDatum"]) == ("Nils", "Berg", "2025-01-01")
    assert http.get(f"{EMPLOYEES}/2002").status_code == 404


def test_a_name_outside_latin1_survives_the_iso_8859_1_export(http):
    utf8 = ('<?xml version="1.0" encoding="UTF-8"?><paxml><header><version>2.0</version></header><personal>'
            '<person anstid="1003"><efternamn>Łukasiewicz</efternamn></person></personal></paxml>').encode()
    assert by_anstid(imported(http, utf8))["1003"]["action"] == "updated"
    export = http.get(EXPORT).content
    assert b"&#321;ukasiewicz" in export  # a character reference: the file stays ISO-8859-1
    assert imported(http, export)["counts"]["unchanged"] == 3
    assert employees(http)["1003"]["EfNamn"] == "Łukasiewicz"


def new_person(anstid: str, email: str, persnr: str | None = None) -> str:
    attributes = f' anstid="{anstid}"' + (f' persnr="{persnr}"' if persnr else "")
    return (f"<person{attributes}><fornamn>Astrid</fornamn><efternamn>Lindqvist</efternamn>"
            f"<epostarb>{email}</epostarb></person>")


def test_an_existing_work_email_under_a_new_anstid_is_refused_as_a_changed_anstnr(http):
    before = employees(http)
    answer = imported(http, paxml(new_person("9001", "Astrid.1001@Nordljus.se")
                                  + '<person anstid="1003"><befattning>Chef</befattning></person>'
                                  + new_person("9002", "nils.berg@nordljus.se")
                                  + new_person("9003", "NILS.BERG@nordljus.se")))
    results = by_anstid(answer)
    assert results["9001"]["result"] == "refused" and results["9001"]["falt"] == ["AnstNr"]
    assert results["9001"]["reasons"] == ["AnstNr cannot change: Astrid.1001@Nordljus.se is employee 1001"]
    assert results["1003"]["action"] == "updated"  # the rest of the file still applies
    assert results["9002"]["action"] == "created"
    # a person created earlier in the same file owns its email too
    assert results["9003"]["reasons"] == ["AnstNr cannot change: NILS.BERG@nordljus.se is employee 9002"]
    assert answer["counts"] == {"applied": 2, "refused": 2, "created": 1, "updated": 1, "unchanged": 0}
    after = employees(http)
    assert set(after) == set(before) | {"9002"}
    assert after["1001"] == before["1001"]


def test_a_changed_email_frees_the_old_one_within_the_same_file(http):
    answer = imported(http, paxml('<person anstid="1002"><epostarb>astrid.lind@nordljus.se</epostarb></person>'
                                  + new_person("9001", "astrid.1002@nordljus.se")))
    assert [p["action"] for p in answer["personer"]] == ["updated", "created"]


def test_a_known_persnr_under_a_new_anstid_is_refused_and_the_persnr_is_kept(tmp_path):
    path = tmp_path / "crona.sqlite"
    box = CronaSandbox(Store(path))
    box.load_seed([dict(e) for e in SEED])
    first = box.import_paxml(paxml('<person anstid="1001" persnr="198507129876"/>'))
    assert first["counts"]["unchanged"] == 1
    box.store.close()

    restarted = CronaSandbox(Store(path))  # the persnr survives a restart, as the employees do
    export = etree.fromstring(restarted.export_paxml())
    assert export.find("personal/person[@anstid='1001']").get("persnr") == "198507129876"
    assert export.find("personal/person[@anstid='1002']").get("persnr") is None
    answer = restarted.import_paxml(paxml(new_person("9001", "someone.else@nordljus.se", "198507129876")
                                          + '<person anstid="1002" persnr="198507129876"/>'
                                          + new_person("9002", "nils.berg@nordljus.se", "199001011234")))
    results = by_anstid(answer)
    assert results["9001"]["reasons"] == ["AnstNr cannot change: the persnr given is employee 1001"]
    assert results["1002"]["falt"] == ["persnr"] and "employee 1001" in results["1002"]["reasons"][0]
    assert results["9001"]["falt"] == ["AnstNr"]
    assert results["9002"]["action"] == "created"
    assert "198507129876" not in str(answer)  # the reasons never echo a personnummer
    assert restarted.store.get("employees", "9001") is None
    restarted.store.close()
