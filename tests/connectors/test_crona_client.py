"""CronaClient against the Crona sandbox over real HTTP: complete extraction (also through faults and
expiring tokens), incremental reads, the Aktiveringskod, refused data, and creates that are not
repeated blindly."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest

from humacrona_pipeline.connectors.crona import CRONA_COLUMNS, CronaClient, extract_crona
from humacrona_pipeline.connectors.http import (
    AuthenticationError,
    ConflictError,
    NoAnswerError,
    NotFoundError,
    RequestRejectedError,
    RetryPolicy,
    ServerError,
)
from humacrona_sandbox.faults import FaultConfig
from tests.connectors.connector_testkit import (
    CRONA_CODE,
    FAST_RETRY,
    FakeSleep,
    WatchingTransport,
    expire_tokens_at,
    serve_crona,
)

NOT_THE_TOKEN = ("/_sandbox", "/api/v1/auth")
EMPLOYEES = "/api/v1/anstallda"


def client(url: str, **kwargs) -> CronaClient:
    kwargs.setdefault("retry", FAST_RETRY)
    return CronaClient(url, CRONA_CODE, **kwargs)


def run(coro):
    return asyncio.run(coro)


def expected(workforce) -> list[str]:
    return [e["AnstNr"] for e in workforce.crona_employees]


def test_every_employee_is_extracted_exactly_once(workforce):
    async def extract(url):
        async with client(url, page_size=25) as crona:
            return await crona.list_employees(), crona.company

    with serve_crona(workforce.crona_employees) as crona:
        employees, company = run(extract(crona.url))

    assert [e["AnstNr"] for e in employees] == expected(workforce)
    seeded = {e["AnstNr"]: e for e in workforce.crona_employees}
    for employee in employees:
        assert {k: employee[k] for k in seeded[employee["AnstNr"]]} == seeded[employee["AnstNr"]]
        assert employee["Andrad"]  # set by Crona
    assert company and company["namn"]


def test_extraction_is_complete_through_faults_and_expiring_access_and_refresh_tokens(workforce):
    faults = FaultConfig(rate=0.15, kinds=("500", "503", "429", "drop", "slow"), slow_s=0.02, retry_after_s=0,
                         seed=8)
    with serve_crona(workforce.crona_employees, faults=faults) as crona:
        # First only the access token expires (renewed with the refresh token), later both do (renewed
        # with the Aktiveringskod).
        transport = expire_tokens_at(crona.url, 8, with_refresh_at=(25,))

        async def extract():
            async with client(crona.url, page_size=5, transport=transport) as c:
                return await c.list_employees(), c.session.tokens.renewals

        employees, renewals = run(extract())

    assert [e["AnstNr"] for e in employees] == expected(workforce)
    assert {"500", "503", "429", "drop"} & set(faults.counts)
    assert renewals == 3
    assert transport.count("POST", "/api/v1/auth/refresh") >= 1
    assert transport.count("POST", "/api/v1/auth/token") >= 2  # the first token, and the fallback


def test_incremental_read_gives_only_employees_changed_after_a_moment(workforce):
    anstnr = workforce.crona_employees[5]["AnstNr"]

    async def scenario(url):
        async with client(url) as c:
            before = max(e["Andrad"] for e in await c.list_employees())
            changed = await c.patch_employee(anstnr, {"Befattning": "Lönechef"})
            since_text = await c.list_employees(changed_after=before)
            moment = datetime.fromisoformat(before.replace("Z", "+00:00"))
            since_datetime = await c.list_employees(changed_after=moment)
            nothing = await c.list_employees(changed_after=changed["Andrad"])
            return changed, since_text, since_datetime, nothing

    with serve_crona(workforce.crona_employees) as crona:
        changed, since_text, since_datetime, nothing = run(scenario(crona.url))

    assert changed["Befattning"] == "Lönechef"
    assert [e["AnstNr"] for e in since_text] == [anstnr]
    assert [e["AnstNr"] for e in since_datetime] == [anstnr]
    assert nothing == []


def test_naive_changed_after_is_refused_before_anything_is_sent():
    with pytest.raises(ValueError, match="timezone"):
        run(client("http://127.0.0.1:9").list_employees(changed_after=datetime(2025, 1, 1)))


def test_wrong_activation_code_raises_authentication_error_without_showing_the_code(workforce, caplog):
    caplog.set_level(logging.DEBUG, logger="humacrona.connectors")
    wrong = "CRONA-WRONG-CODE-1234"

    async def attempt(url):
        c = CronaClient(url, wrong, retry=FAST_RETRY)
        async with c:
            try:
                await c.list_employees()
            except AuthenticationError as exc:
                return c, exc
        raise AssertionError("a wrong Aktiveringskod was accepted")

    with serve_crona(workforce.crona_employees[:3]) as crona:
        c, error = run(attempt(crona.url))

    assert error.status == 401 and error.code == "ogiltig_aktiveringskod"
    assert "Unknown or revoked aktiveringskod" in str(error)
    for text in (str(error), repr(error), repr(c), caplog.text):
        assert wrong not in text and CRONA_CODE not in text


def test_refused_data_raises_request_rejected_with_cronas_code_and_fields(workforce):
    existing = workforce.crona_employees[0]

    async def scenario(url):
        async with client(url) as c:
            with pytest.raises(RequestRejectedError) as bad_country:
                await c.patch_employee(existing["AnstNr"], {"Land": "Sverige"})
            with pytest.raises(RequestRejectedError) as renumber:
                await c.patch_employee(existing["AnstNr"], {"AnstNr": "999999"})
            with pytest.raises(ConflictError) as taken:
                await c.create_employee({**{k: existing[k] for k in ("FoNamn", "EfNamn", "EpostArb")},
                                         "AnstNr": existing["AnstNr"]})
            with pytest.raises(NotFoundError) as missing:
                await c.get_employee("no-such-anstnr")
            return bad_country.value, renumber.value, taken.value, missing.value

    with serve_crona(workforce.crona_employees[:5]) as crona:
        bad_country, renumber, taken, missing = run(scenario(crona.url))

    assert bad_country.status == 422 and bad_country.fields == ("Land",)
    assert "Sverige" in str(bad_country)
    assert renumber.code == "anstnr_immutable"
    assert taken.status == 409 and taken.fields == ("AnstNr",)
    assert missing.status == 404


def new_employee(anstnr: str) -> dict:
    return {"AnstNr": anstnr, "FoNamn": "Test", "EfNamn": "Person", "EpostArb": f"test.{anstnr}@nordljus.se",
            "Land": "SE"}


def test_a_create_is_not_repeated_after_a_server_error_or_a_drop_but_is_after_429(workforce):
    faults = FaultConfig(rate=1.0, kinds=("500",), retry_after_s=0, exempt_prefixes=NOT_THE_TOKEN)
    sleep = FakeSleep()
    with serve_crona(workforce.crona_employees[:5], faults=faults) as crona:

        async def lift_limit_after_first_429(n, request):
            if request.method == "POST" and request.url.path == EMPLOYEES and faults.kinds == ("429",) \
                    and transport.count("POST", EMPLOYEES) == 4:
                faults.rate = 0.0

        transport = WatchingTransport(lift_limit_after_first_429)

        async def scenario():
            async with client(crona.url, transport=transport, retry=RetryPolicy(sleep=sleep)) as c:
                with pytest.raises(ServerError) as server_error:
                    await c.create_employee(new_employee("9001"))
                faults.kinds = ("drop",)
                with pytest.raises(NoAnswerError) as dropped:
                    await c.create_employee(new_employee("9002"))
                faults.kinds = ("429",)
                created = await c.create_employee(new_employee("9003"))
                faults.rate = 0.0
                return server_error.value, dropped.value, created, await c.list_employees()

        server_error, dropped, created, employees = run(scenario())

    # 9001 once (500), 9002 once (drop), 9003 twice (429, then through)
    assert transport.count("POST", EMPLOYEES) == 4
    assert server_error.outcome_unknown and dropped.outcome_unknown
    assert created["AnstNr"] == "9003"
    numbers = [e["AnstNr"] for e in employees]
    assert numbers.count("9002") == 1  # the dropped create was applied: exactly why it is not repeated
    assert numbers.count("9003") == 1 and "9001" not in numbers


def test_extract_crona_gives_rows_with_exactly_the_crona_columns(workforce):
    with serve_crona(workforce.crona_employees[:40]) as crona:
        rows = extract_crona(client(crona.url, page_size=7))
    assert [r["AnstNr"] for r in rows] == expected(workforce)[:40]
    assert all(tuple(r) == CRONA_COLUMNS for r in rows)


def test_page_size_is_limited_to_what_crona_allows():
    with pytest.raises(ValueError):
        CronaClient("http://127.0.0.1:9", CRONA_CODE, page_size=500)


def test_no_more_requests_in_flight_than_the_concurrency_allows(workforce):
    faults = FaultConfig(latency_ms=3)
    with serve_crona(workforce.crona_employees, faults=faults) as crona:
        transport = WatchingTransport()

        async def extract():
            async with client(crona.url, page_size=5, concurrency=3, transport=transport) as c:
                return await c.list_employees()

        employees = run(extract())

    assert len(employees) == len(workforce.crona_employees)
    assert transport.max_in_flight == 3


def test_a_fresh_token_that_is_refused_too_raises_authentication_error_after_one_renewal(workforce):
    with serve_crona(workforce.crona_employees[:5]) as crona:
        transport = expire_tokens_at(crona.url, *range(1, 50))  # every token expires before it is used

        async def scenario():
            async with client(crona.url, transport=transport) as c:
                with pytest.raises(AuthenticationError) as refused:
                    await c.get_employee(workforce.crona_employees[0]["AnstNr"])
                return refused.value

        error = run(scenario())

    assert error.code == "token_expired"
    assert transport.count("GET", f"{EMPLOYEES}/{workforce.crona_employees[0]['AnstNr']}") == 2
    assert transport.count("POST", "/api/v1/auth/token") + transport.count("POST", "/api/v1/auth/refresh") == 2
