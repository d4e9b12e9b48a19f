"""The Huma sandbox behaves like Huma: tokens, paging, details, writes and the rules Huma enforces.

Everything goes over real HTTP to a sandbox on an ephemeral port, seeded through ``load_seed``."""

from __future__ import annotations

import base64
from datetime import date, timedelta

import httpx
import pytest

from humacrona_sandbox.huma_app import (
    DEFAULT_HUMA_CLIENT_ID,
    DEFAULT_HUMA_CLIENT_SECRET,
    SERVICE_USER_ID,
    HumaSandboxSettings,
)
from humacrona_sandbox.huma_state import SeedError
from humacrona_sandbox.store import Store
from tests.sandbox.huma_testkit import TITLES, running_huma, seed_user, seed_users

CREDENTIALS = {"grant_type": "client_credentials", "client_id": DEFAULT_HUMA_CLIENT_ID,
               "client_secret": DEFAULT_HUMA_CLIENT_SECRET}
FAR_PAST, FAR_FUTURE = "2001-01-01", "2099-12-31"


@pytest.fixture
def huma():
    with running_huma(seed_users(12)) as running:
        yield running


@pytest.fixture
def api(huma):
    with huma.client() as client:
        yield client


def _user_id(n: int) -> str:
    return seed_user(n)["id"]


def _assert_400(response: httpx.Response, fields: list[str], code: str | None = None) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["fields"] == fields, body
    if code:
        assert body["errorCode"] == code, body
    return body


# ---------------------------------------------------------------- tokens


