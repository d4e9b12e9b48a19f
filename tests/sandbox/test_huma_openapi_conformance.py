"""Every answer of the Huma sandbox validates against the schema Huma's OpenAPI document declares for
that operation and status, and every request body the tests send validates against the declared
request schema (or, for a request meant to be refused, is refused by the document too)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from humacrona_sandbox.faults import FaultConfig
from humacrona_sandbox.huma_app import DEFAULT_HUMA_CLIENT_ID, DEFAULT_HUMA_CLIENT_SECRET, HumaSandbox
from humacrona_sandbox.store import Store
from tests.sandbox.huma_testkit import running_huma, seed_user, seed_users
from tests.sandbox.openapi_schemas import (
    declared_statuses,
    openapi_document,
    validate_component,
    validate_request,
    validate_response,
)

MISSING = "00000000-0000-4000-8000-000000000000"
OPERATIONS = HumaSandbox(Store()).api_operations
# Where the document declares no schema for a status the sandbox answers (DELETE of a position declares
# no 401 or 500), the body must match the component every other operation uses for that status.
FALLBACK_COMPONENT = {400: "InvalidFieldFormatResponse", 401: "InvalidTokenResponse", 404: "NotFoundErrorResponse",
                      500: "StandardServerErrorResponse"}


def check_body(method: str, template: str, status: int, response: httpx.Response) -> None:
    body = response.json() if response.content else b""
    if status in declared_statuses(method, template):
        validate_response(method, template, status, body)
    else:
        validate_component(FALLBACK_COMPONENT[status], body)


class Conformance:
    """Sends one request, checks the status, and validates request and response against the document."""

    def __init__(self, url: str, token: str):
        self.http = httpx.Client(base_url=url, timeout=10)
        self.token = token

    def call(self, method: str, template: str, status: int, *, path: dict | None = None, json=None,
             params=None, data: dict | None = None, auth: bool = True, spec_valid: bool = True) -> dict | list | bytes:
        if json is not None or data is not None:
            content_type = "application/json" if json is not None else "application/x-www-form-urlencoded"
            payload = json if json is not None else data
            if spec_valid:
                validate_request(method, template, payload, content_type)
            else:
                with pytest.raises(AssertionError, match="does not match"):
                    validate_request(method, template, payload, content_type)
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        response = self.http.request(method, template.format(**(path or {})), json=json, data=data, params=params,
                                     headers=headers)
        assert response.status_code == status, f"{method} {template}: {response.status_code} {response.text}"
        check_body(method, template, status, response)
        return response.json() if response.content else b""


@pytest.fixture(scope="module", autouse=True)
def _document():
    """Every test here checks against Huma's document: without it they are skipped before a sandbox starts."""
    openapi_document()


@pytest.fixture(scope="module")
def huma():
    with running_huma(seed_users(4)) as running:
        yield running


@pytest.fixture
def c(huma):
    return Conformance(huma.url, huma.token())


SCENARIOS: dict[tuple[str, str], Callable[[Conformance, object], None]] = {}


def scenario(method: str, template: str):
    def register(fn):
        SCENARIOS[(method, template)] = fn
        return fn
    return register


def _title_id(c: Conformance) -> str:
    return c.call("GET", "/job-titles", 200)[0]["id"]


def _company_id(c: Conformance) -> str:
    return c.call("GET", "/groups", 200)["items"][0]["id"]


@scenario("POST", "/auth/oauth/token")
def _token(c, huma):
    creds = {"grant_type": "client_credentials", "client_id": DEFAULT_HUMA_CLIENT_ID,
             "client_secret": DEFAULT_HUMA_CLIENT_SECRET}
    c.call("POST", "/auth/oauth/token", 200, data=creds, auth=False)
    c.call("POST", "/auth/oauth/token", 200, json=creds, auth=False)
    c.call("POST", "/auth/oauth/token", 400, auth=False, json={
        "grant_type": "password", "client_id": DEFAULT_HUMA_CLIENT_ID, "username": "hr", "password": "secret"})
    c.call("POST", "/auth/oauth/token", 401, auth=False, json={**creds, "client_secret": DEFAULT_HUMA_CLIENT_ID})


