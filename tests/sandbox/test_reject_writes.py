"""Both sandboxes can be told to refuse one employee's writes the way the real system refuses data: over the
admin endpoint `/_sandbox/reject-writes` (no token, never faulted) and through a Python method."""

from __future__ import annotations

import httpx
import pytest

from humacrona_sandbox.crona_app import DEFAULT_CRONA_ACTIVATION_CODE, CronaSandbox
from humacrona_sandbox.faults import FaultConfig
from humacrona_sandbox.server import BackgroundServer
from humacrona_sandbox.store import Store
from tests.sandbox.huma_testkit import running_huma, seed_user, seed_users
from tests.sandbox.openapi_schemas import openapi_document, validate_response

EMPLOYEES = "/api/v1/anstallda"


def crona_employee(anstnr: str, email: str) -> dict:
    return {"AnstNr": anstnr, "FoNamn": "Astrid", "EfNamn": "Lund", "EpostArb": email, "AnstDatum": "2021-03-01"}


@pytest.fixture
def crona():
    sandbox = CronaSandbox(Store(), faults=FaultConfig(rate=1.0, kinds=("500",)))  # admin is never faulted
    sandbox.load_seed([crona_employee("1", "astrid.lund@nordljus.se"), crona_employee("2", "bo.ek@nordljus.se")])
    with BackgroundServer(sandbox.app) as server:
        yield sandbox, server.url


def crona_http(url: str) -> httpx.Client:
    token = httpx.post(f"{url}/api/v1/auth/token", json={"aktiveringskod": DEFAULT_CRONA_ACTIVATION_CODE}).json()
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)


def test_crona_refuses_the_employees_writes_in_its_own_error_shape():
    sandbox = CronaSandbox(Store())
    sandbox.load_seed([crona_employee("1", "astrid.lund@nordljus.se"), crona_employee("2", "bo.ek@nordljus.se")])
    with BackgroundServer(sandbox.app) as server, crona_http(server.url) as http:
        admin = httpx.post(f"{server.url}/_sandbox/reject-writes",
                           json={"email": "Astrid.Lund@nordljus.se", "message": "Anställd är låst", "falt": ["Mobil"]})
        assert admin.status_code == 200 and admin.json() == {"rejecting": ["astrid.lund@nordljus.se"]}
        patch = http.patch(f"{EMPLOYEES}/1", json={"Mobil": "+46701234567"})
        assert patch.status_code == 422
        assert patch.json() == {"fel": {"kod": "valideringsfel", "meddelande": "Anställd är låst", "falt": ["Mobil"]}}
        assert http.get(f"{EMPLOYEES}/1").json()["Mobil"] is None  # nothing was written; reads still work
        assert http.patch(f"{EMPLOYEES}/2", json={"Mobil": "+46701234568"}).status_code == 200  # others are fine
        # a create with that work email is refused too; a taken AnstNr still answers 409 first
        assert http.post(EMPLOYEES, json=crona_employee("3", "astrid.lund@nordljus.se")).status_code == 422
        assert http.post(EMPLOYEES, json=crona_employee("1", "astrid.lund@nordljus.se")).status_code == 409

        sandbox.reject_writes("bo.ek@nordljus.se", status=503, message="Underhåll")
        refused = http.patch(f"{EMPLOYEES}/2", json={"Mobil": None})
        assert refused.status_code == 503 and refused.json()["fel"]["kod"] == "tjansten_otillganglig"

        assert httpx.request("DELETE", f"{server.url}/_sandbox/reject-writes",
                             params={"email": "astrid.lund@nordljus.se"}).json() == {"rejecting": ["bo.ek@nordljus.se"]}
        assert http.patch(f"{EMPLOYEES}/1", json={"Mobil": "+46701234567"}).status_code == 200
        sandbox.clear_rejected_writes()
        assert http.patch(f"{EMPLOYEES}/2", json={"Mobil": None}).status_code == 200


def test_crona_admin_endpoint_is_never_faulted_and_checks_its_input(crona):
    sandbox, url = crona
    assert httpx.post(f"{url}/_sandbox/reject-writes", json={"email": "bo.ek@nordljus.se"}).status_code == 200
    assert sandbox.rejections["bo.ek@nordljus.se"]["status"] == 422
    for bad in ({"email": "nobody"}, {"email": "bo.ek@nordljus.se", "status": 404}, {"email": "x@y.se", "oops": 1}):
        response = httpx.post(f"{url}/_sandbox/reject-writes", json=bad)
        assert response.status_code == 400 and set(response.json()) == {"fel"}
    assert httpx.request("DELETE", f"{url}/_sandbox/reject-writes").json() == {"rejecting": []}


def test_huma_refuses_the_users_writes_with_its_documented_400():
    openapi_document()  # the answers are checked against Huma's document: skipped up front without it
    users = seed_users(2)
    with running_huma(users) as huma, huma.client() as http:
        email = seed_user(0)["email"]
        admin = httpx.post(f"{huma.url}/_sandbox/reject-writes", json={"email": email.upper(), "message": "Locked"})
        assert admin.status_code == 200
        user_id, position_id = seed_user(0)["id"], seed_user(0)["positions"][0]["id"]

        patch = http.patch(f"/users/{user_id}", json={"givenName": "Anna-Karin"})
        assert patch.status_code == 400
        assert patch.json() == {"errorCode": "field:invalid-value", "errorMessage": "Locked", "fields": []}
        validate_response("PATCH", "/users/{id}", 400, patch.json())
        position = http.patch(f"/users/{user_id}/positions/{position_id}", json={"note": "x"})
        assert position.status_code == 400
        validate_response("PATCH", "/users/{userId}/positions/{id}", 400, position.json())
        title_id = http.get("/job-titles").json()[0]["id"]
        created = http.post(f"/users/{user_id}/positions", json={
            "contractStartDate": "2024-01-01", "contractType": "Permanent", "titleId": title_id})
        assert created.status_code == 400
        assert http.delete(f"/users/{user_id}/positions/{position_id}").status_code == 400
        assert http.get(f"/users/{user_id}").json()["givenName"]["value"] == "Anna"  # nothing changed
        assert http.patch(f"/users/{seed_user(1)['id']}", json={"givenName": "Erika"}).status_code == 200

        group = http.get("/groups").json()["items"][0]["id"]
        huma.sandbox.reject_writes("new.person@nordljus.se", message="No new users", fields=["email"])
        new = http.post("/users", json={"givenName": "Ny", "familyName": "Person", "email": "new.person@nordljus.se",
                                        "groups": [group]})
        assert new.status_code == 400 and new.json()["fields"] == ["email"]
        validate_response("POST", "/users", 400, new.json())

        huma.sandbox.reject_writes(seed_user(1)["email"], status=500)
        server_error = http.patch(f"/users/{seed_user(1)['id']}", json={"givenName": "Erika"})
        assert server_error.status_code == 500
        validate_response("PATCH", "/users/{id}", 500, server_error.json())

        assert httpx.request("DELETE", f"{huma.url}/_sandbox/reject-writes", json={"email": email}).status_code == 200
        assert http.patch(f"/users/{user_id}", json={"givenName": "Anna-Karin"}).status_code == 200
        huma.sandbox.clear_rejected_writes()
        assert huma.sandbox.rejections == {}
        bad = httpx.post(f"{huma.url}/_sandbox/reject-writes", json={"email": email, "status": 401})
        assert bad.status_code == 400 and bad.json()["errorCode"] == "field:invalid-format"
