"""Issue 10 §4 at the connectors: a Huma user whose details or positions cannot be read after the retries is
recorded as unreadable with a one-line reason (what the list said is kept) and the others are read; an error
that is not about one record (a refused key, rate limiting) still fails the read; a Crona page that cannot be
read fails the listing, an employee of the contract's wrong shape is unreadable."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from humacrona_pipeline.connectors.crona import CronaClient, employee_rows
from humacrona_pipeline.connectors.http import (
    ApiError,
    ForbiddenError,
    NoAnswerError,
    RateLimitedError,
    ServerError,
)
from humacrona_pipeline.connectors.huma import (
    HUMA_COLUMNS,
    HumaClient,
    extract_huma,
    unreadable_reason,
)
from humacrona_pipeline.core.unreadable import UNREADABLE_COLUMN, reason_line
from tests.connectors.connector_testkit import FAST_RETRY, HUMA_ID, HUMA_SECRET, serve_huma


def _client(url: str) -> HumaClient:
    return HumaClient(url, HUMA_ID, HUMA_SECRET, retry=FAST_RETRY)


def test_a_user_whose_details_answer_500_every_time_is_unreadable_and_the_rest_is_read(workforce):
    users = workforce.huma_users[:4]
    broken = users[2]
    with serve_huma(users) as huma:
        huma.sandbox.fail_reads(broken["email"], "500", ["details"], message="NullPointerException in UserMapper")
        unreadable: list[dict] = []
        rows = extract_huma(_client(huma.url), unreadable)
        with pytest.raises(ServerError, match="after 8 attempts"):  # asked for every row: the read fails
            extract_huma(_client(huma.url))
    assert sorted(r["id"] for r in rows) == sorted(u["id"] for u in users if u is not broken)
    (row,) = unreadable
    assert set(row) == {*HUMA_COLUMNS, UNREADABLE_COLUMN}
    # What the list page said is kept, so the employee can still be recognised (and left alone) on both sides.
    assert (row["id"], row["email"], row["givenName"]) == (broken["id"], broken["email"], broken["givenName"])
    assert row["employmentId"] is None and row["bankAccount.number"] is None
    assert row[UNREADABLE_COLUMN] == (f"unreadable in Huma: GET /users/{broken['id']}: HTTP 500 Internal Server Error"
                                      " NullPointerException in UserMapper after 8 attempts")


def test_positions_that_answer_a_body_that_is_not_json_make_the_user_unreadable(workforce):
    users = workforce.huma_users[:3]
    broken = users[0]
    with serve_huma(users) as huma:
        huma.sandbox.fail_reads(broken["email"], "malformed", ["positions"])
        unreadable: list[dict] = []
        rows = extract_huma(_client(huma.url), unreadable)
    assert len(rows) == 2
    (row,) = unreadable
    assert row[UNREADABLE_COLUMN] == (f"unreadable in Huma: GET /users/{broken['id']}/positions: HTTP 200 answered"
                                      " with a body that is not JSON")


def test_the_sandbox_admin_endpoint_breaks_and_mends_one_users_reads(workforce):
    users = workforce.huma_users[:2]
    with serve_huma(users) as huma:
        admin = httpx.post(f"{huma.url}/_sandbox/fail-reads", json={"email": users[1]["email"].upper(),
                                                                     "answer": "malformed", "reads": ["details"]})
        assert admin.status_code == 200 and admin.json() == {"failing_reads": [users[1]["email"].lower()]}
        refused = httpx.post(f"{huma.url}/_sandbox/fail-reads", json={"email": users[0]["email"], "answer": "404"})
        assert refused.status_code == 400 and refused.json()["errorCode"] == "field:invalid-format"
        token = httpx.post(f"{huma.url}/auth/oauth/token", data={
            "grant_type": "client_credentials", "client_id": HUMA_ID, "client_secret": HUMA_SECRET}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        answer = httpx.get(f"{huma.url}/users/{users[1]['id']}", headers=headers)
        assert answer.status_code == 200
        with pytest.raises(ValueError):
            answer.json()
        assert httpx.get(f"{huma.url}/users/{users[1]['id']}/positions", headers=headers).status_code == 200
        huma.sandbox.fail_reads(users[0]["email"], "500", ["positions"])
        failed = httpx.get(f"{huma.url}/users/{users[0]['id']}/positions", headers=headers)
        assert failed.status_code == 500 and set(failed.json()) == {"timestamp", "status", "error", "message", "path"}
        mended = httpx.request("DELETE", f"{huma.url}/_sandbox/fail-reads", params={"email": users[1]["email"]})
        assert mended.json() == {"failing_reads": [users[0]["email"].lower()]}
        assert httpx.get(f"{huma.url}/users/{users[1]['id']}", headers=headers).json()["id"] == users[1]["id"]


def test_only_errors_about_the_one_record_make_it_unreadable():
    def error(cls, status, **kw):
        return cls("Huma", status, "GET", "/users/u1", **kw)

    assert unreadable_reason(error(ServerError, 500, attempts=6)).startswith("unreadable in Huma: GET /users/u1")
    assert unreadable_reason(error(ApiError, 200, message="the answer is not the documented UserDetails object"))
    assert unreadable_reason(error(NoAnswerError, None, code="ReadTimeout"))
    # Not about this user: the key, the rate limit or the connection. These fail the extraction.
    assert unreadable_reason(error(ForbiddenError, 403)) is None
    assert unreadable_reason(error(RateLimitedError, 429)) is None
    assert unreadable_reason(error(NoAnswerError, None, code="ConnectError")) is None


def test_a_reason_is_one_line_and_never_holds_a_whole_account_number():
    line = reason_line("Huma", "Huma GET /users/u1: HTTP 500 bad account 8327-9 900000012\nat line 3")
    assert line == "unreadable in Huma: GET /users/u1: HTTP 500 bad account •••• 0012 at line 3"
    assert "2026-12-06" in reason_line("Huma", "failed on 2026-12-06")  # a date is not an account
    assert len(reason_line("Huma", "x" * 1000)) < 330


def test_a_crona_employee_of_the_wrong_shape_is_unreadable_and_keeps_its_anstnr_and_email():
    rows, unreadable = employee_rows([
        {"AnstNr": "1", "FoNamn": "Astrid", "EpostArb": "astrid@nordljus.se"},
        {"AnstNr": "2", "FoNamn": {"text": "Bo"}, "EpostArb": "bo@nordljus.se", "UtbetKontoNr": "900000012"},
    ])
    assert [r["AnstNr"] for r in rows] == ["1"]
    (row,) = unreadable
    assert (row["AnstNr"], row["EpostArb"], row["UtbetKontoNr"]) == ("2", "bo@nordljus.se", None)
    assert row[UNREADABLE_COLUMN] == ("unreadable in Crona: GET /api/v1/anstallda: FoNamn not a single value as the"
                                      " contract has it")


def test_a_crona_page_that_cannot_be_read_fails_the_listing_in_one_line():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/token"):
            return httpx.Response(200, json={"access_token": "t", "refresh_token": "r", "expires_in": 3600})
        return httpx.Response(200, json={"anstallda": [{"AnstNr": "1"}, "not an employee"], "sida": 1, "antal": 200,
                                         "totalt": 2})

    async def go():
        async with CronaClient("http://crona.test", "code", transport=httpx.MockTransport(answer),
                               retry=FAST_RETRY) as crona:
            return await crona.list_employees()

    with pytest.raises(ApiError) as failed:
        asyncio.run(go())
    assert str(failed.value) == ("Crona GET /api/v1/anstallda: HTTP 200 page 1 of `anstallda` holds an item that is not"
                                 " an employee object")