@scenario("GET", "/users")
def _list_users(c, huma):
    page = c.call("GET", "/users", 200, params={"limit": 50})
    assert page["total"] == 4
    c.call("GET", "/users", 200, params={"search": "lindqvist2", "id": seed_user(2)["id"]})
    c.call("GET", "/users", 400, params={"limit": 51})


@scenario("POST", "/users")
def _create_user(c, huma):
    body = {"givenName": "Vera", "familyName": "Ek", "preferredName": "Vera", "email": "vera.ek@nordljus.se",
            "phone": "+46 73 555 12 12", "invite": False, "groups": [_company_id(c)]}
    c.call("POST", "/users", 200, json=body)
    c.call("POST", "/users", 400, json={"givenName": "Vera", "familyName": "Ek"}, spec_valid=False)
    c.call("POST", "/users", 400, json={**body, "email": "VERA.EK@nordljus.se"})


@scenario("GET", "/users/{id}")
def _get_user(c, huma):
    c.call("GET", "/users/{id}", 200, path={"id": seed_user(0)["id"]})
    c.call("GET", "/users/{id}", 404, path={"id": MISSING})


@scenario("PATCH", "/users/{id}")
def _patch_user(c, huma):
    user = {"id": seed_user(1)["id"]}
    full = {
        "givenName": "Erika", "familyName": "Lund", "preferredName": "Ricki", "email": "erika.lund@nordljus.se",
        "phone": "+46 70 222 33 44", "nationality": "SE", "birthDate": "1988-04-12",
        "homeAddress": {"line1": "Kungsgatan 2", "line2": "lgh 1102", "line3": "", "postalCode": "41119",
                        "city": "Göteborg", "country": "SE"},
        "civilStatus": "Married", "gender": "Female", "dietaryRequirements": "none", "interests": ["sailing"],
        "funfacts": "climbed Kebnekaise",
        "bankAccount": {"type": "national", "number": "5000-1234567", "country": "SE"},
        "supervisor": seed_user(0)["id"], "employmentId": "E-1", "relevantExperienceInMonths": 30,
        "seniorityNote": "since 2019", "excludeFromInsights": False, "excludeFromSurveys": True,
        "privateEmail": "erika@example.org",
    }
    details = c.call("PATCH", "/users/{id}", 200, path=user, json=full)
    assert details["supervisor"]["value"]["id"] == seed_user(0)["id"]
    c.call("PATCH", "/users/{id}", 200, path=user, json={
        "bankAccount": {"type": "international", "iban": "NO9386011117947", "bic": "DNBANOKK"}})
    c.call("GET", "/users/{id}", 200, path=user)
    c.call("GET", "/users/{id}", 200, path={"id": seed_user(0)["id"]})  # a supervisor with a subordinate
    c.call("PATCH", "/users/{id}", 400, path=user, spec_valid=False, json={
        "homeAddress": {**full["homeAddress"], "country": "Sverige"}})
    c.call("PATCH", "/users/{id}", 400, path=user, json={"email": seed_user(2)["email"]})
    c.call("PATCH", "/users/{id}", 404, path={"id": MISSING}, json={"givenName": "X"})


def _new_position(c: Conformance, user_id: str) -> dict:
    return c.call("POST", "/users/{userId}/positions", 200, path={"userId": user_id}, json={
        "contractStartDate": "2024-02-01", "contractType": "Temporary", "titleId": _title_id(c),
        "contractEndDate": "2099-01-31", "percentage": 80, "contractCountry": "SE", "description": "Covers a leave",
        "note": "via sync", "firstDayOfWork": "2024-02-01", "probationEndDate": "2024-08-01"})


