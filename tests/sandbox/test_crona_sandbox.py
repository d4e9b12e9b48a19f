"""The Crona Lön sandbox over real HTTP: the contract in crona-api.md, as a client sees it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from humacrona_sandbox.crona_app import (
    CRONA_EMPLOYEE_FIELDS,
    DEFAULT_CRONA_ACTIVATION_CODE,
    CronaSandbox,
    CronaSandboxSettings,
)
from humacrona_sandbox.faults import FaultConfig
from humacrona_sandbox.server import BackgroundServer
from humacrona_sandbox.store import Store

EMPLOYEES = "/api/v1/anstallda"


def employee(anstnr: str, **fields) -> dict:
    base = {
        "AnstNr": anstnr,
        "FoNamn": "Astrid",
        "EfNamn": f"Lindqvist{anstnr}",
        "EpostArb": f"astrid.{anstnr}@nordljus.se",
        "AnstDatum": "2021-03-01",
    }
    return {**base, **fields}


SEED = [
    employee("1001", Land="Sverige", Mobil="070-123 45 67", Adress1="Storgatan 1", PostNr="111 22", Ort="Stockholm"),
    employee("1002", Land="SE", Mobil="070-123 45 67", UtbetClearNr="6789", UtbetKontoNr="123456789"),
    employee("1003", FoNamn="Erik", AvgDatum="2024-06-30"),
]


def assert_crona_error(response: httpx.Response, status: int, kod: str | None = None) -> dict:
    """Every error, whatever its origin, has Crona's shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"fel"}
    fel = body["fel"]
    assert set(fel) == {"kod", "meddelande", "falt"}
    assert isinstance(fel["kod"], str) and fel["kod"]
    assert isinstance(fel["meddelande"], str) and fel["meddelande"]
    assert isinstance(fel["falt"], list) and all(isinstance(f, str) for f in fel["falt"])
    if kod is not None:
        assert fel["kod"] == kod, fel
    return fel


def login(http: httpx.Client, code: str = DEFAULT_CRONA_ACTIVATION_CODE) -> dict:
    response = http.post("/api/v1/auth/token", json={"aktiveringskod": code})
    assert response.status_code == 200, response.text
    tokens = response.json()
    http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    return tokens


@pytest.fixture
def sandbox() -> CronaSandbox:
    box = CronaSandbox(Store())
    box.load_seed([dict(e) for e in SEED])
    return box


