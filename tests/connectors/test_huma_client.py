"""HumaClient against the Huma sandbox over real HTTP: complete extraction (also through injected
faults and a token expiring mid-run), credentials, refused data, when a call is and is not repeated,
and the bound on concurrent requests."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from humacrona_pipeline.connectors.http import (
    AuthenticationError,
    NoAnswerError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    RetryPolicy,
    ServerError,
)
from humacrona_pipeline.connectors.huma import HUMA_COLUMNS, HumaClient, extract_huma, flatten_employee
from humacrona_sandbox.faults import FaultConfig
from tests.connectors.connector_testkit import (
    FAST_RETRY,
    HUMA_ID,
    HUMA_SECRET,
    FakeSleep,
    WatchingTransport,
    expire_tokens_at,
    serve_huma,
)

# Faults on every call except the token endpoint, for tests about one call's retries.
NOT_THE_TOKEN = ("/_sandbox", "/auth")


def client(url: str, **kwargs) -> HumaClient:
    kwargs.setdefault("retry", FAST_RETRY)
    return HumaClient(url, HUMA_ID, HUMA_SECRET, **kwargs)


def run(coro):
    return asyncio.run(coro)


def expected_ids(workforce) -> list[str]:
    return [u["id"] for u in workforce.huma_users]


def test_every_user_is_extracted_exactly_once_with_details_and_positions(workforce):
    async def extract(url):
        async with client(url) as huma:
            return await huma.fetch_employees()

    with serve_huma(workforce.huma_users) as huma:
        employees = run(extract(huma.url))

    got = [e["user"]["id"] for e in employees]
    assert got == expected_ids(workforce)  # all of them, once each, in Huma's order
    by_id = {u["id"]: u for u in workforce.huma_users}
    for employee in employees:
        seeded = by_id[employee["user"]["id"]]
        row = flatten_employee(**employee)
        assert row["email"] == seeded["email"]
        assert row["employmentId"] == seeded["employmentId"]
        assert [p["id"] for p in employee["positions"]] == [p["id"] for p in seeded["positions"]]
        titles = [p["title"] for p in seeded["positions"]] or [None]  # no position: no title
        assert row["position.title"] in titles


def test_extraction_is_complete_through_faults_and_a_token_that_expires_mid_run(workforce):
    faults = FaultConfig(rate=0.15, kinds=("500", "503", "429", "drop", "slow"), slow_s=0.02, retry_after_s=0,
                         seed=5)
    with serve_huma(workforce.huma_users, faults=faults) as huma:
        transport = expire_tokens_at(huma.url, 60, 250)

        async def extract():
            async with client(huma.url, transport=transport) as c:
                employees = await c.fetch_employees()
                return employees, c.session.tokens.renewals

        employees, renewals = run(extract())

    assert [e["user"]["id"] for e in employees] == expected_ids(workforce)
    assert all(e["user"]["email"]["value"] for e in employees)
    assert {"500", "503", "429", "drop"} <= set(faults.counts)  # the faults really happened
    assert transport.statuses[401] >= 1  # the expiry was noticed by at least one request ...
    assert renewals == 3  # ... and each expiry renewed the token once, however many requests saw it


def test_extract_huma_gives_one_row_per_user_in_huma_columns(workforce):
    with serve_huma(workforce.huma_users[:30]) as huma:
        rows = extract_huma(client(huma.url))
    assert [r["id"] for r in rows] == expected_ids(workforce)[:30]
    assert all(tuple(r) == HUMA_COLUMNS for r in rows)


def test_wrong_credentials_raise_authentication_error_with_humas_message_and_no_secret(workforce, caplog):
    caplog.set_level(logging.DEBUG, logger="humacrona.connectors")
    wrong_secret = str(uuid.uuid4())

    async def attempt(url):
        c = HumaClient(url, HUMA_ID, wrong_secret, retry=FAST_RETRY)
        async with c:
            try:
                await c.list_users()
            except AuthenticationError as exc:
                return c, exc
        raise AssertionError("wrong credentials were accepted")

    with serve_huma(workforce.huma_users[:3]) as huma:
        c, error = run(attempt(huma.url))

    assert error.status == 401 and error.code == "invalid_client"
    assert "Bad client credentials" in str(error)
    for text in (str(error), repr(error), repr(c), caplog.text):
        assert wrong_secret not in text and HUMA_SECRET not in text
    assert error.attempts == 1  # refused credentials are not retried


def test_refused_data_raises_request_rejected_with_the_fields_huma_names(workforce):
    user = workforce.huma_users[0]
    other = workforce.huma_users[1]

    async def scenario(url):
        async with client(url) as c:
            with pytest.raises(RequestRejectedError) as bad_country:
                await c.patch_user(user["id"], {"homeAddress": {
                    "line1": "Storgatan 1", "line2": "", "line3": "", "postalCode": "111 22", "city": "Stockholm",
                    "country": "Sverige"}})
            with pytest.raises(RequestRejectedError) as taken_email:
                await c.patch_user(user["id"], {"email": other["email"]})
            with pytest.raises(NotFoundError) as missing:
                await c.get_user(str(uuid.uuid4()))
            return bad_country.value, taken_email.value, missing.value

    with serve_huma(workforce.huma_users[:5]) as huma:
        bad_country, taken_email, missing = run(scenario(huma.url))

    assert bad_country.status == 400 and bad_country.fields == ("homeAddress.country",)
    assert bad_country.code and bad_country.code.startswith("field:")
    assert "homeAddress.country" in str(bad_country)
    assert taken_email.fields == ("email",) and taken_email.code == "field:not-unique"
    assert missing.status == 404 and missing.code == "object:not-found"


def new_user(n: int, group_id: str) -> dict:
    return {"givenName": "Test", "familyName": f"Person{n}", "email": f"test.person{n}@nordljus.se",
            "groups": [group_id]}


def test_a_create_is_not_repeated_after_a_server_error_or_a_dropped_connection(workforce):
    faults = FaultConfig(rate=0.0, kinds=("500",), exempt_prefixes=NOT_THE_TOKEN)
    with serve_huma(workforce.huma_users[:3], faults=faults) as huma:
        transport = WatchingTransport()

        async def scenario():
            async with client(huma.url, transport=transport) as c:
                group = (await c.list_groups())[0]["id"]
                faults.rate = 1.0
                with pytest.raises(ServerError) as server_error:
                    await c.create_user(new_user(1, group))
                faults.kinds = ("drop",)
                with pytest.raises(NoAnswerError) as dropped:
                    await c.create_user(new_user(2, group))
                faults.rate = 0.0
                return server_error.value, dropped.value, await c.list_users()

        server_error, dropped, users = run(scenario())

    assert transport.count("POST", "/users") == 2  # one each: neither create was sent twice
    assert server_error.status == 500 and server_error.outcome_unknown
    assert dropped.outcome_unknown and "may have been applied" in str(dropped)
    # Why: the dropped create WAS applied. A blind retry would have made a second user.
    assert "test.person2@nordljus.se" in {u["email"] for u in users}


def test_reads_and_patches_are_repeated_after_server_errors_up_to_the_attempts_allowed(workforce):
    faults = FaultConfig(rate=1.0, kinds=("500",), exempt_prefixes=NOT_THE_TOKEN)
    sleep = FakeSleep()
    policy = RetryPolicy(attempts=4, sleep=sleep)
    user = workforce.huma_users[0]
    with serve_huma(workforce.huma_users[:3], faults=faults) as huma:
        transport = WatchingTransport()

        async def scenario():
            async with client(huma.url, transport=transport, retry=policy) as c:
                with pytest.raises(ServerError) as read:
                    await c.get_user(user["id"])
                with pytest.raises(ServerError):
                    await c.patch_user(user["id"], {"givenName": "Changed"})
                return read.value

        error = run(scenario())

    assert transport.count("GET", f"/users/{user['id']}") == 4
    assert transport.count("PATCH", f"/users/{user['id']}") == 4
    assert error.attempts == 4 and not error.outcome_unknown
    assert "after 4 attempts" in str(error)
    assert len(sleep.delays) == 6 and all(0 <= d <= policy.max_delay_s for d in sleep.delays)


def test_a_create_is_repeated_after_429_and_the_user_is_created_once(workforce):
    faults = FaultConfig(rate=1.0, kinds=("429",), retry_after_s=0, exempt_prefixes=NOT_THE_TOKEN)
    with serve_huma(workforce.huma_users[:3], faults=faults) as huma:

        async def stop_limiting_after_first_429(n, request):
            if request.method == "POST" and request.url.path == "/users" and transport.count("POST", "/users") == 2:
                faults.rate = 0.0  # the first POST got its 429; the repeated one goes through

        transport = WatchingTransport(stop_limiting_after_first_429)

        async def scenario():
            faults.rate = 0.0
            async with client(huma.url, transport=transport) as c:
                group = (await c.list_groups())[0]["id"]
                faults.rate = 1.0
                created = await c.create_user(new_user(3, group))
                return created, await c.list_users()

        created, users = run(scenario())

    assert transport.count("POST", "/users") == 2
    assert transport.statuses[429] == 1
    assert [u["email"] for u in users].count("test.person3@nordljus.se") == 1
    assert created["email"] == "test.person3@nordljus.se"


def test_retry_after_is_honoured_and_a_long_one_is_not_waited_out(workforce):
    sleep = FakeSleep()
    policy = RetryPolicy(attempts=3, sleep=sleep, max_retry_after_s=60)
    faults = FaultConfig(rate=1.0, kinds=("429",), retry_after_s=7, exempt_prefixes=NOT_THE_TOKEN)
    with serve_huma(workforce.huma_users[:3], faults=faults) as huma:

        async def scenario():
            async with client(huma.url, retry=policy) as c:
                with pytest.raises(RateLimitedError) as limited:
                    await c.list_users()
                delays = list(sleep.delays)
                faults.kinds = ("503",)
                with pytest.raises(ServerError):
                    await c.get_user(workforce.huma_users[0]["id"])
                delays_503 = sleep.delays[len(delays):]
                faults.retry_after_s = 300
                faults.kinds = ("429",)
                with pytest.raises(RateLimitedError) as too_long:
                    await c.list_users()
                return limited.value, delays, delays_503, too_long.value

        limited, delays, delays_503, too_long = run(scenario())

    assert delays == [7.0, 7.0]  # Retry-After, not the exponential back-off
    assert delays_503 == [7.0, 7.0]
    assert limited.attempts == 3 and limited.retry_after_s == 7.0
    assert too_long.attempts == 1 and too_long.retry_after_s == 300.0  # gave up instead of waiting 5 minutes


@pytest.mark.parametrize("concurrency", [1, 4])
def test_no_more_requests_are_in_flight_than_the_concurrency_allows(workforce, concurrency):
    faults = FaultConfig(latency_ms=3)  # every answer takes a moment, so requests do overlap
    with serve_huma(workforce.huma_users[:60], faults=faults) as huma:
        transport = WatchingTransport()

        async def extract():
            async with client(huma.url, transport=transport, concurrency=concurrency) as c:
                return await c.fetch_employees()

        employees = run(extract())

    assert len(employees) == 60
    assert transport.max_in_flight == concurrency  # used fully, never exceeded


def test_job_titles_and_groups(workforce):
    async def scenario(url):
        async with client(url) as c:
            titles = await c.list_job_titles()
            created = await c.create_job_title("Integrationsansvarig", "Äger kopplingen Huma–Crona")
            with pytest.raises(RequestRejectedError) as duplicate:
                await c.create_job_title("Integrationsansvarig")
            found = await c.list_job_titles(search="integrationsansv")
            groups = await c.list_groups()
            return titles, created, duplicate.value, found, groups

    with serve_huma(workforce.huma_users[:20]) as huma:
        titles, created, duplicate, found, groups = run(scenario(huma.url))

    seeded_titles = {p["title"] for u in workforce.huma_users[:20] for p in u["positions"] if p["title"]}
    assert seeded_titles <= {t["name"] for t in titles}
    assert created["name"] == "Integrationsansvarig" and created["id"]
    assert duplicate.fields == ("name",)
    assert [t["id"] for t in found] == [created["id"]]
    assert len(groups) >= 1 and all(g["id"] and g["name"] for g in groups)


def test_positions_can_be_created_and_changed(workforce):
    user = next(u for u in workforce.huma_users if u["positions"])

    async def scenario(url):
        async with client(url) as c:
            title = await c.create_job_title("Löneadministratör")
            created = await c.create_position(user["id"], {
                "contractStartDate": "2030-01-01", "contractType": "Permanent", "titleId": title["id"]})
            changed = await c.patch_position(user["id"], created["id"], {"contractEndDate": "2030-12-31"})
            return created, changed, await c.list_positions(user["id"])

    with serve_huma(workforce.huma_users[:10]) as huma:
        created, changed, positions = run(scenario(huma.url))

    assert changed["contractEndDate"]["value"] == "2030-12-31"
    listed = next(p for p in positions if p["id"] == created["id"])
    assert listed["status"] == "UPCOMING" and listed["title"]["name"] == "Löneadministratör"


def test_using_the_client_outside_async_with_is_a_clear_error():
    async def scenario():
        await HumaClient("http://127.0.0.1:9", HUMA_ID, HUMA_SECRET).list_users()

    with pytest.raises(RuntimeError, match="async with"):
        run(scenario())