def test_token_from_form_json_and_basic_auth_opens_the_api(huma):
    answers = [
        httpx.post(f"{huma.url}/auth/oauth/token", data=CREDENTIALS),
        httpx.post(f"{huma.url}/auth/oauth/token", json=CREDENTIALS),
        httpx.post(f"{huma.url}/auth/oauth/token", data={"grant_type": "client_credentials"},
                   headers={"Authorization": "Basic " + base64.b64encode(
                       f"{DEFAULT_HUMA_CLIENT_ID}:{DEFAULT_HUMA_CLIENT_SECRET}".encode()).decode()}),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert body["organizationId"] == HumaSandboxSettings().organization_id
        assert body["userId"] == SERVICE_USER_ID
        users = httpx.get(f"{huma.url}/users", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert users.status_code == 200
    assert len({a.json()["access_token"] for a in answers}) == 3


@pytest.mark.parametrize("override", [{"client_secret": DEFAULT_HUMA_CLIENT_ID},
                                      {"client_id": DEFAULT_HUMA_CLIENT_SECRET}, {"client_secret": None}])
def test_wrong_or_missing_client_credentials_are_refused(huma, override):
    body = {k: v for k, v in {**CREDENTIALS, **override}.items() if v is not None}
    answer = httpx.post(f"{huma.url}/auth/oauth/token", data=body)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert DEFAULT_HUMA_CLIENT_SECRET not in answer.text


@pytest.mark.parametrize("grant_type", ["password", "refresh_token", ""])
def test_only_the_client_credentials_grant_is_accepted(huma, grant_type):
    answer = httpx.post(f"{huma.url}/auth/oauth/token", json={**CREDENTIALS, "grant_type": grant_type})
    _assert_400(answer, ["grant_type"])


def test_calls_without_a_valid_token_answer_401_invalid_token(huma):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        answer = httpx.get(f"{huma.url}/users", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_token"
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_token_expires_after_its_lifetime():
    with running_huma(seed_users(1), settings=HumaSandboxSettings(token_lifetime_s=0)) as huma:
        with huma.client() as client:
            answer = client.get("/users")
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_token"
        assert "expired" in answer.json()["error_description"]


def test_expire_tokens_admin_endpoint_forces_a_new_token(huma, api):
    assert api.get("/users").status_code == 200
    assert httpx.post(f"{huma.url}/_sandbox/expire-tokens").status_code == 200
    answer = api.get("/users")
    assert answer.status_code == 401 and "expired" in answer.json()["error_description"]
    with huma.client() as fresh:
        assert fresh.get("/users").status_code == 200


# ---------------------------------------------------------------- listing


def test_pages_cover_every_user_exactly_once_in_a_stable_order(api):
    seen = []
    for offset in range(0, 15, 5):
        page = api.get("/users", params={"limit": 5, "offset": offset}).json()
        assert page["total"] == 12
        seen += [u["id"] for u in page["items"]]
    assert seen == [_user_id(n) for n in range(12)]
    assert api.get("/users", params={"limit": 5, "offset": 12}).json()["items"] == []


def test_limit_defaults_to_25_and_is_at_most_50():
    with running_huma(seed_users(60)) as huma, huma.client() as api:
        assert len(api.get("/users").json()["items"]) == 25
        page = api.get("/users", params={"limit": 50}).json()
        assert len(page["items"]) == 50 and page["total"] == 60
        for bad in ("51", "-1", "ten", "2.5"):
            _assert_400(api.get("/users", params={"limit": bad}), ["limit"])
        _assert_400(api.get("/users", params={"offset": "-5"}), ["offset"])


def test_list_items_carry_only_list_fields(api):
    item = api.get("/users", params={"limit": 1}).json()["items"][0]
    assert item["email"] == seed_user(0)["email"]
    assert item["jobTitles"] == [{"id": item["jobTitles"][0]["id"], "name": TITLES[0]}]
    assert item["companies"][0]["name"] == "Nordljus Tech AB"
    assert item["type"] == "user" and item["status"] == {"active": True}
    for detail_only in ("employmentId", "homeAddress", "bankAccount", "privateEmail"):
        assert detail_only not in item


def test_search_and_id_filters(api):
    found = api.get("/users", params={"search": "LINDQVIST3"}).json()
    assert [u["id"] for u in found["items"]] == [_user_id(3)]
    by_email = api.get("/users", params={"search": seed_user(5)["email"]}).json()
    assert [u["id"] for u in by_email["items"]] == [_user_id(5)]
    by_id = api.get("/users", params=[("id", _user_id(7)), ("id", _user_id(2))]).json()
    assert [u["id"] for u in by_id["items"]] == [_user_id(2), _user_id(7)] and by_id["total"] == 2


def test_job_title_group_and_supervisor_filters(api):
    developer = [t["id"] for t in api.get("/job-titles", params={"search": "Developer"}).json()]
    developers = api.get("/users", params={"jobTitle": developer, "limit": 50}).json()
    assert [u["id"] for u in developers["items"]] == [_user_id(n) for n in range(0, 12, 3)]
    company = api.get("/groups").json()["items"][0]["id"]
    assert api.get("/users", params={"company": company}).json()["total"] == 12
    assert api.get("/users", params={"team": "00000000-0000-4000-8000-000000000000"}).json()["total"] == 0
    assert api.patch(f"/users/{_user_id(4)}", json={"supervisor": _user_id(0)}).status_code == 200
    assert [u["id"] for u in api.get("/users", params={"supervisor": _user_id(0)}).json()["items"]] == [_user_id(4)]
    assert [u["id"] for u in api.get("/users", params={"isSupervisor": "true"}).json()["items"]] == [_user_id(0)]
    assert api.get("/users", params={"supervisor": "none"}).json()["total"] == 11
    assert api.get("/users", params={"orderDirection": "DESC", "limit": 1}).json()["items"][0]["id"] == _user_id(11)
    _assert_400(api.get("/users", params={"permission": "payroll"}), ["permission"], "field:unsupported")
    _assert_400(api.get("/users", params={"jobTitle": "developer"}), ["jobTitle"])


def test_supervisor_is_shown_and_cycles_are_refused(api):
    boss, worker = _user_id(0), _user_id(1)
    answer = api.patch(f"/users/{worker}", json={"supervisor": boss})
    assert answer.json()["supervisor"]["value"]["id"] == boss
    assert api.get(f"/users/{boss}").json()["subordinatesCount"] == 1
    _assert_400(api.patch(f"/users/{boss}", json={"supervisor": worker}), ["supervisor"], "field:invalid-value")
    _assert_400(api.patch(f"/users/{boss}", json={"supervisor": boss}), ["supervisor"], "field:invalid-value")
    _assert_400(api.patch(f"/users/{boss}", json={"supervisor": "00000000-0000-4000-8000-000000000000"}),
                ["supervisor"], "field:not-found")
    assert api.patch(f"/users/{worker}", json={"supervisor": None}).json()["supervisor"] == {"editable": True}
    assert api.get(f"/users/{boss}").json()["subordinatesCount"] == 0


# ---------------------------------------------------------------- details


def test_details_wrap_every_field_and_show_employment_from_the_position(api):
    seed = seed_user(4)
    details = api.get(f"/users/{seed['id']}").json()
    assert details["givenName"] == {"value": seed["givenName"], "editable": True}
    assert details["email"] == {"value": seed["email"], "editable": True}
    assert details["employmentId"]["value"] == seed["employmentId"]
    assert details["privateEmail"]["value"] == seed["privateEmail"]
    assert details["phone"]["value"] == seed["phone"]
    assert details["homeAddress"]["value"] == {"line1": "Storgatan 5", "postalCode": "11122", "city": "Stockholm",
                                               "country": "SE"}
    assert details["bankAccount"]["value"] == {"type": "national", "code": "national",
                                               "number": seed["bankAccount"]["number"], "country": "SE"}
    assert details["employmentStartDate"] == {"value": "2019-03-01", "editable": False}
    assert "value" not in details["employmentEndDate"]
    assert details["jobTitle"]["value"]["name"] == TITLES[4 % 3]
    [position] = details["currentPositions"]
    assert position["id"] == seed["positions"][0]["id"] and position["status"] == "CURRENT"
    assert details["subordinatesCount"] == 0


def test_unknown_user_is_a_404_naming_the_user(api):
    missing = "00000000-0000-4000-8000-000000000000"
    answer = api.get(f"/users/{missing}")
    assert answer.status_code == 404
    assert answer.json() == {"errorCode": "object:not-found", "errorMessage": "User not found",
                             "interpolations": {"type": "User", "id": missing}}
    assert api.patch(f"/users/{missing}", json={"givenName": "X"}).status_code == 404


def test_imported_positions_without_a_title_are_shown_as_they_are():
    user = seed_user(0)
    user["positions"][0]["title"] = None
    with running_huma([user]) as huma, huma.client() as api:
        details = api.get(f"/users/{user['id']}").json()
        assert "value" not in details["jobTitle"]
        [summary] = api.get(f"/users/{user['id']}/positions").json()["items"]
        assert "title" not in summary
        position = api.get(f"/users/{user['id']}/positions/{summary['id']}").json()
        assert position["title"] == {"editable": True}


# ---------------------------------------------------------------- create


def _company(api: httpx.Client) -> str:
    return api.get("/groups").json()["items"][0]["id"]


def test_create_user_answers_200_with_the_user(api):
    body = {"givenName": "Vera", "familyName": "Ek", "email": "vera.ek@nordljus.se", "phone": "+46 73 555 12 12",
            "groups": [_company(api)]}
    answer = api.post("/users", json=body)
    assert answer.status_code == 200, answer.text
    created = answer.json()
    assert created["email"] == "vera.ek@nordljus.se" and created["companies"][0]["id"] == body["groups"][0]
    assert api.get("/users", params={"limit": 50}).json()["total"] == 13
    details = api.get(f"/users/{created['id']}").json()
    assert details["phone"]["value"] == "+46 73 555 12 12"
    assert "value" not in details["employmentId"]


def test_create_user_lists_every_missing_required_field(api):
    body = _assert_400(api.post("/users", json={"familyName": "Ek"}), ["givenName", "email", "groups"],
                       "field:required")
    assert "givenName" in body["errorMessage"]


def test_create_user_refuses_unknown_groups_and_duplicate_email(api):
    unknown = "00000000-0000-4000-8000-00000000abcd"
    base = {"givenName": "Vera", "familyName": "Ek", "email": "vera@nordljus.se", "groups": [_company(api)]}
    _assert_400(api.post("/users", json={**base, "groups": [unknown]}), ["groups"], "field:not-found")
    _assert_400(api.post("/users", json={**base, "email": seed_user(1)["email"].upper()}), ["email"],
                "field:not-unique")


# ---------------------------------------------------------------- patch

PATCHES = [
    ("givenName", "Annika", "Annika"),
    ("familyName", "Holm", "Holm"),
    ("email", "annika.holm@nordljus.se", "annika.holm@nordljus.se"),
    ("phone", "+46 8 123 456 78", "+46 8 123 456 78"),
    ("employmentId", "E-77", "E-77"),
    ("privateEmail", "annika@example.org", "annika@example.org"),
    ("homeAddress", {"line1": "Kungsgatan 2", "line2": "lgh 1102", "line3": "", "postalCode": "41119",
                     "city": "Göteborg", "country": "SE"},
     {"line1": "Kungsgatan 2", "line2": "lgh 1102", "postalCode": "41119", "city": "Göteborg", "country": "SE"}),
    ("bankAccount", {"type": "national", "number": "5000-1234567", "country": "SE"},
     {"type": "national", "code": "national", "number": "5000-1234567", "country": "SE"}),
    ("bankAccount", {"type": "international", "iban": "NO9386011117947", "bic": "DNBANOKK"},
     {"type": "international", "code": "international", "iban": "NO9386011117947", "bic": "DNBANOKK"}),
]


@pytest.mark.parametrize(("key", "sent", "shown"), PATCHES, ids=[p[0] for p in PATCHES])
def test_patch_changes_one_field_and_leaves_the_rest(api, key, sent, shown):
    user_id = _user_id(0)
    before = api.get(f"/users/{user_id}").json()
    answer = api.patch(f"/users/{user_id}", json={key: sent})
    assert answer.status_code == 200, answer.text
    assert answer.json()[key]["value"] == shown
    after = api.get(f"/users/{user_id}").json()
    assert after[key]["value"] == shown
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}


@pytest.mark.parametrize("key", ["phone", "employmentId", "privateEmail", "homeAddress", "bankAccount"])
def test_null_clears_an_optional_field(api, key):
    user_id = _user_id(0)
    answer = api.patch(f"/users/{user_id}", json={key: None})
    assert answer.status_code == 200
    assert answer.json()[key] == {"editable": True}
    assert api.get(f"/users/{user_id}").json()[key] == {"editable": True}


@pytest.mark.parametrize("key", ["givenName", "familyName", "email"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_fields_cannot_be_cleared(api, key, value):
    _assert_400(api.patch(f"/users/{_user_id(0)}", json={key: value}), [key], "field:required")


def test_uniqueness_of_email_phone_and_employment_id(api):
    other = seed_user(1)
    me = _user_id(0)
    _assert_400(api.patch(f"/users/{me}", json={"email": other["email"].upper()}), ["email"], "field:not-unique")
    for spelling in ("+46701010100", "+46 70 101 01 00", "070-101 01 00", "0046701010100"):
        assert other["phone"] == "+46 70-101 01 00"
        _assert_400(api.patch(f"/users/{me}", json={"phone": spelling}), ["phone"], "field:not-unique")
    _assert_400(api.patch(f"/users/{me}", json={"employmentId": other["employmentId"]}), ["employmentId"])
    body = _assert_400(api.patch(f"/users/{me}", json={"email": other["email"], "employmentId": other["employmentId"]}),
                       ["email", "employmentId"], "field:not-unique")
    assert "email" in body["errorMessage"] and "employmentId" in body["errorMessage"]
    own = seed_user(0)
    assert api.patch(f"/users/{me}", json={"email": own["email"].upper(), "phone": own["phone"]}).status_code == 200


def test_a_freed_identity_can_be_taken(api):
    first, second = _user_id(0), _user_id(1)
    assert api.patch(f"/users/{first}", json={"employmentId": "9999"}).status_code == 200
    assert api.patch(f"/users/{second}", json={"employmentId": seed_user(0)["employmentId"]}).status_code == 200


@pytest.mark.parametrize(("address_change", "field"), [
    ({"country": "Sverige"}, "homeAddress.country"),
    ({"country": "se"}, "homeAddress.country"),
    ({"country": "XX"}, "homeAddress.country"),
    ({"city": ""}, "homeAddress.city"),
    ({"line1": "x" * 256}, "homeAddress.line1"),
])
def test_home_address_rules(api, address_change, field):
    address = {"line1": "Kungsgatan 2", "line2": "", "line3": "", "postalCode": "41119", "city": "Göteborg",
               "country": "SE", **address_change}
    _assert_400(api.patch(f"/users/{_user_id(0)}", json={"homeAddress": address}), [field])


def test_home_address_needs_all_six_keys(api):
    address = {"line1": "Kungsgatan 2", "postalCode": "41119", "city": "Göteborg", "country": "SE"}
    _assert_400(api.patch(f"/users/{_user_id(0)}", json={"homeAddress": address}),
                ["homeAddress.line2", "homeAddress.line3"], "field:required")


def test_bank_account_rules_without_check_digit_validation(api):
    user = f"/users/{_user_id(0)}"
    # Huma does not validate Swedish account check digits: a number with a wrong one is stored.
    assert api.patch(user, json={"bankAccount": {"type": "national", "number": "8327-9 000000001",
                                                 "country": "SE"}}).status_code == 200
    _assert_400(api.patch(user, json={"bankAccount": {"type": "national", "number": "1", "country": "Sweden"}}),
                ["bankAccount.country"])
    _assert_400(api.patch(user, json={"bankAccount": {"type": "national", "country": "SE"}}), ["bankAccount.number"])
    _assert_400(api.patch(user, json={"bankAccount": {"type": "savings", "number": "1", "country": "SE"}}),
                ["bankAccount.type"])


@pytest.mark.parametrize(("body", "fields"), [
    ({"givenName": "x" * 256}, ["givenName"]),
    ({"givenName": 42}, ["givenName"]),
    ({"email": "not-an-email"}, ["email"]),
    ({"privateEmail": "a@b"}, ["privateEmail"]),
    ({"phone": "call me"}, ["phone"]),
    ({"birthDate": "1990-02-30"}, ["birthDate"]),
    ({"civilStatus": "Complicated"}, ["civilStatus"]),
    ({"employmentID": "typo"}, ["employmentID"]),
    ({"nationality": "SWE"}, ["nationality"]),
])
def test_malformed_fields_are_refused_with_the_field_named(api, body, fields):
    _assert_400(api.patch(f"/users/{_user_id(0)}", json=body), fields)


def test_malformed_json_and_non_object_bodies_are_400(api):
    user = f"/users/{_user_id(0)}"
    for content in (b"{not json", b"[1, 2]", b""):
        answer = api.patch(user, content=content, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400 and answer.json()["errorCode"].startswith("field:")


# ---------------------------------------------------------------- positions


def _title_id(api: httpx.Client, name: str) -> str:
    [title] = [t for t in api.get("/job-titles", params={"search": name}).json() if t["name"] == name]
    return title["id"]


def test_position_lifecycle_and_status(api):
    user = _user_id(2)
    title = _title_id(api, "HR Partner")
    created = api.post(f"/users/{user}/positions", json={
        "contractStartDate": FAR_FUTURE, "contractType": "Temporary", "titleId": title})
    assert created.status_code == 200, created.text
    position = created.json()
    assert position["status"] == "UPCOMING"
    assert position["title"]["value"]["name"] == "HR Partner"
    assert position["contractStartDate"] == {"value": FAR_FUTURE, "editable": True}
    assert position["percentage"]["value"] == 100
    path = f"/users/{user}/positions/{position['id']}"

    listed = api.get(f"/users/{user}/positions").json()
    assert listed["total"] == 2 and listed["items"][0]["id"] == position["id"]
    assert api.get(path).json() == position

    moved = api.patch(path, json={"contractStartDate": FAR_PAST, "contractEndDate": "2002-06-30"}).json()
    assert moved["status"] == "ENDED" and moved["contractEndDate"]["value"] == "2002-06-30"
    current = api.patch(path, json={"contractEndDate": None}).json()
    assert current["status"] == "CURRENT" and "value" not in current["contractEndDate"]
    details = api.get(f"/users/{user}").json()
    assert {p["id"] for p in details["currentPositions"]} == {position["id"], seed_user(2)["positions"][0]["id"]}

    assert api.delete(path).status_code == 200
    assert api.get(path).status_code == 404
    assert api.get(f"/users/{user}/positions").json()["total"] == 1


def test_position_rules(api):
    user = _user_id(2)
    positions = f"/users/{user}/positions"
    title = _title_id(api, "Developer")
    _assert_400(api.post(positions, json={}), ["contractStartDate", "contractType", "titleId"], "field:required")
    _assert_400(api.post(positions, json={"contractStartDate": "2024-01-01", "contractType": "Permanent",
                                          "titleId": "00000000-0000-4000-8000-000000000001"}),
                ["titleId"], "field:not-found")
    _assert_400(api.post(positions, json={"contractStartDate": "2024-01-01", "contractType": "Forever",
                                          "titleId": title}), ["contractType"])
    _assert_400(api.post(positions, json={"contractStartDate": "2024-05-01", "contractEndDate": "2024-04-30",
                                          "contractType": "Permanent", "titleId": title}), ["contractEndDate"])
    existing = f"{positions}/{seed_user(2)['positions'][0]['id']}"
    _assert_400(api.patch(existing, json={"contractEndDate": "2010-01-01"}), ["contractEndDate"], "field:invalid-value")
    _assert_400(api.patch(existing, json={"titleId": None}), ["titleId"], "field:required")
    _assert_400(api.patch(existing, json={"percentage": 120}), ["percentage"])


def test_positions_belong_to_their_user(api):
    other_position = seed_user(3)["positions"][0]["id"]
    answer = api.get(f"/users/{_user_id(2)}/positions/{other_position}")
    assert answer.status_code == 404 and answer.json()["interpolations"]["type"] == "Position"
    assert api.delete(f"/users/{_user_id(2)}/positions/{other_position}").status_code == 404
    assert api.get(f"/users/{_user_id(3)}/positions/{other_position}").status_code == 200
    assert api.get(f"/users/{_user_id(2)}/positions/not-a-uuid").status_code == 400
    assert api.get("/users/00000000-0000-4000-8000-000000000000/positions").status_code == 404


def test_positions_paging(api):
    user = _user_id(1)
    title = _title_id(api, "Developer")
    for year in (2020, 2021, 2022):
        api.post(f"/users/{user}/positions", json={"contractStartDate": f"{year}-01-01",
                                                   "contractEndDate": f"{year}-12-31",
                                                   "contractType": "Temporary", "titleId": title})
    first = api.get(f"/users/{user}/positions", params={"limit": 2}).json()
    rest = api.get(f"/users/{user}/positions", params={"limit": 2, "offset": 2}).json()
    starts = [p["contractStartDate"] for p in first["items"] + rest["items"]]
    assert first["total"] == 4 and starts == ["2022-01-01", "2021-01-01", "2020-01-01", "2019-03-01"]


def test_deprecated_employment_fields_follow_the_current_position(api):
    user = _user_id(5)
    seeded = f"/users/{user}/positions/{seed_user(5)['positions'][0]['id']}"
    ended = (date.today() - timedelta(days=1)).isoformat()
    assert api.patch(seeded, json={"contractEndDate": ended}).status_code == 200
    details = api.get(f"/users/{user}").json()
    assert details["employmentEndDate"]["value"] == ended and details["currentPositions"] == []
    new = api.post(f"/users/{user}/positions", json={"contractStartDate": date.today().isoformat(),
                                                     "contractType": "Permanent",
                                                     "titleId": _title_id(api, "HR Partner")})
    details = api.get(f"/users/{user}").json()
    assert details["employmentStartDate"]["value"] == date.today().isoformat()
    assert details["jobTitle"]["value"]["name"] == "HR Partner"
    assert [p["id"] for p in details["currentPositions"]] == [new.json()["id"]]
    assert api.get("/users", params=[("id", user)]).json()["items"][0]["jobTitles"][0]["name"] == "HR Partner"


# ---------------------------------------------------------------- job titles and groups


def test_job_titles(api):
    assert sorted(t["name"] for t in api.get("/job-titles").json()) == sorted(TITLES)
    created = api.post("/job-titles", json={"name": "Payroll Lead", "description": "Runs payroll"})
    assert created.status_code == 200
    title = created.json()
    assert title["name"] == "Payroll Lead" and title["description"] == "Runs payroll"
    assert api.get(f"/job-titles/{title['id']}").json() == title
    assert [t["name"] for t in api.get("/job-titles", params={"search": "payroll"}).json()] == [
        "Payroll Lead", "Payroll Specialist"]
    _assert_400(api.post("/job-titles", json={"name": "  payroll  LEAD "}), ["name"], "field:not-unique")
    _assert_400(api.post("/job-titles", json={"name": ""}), ["name"], "field:required")
    _assert_400(api.patch(f"/job-titles/{title['id']}", json={"name": "developer"}), ["name"], "field:not-unique")
    assert api.patch(f"/job-titles/{title['id']}", json={"name": "Payroll Manager"}).json()["name"] == "Payroll Manager"
    assert api.post("/job-titles", json={"name": "Payroll Lead"}).status_code == 200
    assert api.get("/job-titles/00000000-0000-4000-8000-000000000000").status_code == 404
    _assert_400(api.get("/job-titles/12"), ["id"])


def test_groups_list_the_company(huma, api):
    page = api.get("/groups").json()
    assert page["total"] == 1
    assert page["items"] == [{"id": huma.sandbox.company_group_id(), "name": "Nordljus Tech AB", "type": "company"}]
    assert api.get("/groups", params={"type": "team"}).json()["items"] == []
    group = api.get(f"/groups/{huma.sandbox.company_group_id()}").json()
    assert len(group["members"]) == 12
    _assert_400(api.get("/groups", params={"limit": 26}), ["limit"])


# ---------------------------------------------------------------- routes, stats, seed, persistence


def test_unknown_routes_and_methods(api):
    missing = api.get("/employees")
    assert missing.status_code == 404 and missing.json()["interpolations"]["type"] == "Route"
    wrong_method = api.delete("/users")
    assert wrong_method.status_code == 405 and wrong_method.json()["status"]["statusLine"]["statusCode"] == 405


def test_stats_count_records_and_requests_by_route(huma, api):
    api.get(f"/users/{_user_id(0)}")
    api.get(f"/users/{_user_id(1)}")
    api.get("/users")
    stats = httpx.get(f"{huma.url}/_sandbox/stats").json()
    assert stats["users"] == 12 and stats["positions"] == 12 and stats["jobTitles"] == 3 and stats["groups"] == 1
    assert stats["requests"]["GET /users/{id}"] == 2 and stats["requests"]["GET /users"] == 1
    assert stats["requests"]["POST /auth/oauth/token"] == 1


@pytest.mark.parametrize(("change", "problem"), [
    ({"email": seed_user(0)["email"].upper()}, "email"),
    ({"phone": "070-100 00 00"}, "phone"),
    ({"employmentId": seed_user(0)["employmentId"]}, "employmentId"),
    ({"id": seed_user(0)["id"]}, "id"),
    ({"homeAddress": {**seed_user(0)["homeAddress"], "country": "Sverige"}}, "homeAddress.country"),
    ({"bankAccount": {"type": "national", "number": "1", "country": "se"}}, "bankAccount.country"),
])
def test_load_seed_refuses_what_huma_could_never_hold(change, problem):
    with running_huma(seed_users(1)) as huma:
        with pytest.raises(SeedError, match=problem.replace(".", r"\.")):
            huma.sandbox.load_seed([seed_user(1, **change)])
        assert huma.sandbox.store.count("users") == 1


def test_state_survives_a_restart(tmp_path):
    path = tmp_path / "huma.sqlite"
    with running_huma(seed_users(3), store=Store(path)) as huma, huma.client() as api:
        patched = api.patch(f"/users/{_user_id(0)}", json={"phone": "+46 70 999 88 77", "employmentId": "X-1"})
        assert patched.status_code == 200
        title = api.post("/job-titles", json={"name": "Controller"}).json()["id"]
        position = api.post(f"/users/{_user_id(1)}/positions", json={
            "contractStartDate": "2024-01-01", "contractType": "Permanent", "titleId": title}).json()["id"]
        created = api.post("/users", json={"givenName": "Vera", "familyName": "Ek", "email": "vera@nordljus.se",
                                           "groups": [_company(api)]}).json()["id"]
        before = [api.get(f"/users/{u}").json() for u in (_user_id(0), _user_id(1), created)]
        huma.sandbox.store.close()
    with running_huma(store=Store(path)) as huma, huma.client() as api:
        assert [api.get(f"/users/{u}").json() for u in (_user_id(0), _user_id(1), created)] == before
        assert api.get(f"/users/{_user_id(1)}/positions/{position}").status_code == 200
        assert [u["id"] for u in api.get("/users").json()["items"]] == [_user_id(0), _user_id(1), _user_id(2), created]
        # the uniqueness indexes were rebuilt from the stored records
        _assert_400(api.patch(f"/users/{_user_id(2)}", json={"phone": "070-999 88 77"}), ["phone"])
        _assert_400(api.patch(f"/users/{_user_id(2)}", json={"email": "VERA@nordljus.se"}), ["email"])
        _assert_400(api.post("/job-titles", json={"name": "controller"}), ["name"])
        assert huma.sandbox.company_group_id() == _company(api)