@pytest.fixture
def http(sandbox):
    with BackgroundServer(sandbox.app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def authed(http) -> httpx.Client:
    login(http)
    return http


# --- authentication ---------------------------------------------------------------------------------


def test_token_answer_names_the_company(http):
    tokens = login(http)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["foretag"]["namn"] == "Nordljus Tech AB"
    assert tokens["foretag"]["orgnr"] == "556677-8899"
    assert tokens["foretag"]["id"]
    assert http.get(EMPLOYEES).status_code == 200


def test_unknown_activation_code_is_refused(http):
    response = http.post("/api/v1/auth/token", json={"aktiveringskod": "CRONA-WRONG"})
    assert_crona_error(response, 401)
    assert_crona_error(http.post("/api/v1/auth/token", json={}), 400, "ogiltig_parameter")


def test_calls_without_a_valid_token_are_refused(http):
    assert_crona_error(http.get(EMPLOYEES), 401, "ogiltig_token")
    assert_crona_error(http.get("/api/v1/anstallda/1001", headers={"Authorization": "Bearer nope"}), 401,
                       "ogiltig_token")
    assert_crona_error(http.post(EMPLOYEES, json=employee("2001")), 401)
    assert_crona_error(http.patch("/api/v1/anstallda/1001", json={"Ort": "Lund"}), 401)


def test_refresh_token_rotates(http):
    first = login(http)
    response = http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["foretag"] == first["foretag"]
    assert http.get(EMPLOYEES, headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 200
    reused = http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_crona_error(reused, 401)
    assert http.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 200


def test_expired_access_token_gives_token_expired_and_refresh_recovers(http):
    tokens = login(http)
    assert http.post("/_sandbox/expire-tokens").status_code == 200
    assert_crona_error(http.get(EMPLOYEES), 401, "token_expired")
    refreshed = http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    http.headers["Authorization"] = f"Bearer {refreshed.json()['access_token']}"
    assert http.get(EMPLOYEES).status_code == 200


def test_short_token_lifetime_expires_and_refresh_token_expires_too():
    box = CronaSandbox(Store(), CronaSandboxSettings(token_lifetime_s=0.2, refresh_lifetime_s=0.2))
    box.load_seed([dict(e) for e in SEED])
    with BackgroundServer(box.app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        tokens = login(http)
        assert http.get(EMPLOYEES).status_code == 200
        time.sleep(0.3)
        assert_crona_error(http.get(EMPLOYEES), 401, "token_expired")
        refused = http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert_crona_error(refused, 401)
        login(http)  # the activation code still works
        assert http.get(EMPLOYEES).status_code == 200


# --- reading ----------------------------------------------------------------------------------------


def test_paging_returns_every_employee_exactly_once():
    box = CronaSandbox(Store())
    box.load_seed([employee(str(5000 + i)) for i in range(450)])
    with BackgroundServer(box.app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        login(http)
        seen = []
        page = 1
        while True:
            body = http.get(EMPLOYEES, params={"sida": page, "antal": 200}).json()
            assert body["totalt"] == 450 and body["sida"] == page and body["antal"] == 200
            if not body["anstallda"]:
                break
            seen += [e["AnstNr"] for e in body["anstallda"]]
            page += 1
        assert page == 4
        assert seen == [str(5000 + i) for i in range(450)]
        default = http.get(EMPLOYEES).json()
        assert (default["sida"], default["antal"], len(default["anstallda"])) == (1, 50, 50)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"antal": 201}, "antal"), ({"antal": 0}, "antal"), ({"sida": 0}, "sida"), ({"sida": "två"}, "sida"),
     ({"antal": "1.5"}, "antal"), ({"andradEfter": "igår"}, "andradEfter")],
)
def test_bad_list_parameters_are_refused(authed, params, field):
    fel = assert_crona_error(authed.get(EMPLOYEES, params=params), 400, "ogiltig_parameter")
    assert fel["falt"] == [field]


def test_misspelt_query_parameter_is_refused_not_ignored(authed):
    fel = assert_crona_error(authed.get(EMPLOYEES, params={"andradefter": "2024-01-01T00:00:00Z"}), 400)
    assert fel["falt"] == ["andradefter"]


def test_employees_have_every_field_and_seeded_data_is_readable(authed):
    body = authed.get("/api/v1/anstallda/1001").json()
    assert tuple(body) == CRONA_EMPLOYEE_FIELDS
    assert body["Land"] == "Sverige"  # old data, never accepted on write, still readable
    assert body["Mobil"] == "070-123 45 67"
    assert body["UtbetClearNr"] is None
    assert body["Andrad"].endswith("Z") and len(body["Andrad"]) == len("2025-01-01T00:00:00.000Z")
    assert_crona_error(authed.get("/api/v1/anstallda/9999"), 404)


def test_andrad_efter_returns_only_later_changes(authed):
    listed = authed.get(EMPLOYEES).json()["anstallda"]
    watermark = max(e["Andrad"] for e in listed)
    assert authed.get(EMPLOYEES, params={"andradEfter": watermark}).json() == {
        "anstallda": [], "sida": 1, "antal": 50, "totalt": 0}
    patched = authed.patch("/api/v1/anstallda/1002", json={"Ort": "Malmö"}).json()
    assert patched["Andrad"] > watermark
    changed = authed.get(EMPLOYEES, params={"andradEfter": watermark}).json()
    assert [e["AnstNr"] for e in changed["anstallda"]] == ["1002"] and changed["totalt"] == 1
    # The same instant written with an offset means the same thing.
    moment = datetime.fromisoformat(watermark.replace("Z", "+00:00")).astimezone(timezone(timedelta(hours=2)))
    assert authed.get(EMPLOYEES, params={"andradEfter": moment.isoformat()}).json()["totalt"] == 1
    assert authed.get(EMPLOYEES, params={"andradEfter": "2000-01-01T00:00:00Z"}).json()["totalt"] == 3