@scenario("GET", "/users/{userId}/positions")
def _list_positions(c, huma):
    user = {"userId": seed_user(3)["id"]}
    _new_position(c, user["userId"])
    page = c.call("GET", "/users/{userId}/positions", 200, path=user)
    assert page["total"] == 2
    c.call("GET", "/users/{userId}/positions", 200, path=user, params={"limit": 1, "offset": 1})
    c.call("GET", "/users/{userId}/positions", 400, path=user, params={"limit": -1})
    c.call("GET", "/users/{userId}/positions", 404, path={"userId": MISSING})


@scenario("POST", "/users/{userId}/positions")
def _create_position(c, huma):
    user = {"userId": seed_user(2)["id"]}
    position = _new_position(c, user["userId"])
    assert position["title"]["value"]["id"] == _title_id(c)
    c.call("POST", "/users/{userId}/positions", 400, path=user, json={"contractType": "Permanent"}, spec_valid=False)
    c.call("POST", "/users/{userId}/positions", 400, path=user, json={
        "contractStartDate": "2024-01-01", "contractType": "Permanent", "titleId": MISSING})
    c.call("POST", "/users/{userId}/positions", 404, path={"userId": MISSING}, json={
        "contractStartDate": "2024-01-01", "contractType": "Permanent", "titleId": _title_id(c)})


def _seeded_position(n: int) -> dict:
    return {"userId": seed_user(n)["id"], "id": seed_user(n)["positions"][0]["id"]}


@scenario("GET", "/users/{userId}/positions/{id}")
def _get_position(c, huma):
    c.call("GET", "/users/{userId}/positions/{id}", 200, path=_seeded_position(0))
    c.call("GET", "/users/{userId}/positions/{id}", 400, path={"userId": seed_user(0)["id"], "id": "12"})
    c.call("GET", "/users/{userId}/positions/{id}", 404, path={"userId": seed_user(0)["id"], "id": MISSING})


@scenario("PATCH", "/users/{userId}/positions/{id}")
def _patch_position(c, huma):
    path = _seeded_position(1)
    updated = c.call("PATCH", "/users/{userId}/positions/{id}", 200, path=path, json={
        "contractEndDate": "2020-12-31", "endReason": "employee_resigned", "endNote": "moved", "wantedEnd": True,
        "lastDayOfWork": "2020-12-31", "terminationNoticeDate": "2020-09-30"})
    assert updated["status"] == "ENDED"
    c.call("PATCH", "/users/{userId}/positions/{id}", 400, path=path, json={"percentage": 101}, spec_valid=False)
    c.call("PATCH", "/users/{userId}/positions/{id}", 400, path=path, json={"contractEndDate": "2001-01-01"})
    c.call("PATCH", "/users/{userId}/positions/{id}", 404, path={**path, "id": MISSING}, json={"note": "x"})


@scenario("DELETE", "/users/{userId}/positions/{id}")
def _delete_position(c, huma):
    path = {"userId": seed_user(0)["id"], "id": _new_position(c, seed_user(0)["id"])["id"]}
    c.call("DELETE", "/users/{userId}/positions/{id}", 200, path=path)
    c.call("DELETE", "/users/{userId}/positions/{id}", 404, path=path)
    c.call("DELETE", "/users/{userId}/positions/{id}", 400, path={**path, "id": "not-a-uuid"})


@scenario("GET", "/job-titles")
def _list_job_titles(c, huma):
    assert c.call("GET", "/job-titles", 200)
    c.call("GET", "/job-titles", 200, params={"search": "dev"})


@scenario("POST", "/job-titles")
def _create_job_title(c, huma):
    c.call("POST", "/job-titles", 200, json={"name": "Conformance Officer", "description": "Checks shapes"})
    c.call("POST", "/job-titles", 400, json={"name": "conformance officer"})
    c.call("POST", "/job-titles", 400, json={"description": "no name"}, spec_valid=False)


@scenario("GET", "/job-titles/{id}")
def _get_job_title(c, huma):
    c.call("GET", "/job-titles/{id}", 200, path={"id": _title_id(c)})
    c.call("GET", "/job-titles/{id}", 400, path={"id": "twelve"})
    c.call("GET", "/job-titles/{id}", 404, path={"id": MISSING})