def test_seeded_andrad_is_kept_so_seeds_can_look_old():
    box = CronaSandbox(Store())
    box.load_seed([employee("1", Andrad="2019-05-04T10:00:00Z"), employee("2")])
    with BackgroundServer(box.app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        login(http)
        assert http.get("/api/v1/anstallda/1").json()["Andrad"] == "2019-05-04T10:00:00.000Z"
        after = http.get(EMPLOYEES, params={"andradEfter": "2020-01-01T00:00:00Z"}).json()
        assert [e["AnstNr"] for e in after["anstallda"]] == ["2"]


# --- writing ----------------------------------------------------------------------------------------


def test_create_then_read_back(authed):
    new = employee("2001", Land="NO", EpostPriv="astrid@example.org", Befattning="Utvecklare")
    response = authed.post(EMPLOYEES, json=new)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {k: created[k] for k in new} == new
    assert created["Andrad"]
    assert authed.get("/api/v1/anstallda/2001").json() == created
    assert authed.get(EMPLOYEES).json()["totalt"] == 4


def test_create_existing_anstnr_is_a_conflict(authed):
    fel = assert_crona_error(authed.post(EMPLOYEES, json=employee("1001")), 409)
    assert fel["falt"] == ["AnstNr"]
    assert authed.get("/api/v1/anstallda/1001").json()["EfNamn"] == "Lindqvist1001"


def test_create_reports_every_broken_field_at_once(authed):
    body = {"AnstNr": "2002", "FoNamn": "", "EpostArb": "inte-en-adress", "Land": "Sverige",
            "AnstDatum": "2023-02-30", "Lon": "45000", "Mobil": 46701234567}
    fel = assert_crona_error(authed.post(EMPLOYEES, json=body), 422, "valideringsfel")
    assert set(fel["falt"]) == {"FoNamn", "EfNamn", "EpostArb", "Land", "AnstDatum", "Lon", "Mobil"}
    assert "Sverige" in fel["meddelande"]
    assert_crona_error(authed.get("/api/v1/anstallda/2002"), 404)
    fel = assert_crona_error(authed.post(EMPLOYEES, json={k: v for k, v in employee("").items()}), 422)
    assert fel["falt"] == ["AnstNr"]


def test_patch_changes_only_the_given_fields(authed):
    before = authed.get("/api/v1/anstallda/1001").json()
    response = authed.patch("/api/v1/anstallda/1001", json={"Ort": "Göteborg", "Adress2": None})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["Ort"] == "Göteborg"
    assert after["Land"] == "Sverige"  # untouched, so the stored free text is not re-validated
    assert {k: v for k, v in after.items() if k not in ("Ort", "Andrad")} == \
        {k: v for k, v in before.items() if k not in ("Ort", "Andrad")}
    assert after["Andrad"] > before["Andrad"]
    assert authed.get("/api/v1/anstallda/1001").json() == after


def test_patch_that_changes_nothing_leaves_andrad(authed):
    before = authed.get("/api/v1/anstallda/1002").json()
    same = authed.patch("/api/v1/anstallda/1002", json={"AnstNr": "1002", "Ort": before["Ort"],
                                                         "Andrad": "2030-01-01T00:00:00.000Z"})
    assert same.status_code == 200
    assert same.json() == before


def test_patch_cannot_change_anstnr(authed):
    fel = assert_crona_error(authed.patch("/api/v1/anstallda/1001", json={"AnstNr": "1999"}), 422, "anstnr_immutable")
    assert fel["falt"] == ["AnstNr"]
    assert_crona_error(authed.get("/api/v1/anstallda/1999"), 404)
    assert_crona_error(authed.patch("/api/v1/anstallda/9999", json={"Ort": "Lund"}), 404)


def test_patch_cannot_empty_required_fields(authed):
    fel = assert_crona_error(authed.patch("/api/v1/anstallda/1001", json={"FoNamn": None, "EpostArb": " "}), 422)
    assert set(fel["falt"]) == {"FoNamn", "EpostArb"}
    assert authed.get("/api/v1/anstallda/1001").json()["FoNamn"] == "Astrid"


def test_land_must_be_alpha2_on_write(authed):
    fel = assert_crona_error(authed.patch("/api/v1/anstallda/1002", json={"Land": "Sverige"}), 422)
    assert fel["falt"] == ["Land"]
    assert_crona_error(authed.patch("/api/v1/anstallda/1002", json={"Land": "se"}), 422)
    assert authed.patch("/api/v1/anstallda/1001", json={"Land": "SE"}).json()["Land"] == "SE"


def test_end_date_before_start_date_is_refused(authed):
    fel = assert_crona_error(authed.patch("/api/v1/anstallda/1001", json={"AvgDatum": "2020-12-31"}), 422)
    assert fel["falt"] == ["AvgDatum"]
    # Checked on the merged record: moving the start past the stored end date is refused too.
    fel = assert_crona_error(authed.patch("/api/v1/anstallda/1003", json={"AnstDatum": "2024-07-01"}), 422)
    assert fel["falt"] == ["AvgDatum"]
    assert authed.patch("/api/v1/anstallda/1001", json={"AvgDatum": "2021-03-01"}).status_code == 200


def test_invalid_bank_account_is_refused_with_the_reason(authed):
    response = authed.patch("/api/v1/anstallda/1001", json={"UtbetClearNr": "6789", "UtbetKontoNr": "123456788"})
    fel = assert_crona_error(response, 422)
    assert set(fel["falt"]) == {"UtbetClearNr", "UtbetKontoNr"}
    assert "UtbetKontoNr:" in fel["meddelande"] and len(fel["meddelande"]) > len("UtbetKontoNr: ")
    assert authed.get("/api/v1/anstallda/1001").json()["UtbetKontoNr"] is None


def test_valid_bank_account_is_accepted_as_given(authed):
    response = authed.patch("/api/v1/anstallda/1001", json={"UtbetClearNr": "6789", "UtbetKontoNr": "123456789"})
    assert response.status_code == 200, response.text
    assert (response.json()["UtbetClearNr"], response.json()["UtbetKontoNr"]) == ("6789", "123456789")
    # Changing one half is checked against the stored other half.
    fel = assert_crona_error(authed.patch("/api/v1/anstallda/1002", json={"UtbetKontoNr": "123456788"}), 422)
    assert "UtbetKontoNr" in fel["falt"]


def test_half_a_bank_account_is_refused_and_none_is_allowed(authed):
    fel = assert_crona_error(authed.patch("/api/v1/anstallda/1001", json={"UtbetClearNr": "6789"}), 422)
    assert fel["falt"] == ["UtbetKontoNr"]
    fel = assert_crona_error(authed.patch("/api/v1/anstallda/1002", json={"UtbetClearNr": None}), 422)
    assert fel["falt"] == ["UtbetClearNr"]
    cleared = authed.patch("/api/v1/anstallda/1002", json={"UtbetClearNr": None, "UtbetKontoNr": None})
    assert cleared.status_code == 200 and cleared.json()["UtbetKontoNr"] is None


# --- errors, faults, admin, persistence -------------------------------------------------------------


def test_every_error_has_crona_shape(authed):
    assert_crona_error(authed.get("/api/v2/nothing"), 404)
    assert_crona_error(authed.get("/api/v1/anstallda/"), 404)
    assert_crona_error(authed.delete("/api/v1/anstallda/1001"), 405)
    assert_crona_error(authed.post(EMPLOYEES, content=b"{not json", headers={"Content-Type": "application/json"}),
                       400, "ogiltig_json")
    assert_crona_error(authed.post(EMPLOYEES, json=[employee("2003")]), 400, "ogiltig_json")
    assert_crona_error(authed.post("/api/v1/auth/token", content=b"kod=1"), 400)


def test_injected_faults_answer_in_crona_shape():
    faults = FaultConfig(rate=1.0, kinds=("500", "503", "429"), seed=7)
    box = CronaSandbox(Store(), faults=faults)
    box.load_seed([dict(e) for e in SEED])
    with BackgroundServer(box.app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        statuses, sent = set(), 0
        while statuses != {500, 503, 429} and sent < 100:
            sent += 1
            response = http.post("/api/v1/auth/token", json={"aktiveringskod": DEFAULT_CRONA_ACTIVATION_CODE})
            assert_crona_error(response, response.status_code)
            if response.status_code in (429, 503):
                assert int(response.headers["Retry-After"]) >= 1
            statuses.add(response.status_code)
            assert response.status_code in (500, 503, 429)
        assert statuses == {500, 503, 429}
        stats = http.get("/_sandbox/stats").json()  # admin is never faulted
        assert sum(stats["faults"].values()) == sent
        assert not any(key.startswith("POST /api/v1/auth/token") for key in stats["requests"])
        assert stats["employees"] == 3


def test_stats_count_requests_by_route(authed):
    authed.get("/api/v1/anstallda/1001")
    authed.get("/api/v1/anstallda/1002")
    authed.get(EMPLOYEES)
    requests = authed.get("/_sandbox/stats").json()["requests"]
    assert requests["GET /api/v1/anstallda/{anstnr:str}"] == 2
    assert requests["GET /api/v1/anstallda"] == 1
    assert requests["POST /api/v1/auth/token"] == 1


def test_employees_survive_a_restart(tmp_path):
    db = tmp_path / "crona.sqlite"
    store = Store(db)
    box = CronaSandbox(store)
    box.load_seed([dict(e) for e in SEED])
    with BackgroundServer(box.app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        login(http)
        assert http.post(EMPLOYEES, json=employee("2001")).status_code == 201
        patched = http.patch("/api/v1/anstallda/1001", json={"Ort": "Umeå"}).json()
        order = [e["AnstNr"] for e in http.get(EMPLOYEES).json()["anstallda"]]
    store.close()

    again = CronaSandbox(Store(db))
    with BackgroundServer(again.app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        login(http)
        listed = [e["AnstNr"] for e in http.get(EMPLOYEES).json()["anstallda"]]
        assert listed == order == ["1001", "1002", "1003", "2001"]
        assert http.get("/api/v1/anstallda/1001").json() == patched
        assert_crona_error(http.post(EMPLOYEES, json=employee("2001")), 409)
        later = http.patch("/api/v1/anstallda/1002", json={"Ort": "Kiruna"}).json()
        assert later["Andrad"] > patched["Andrad"]


def test_seed_refuses_what_real_crona_never_holds(sandbox):
    with pytest.raises(ValueError, match="duplicate AnstNr"):
        sandbox.load_seed([employee("1001")])
    with pytest.raises(ValueError, match="duplicate AnstNr"):
        sandbox.load_seed([employee("3001"), employee("3001")])
    with pytest.raises(ValueError, match="AnstNr"):
        sandbox.load_seed([{k: v for k, v in employee("x").items() if k != "AnstNr"}])
    with pytest.raises(ValueError, match="EpostArb"):
        sandbox.load_seed([employee("3002", EpostArb=None)])
    assert sandbox.store.count("employees") == 3  # a refused seed loads nothing


def test_dropped_create_is_applied_so_a_retry_must_check_first():
    faults = FaultConfig(rate=1.0, kinds=("drop",), seed=1)
    box = CronaSandbox(Store(), faults=faults)
    box.load_seed([dict(e) for e in SEED])
    auth = {"Authorization": f"Bearer {box.tokens.issue()}"}
    with BackgroundServer(box.app) as server, httpx.Client(base_url=server.url, timeout=10, headers=auth) as http:
        with pytest.raises(httpx.TransportError):
            http.post(EMPLOYEES, json=employee("2001"))
        faults.rate = 0.0
        assert http.get("/api/v1/anstallda/2001").json()["AnstNr"] == "2001"
        assert_crona_error(http.post(EMPLOYEES, json=employee("2001")), 409)