@scenario("PATCH", "/job-titles/{id}")
def _patch_job_title(c, huma):
    title = c.call("POST", "/job-titles", 200, json={"name": "Temporary Title"})
    c.call("PATCH", "/job-titles/{id}", 200, path={"id": title["id"]}, json={"description": "for a while"})
    c.call("PATCH", "/job-titles/{id}", 400, path={"id": title["id"]}, json={"name": "x" * 256}, spec_valid=False)
    c.call("PATCH", "/job-titles/{id}", 404, path={"id": MISSING}, json={"name": "Nobody"})


@scenario("GET", "/groups")
def _list_groups(c, huma):
    c.call("GET", "/groups", 200)
    c.call("GET", "/groups", 200, params={"type": "company", "search": "nordljus"})
    c.call("GET", "/groups", 400, params={"limit": 26})
    c.call("GET", "/groups", 400, params={"type": "department"})


@scenario("GET", "/groups/{id}")
def _get_group(c, huma):
    c.call("GET", "/groups/{id}", 200, path={"id": _company_id(c)})
    c.call("GET", "/groups/{id}", 400, path={"id": "company"})
    c.call("GET", "/groups/{id}", 404, path={"id": MISSING})


# ---------------------------------------------------------------- the tests


def _label(op: tuple[str, str]) -> str:
    return f"{op[0]} {op[1]}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_operation_answers_match_the_document(operation, huma, c):
    method, template = operation
    paths = openapi_document()["paths"]
    assert method.lower() in paths.get(template, {}), f"{_label(operation)} is not in Huma's OpenAPI document"
    assert operation in SCENARIOS, f"no conformance scenario for {_label(operation)}"
    SCENARIOS[operation](c, huma)


def _any_path(template: str) -> str:
    return template.replace("{userId}", seed_user(0)["id"]).replace("{id}", MISSING)


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op[1] != "/auth/oauth/token"], ids=_label)
def test_calls_without_a_token_answer_the_documented_401(operation, huma):
    method, template = operation
    for headers in ({}, {"Authorization": "Bearer stale"}):
        response = httpx.request(method, huma.url + _any_path(template), headers=headers, json={})
        assert response.status_code == 401
        check_body(method, template, 401, response)


def test_injected_server_errors_match_the_documented_500():
    with running_huma(seed_users(1), faults=FaultConfig(rate=1, kinds=("500",))) as huma:
        for method, template in OPERATIONS:
            response = httpx.request(method, huma.url + _any_path(template), json={})
            assert response.status_code == 500
            check_body(method, template, 500, response)
            assert response.json()["path"] == _any_path(template)


@pytest.mark.parametrize("kind", ["503", "429"])
def test_injected_503_and_429_use_the_server_error_shape(kind):
    with running_huma(seed_users(1), faults=FaultConfig(rate=1, kinds=(kind,), retry_after_s=2)) as huma:
        response = httpx.get(f"{huma.url}/users")
        assert response.status_code == int(kind) and response.headers["retry-after"] == "2"
        validate_component("StandardServerErrorResponse", response.json())
        assert response.json()["status"]["statusLine"]["statusCode"] == int(kind)
        assert httpx.get(f"{huma.url}/_sandbox/stats").json()["faults"] == {kind: 1}


def test_unknown_route_and_malformed_json_match_the_document(huma, c):
    unknown = httpx.get(f"{huma.url}/employees", headers={"Authorization": f"Bearer {c.token}"})
    assert unknown.status_code == 404
    validate_component("NotFoundErrorResponse", unknown.json())
    malformed = httpx.patch(f"{huma.url}/users/{seed_user(0)['id']}", content=b'{"givenName": ',
                            headers={"Authorization": f"Bearer {c.token}", "Content-Type": "application/json"})
    assert malformed.status_code == 400
    validate_response("PATCH", "/users/{id}", 400, malformed.json())
