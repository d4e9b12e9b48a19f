"""The shared HTTP machinery on its own: retry delays, Retry-After, token renewal, paging a list that
moves, and errors that are readable and safe to show."""

from __future__ import annotations

import asyncio
import pickle
from datetime import UTC, datetime

import pytest

from humacrona_pipeline.connectors.http import (
    AccessToken,
    ApiError,
    AuthenticationError,
    ConflictError,
    ListingChangedError,
    Page,
    RequestRejectedError,
    RetryPolicy,
    Secret,
    TokenManager,
    collect_pages,
    error_class,
    parse_retry_after,
    run_bounded,
)

# ----------------------------------------------------------------------------------------- retry policy


def test_backoff_grows_exponentially_up_to_the_cap_with_full_jitter():
    seen = []

    def upper_bound(low, high):
        seen.append((low, high))
        return high

    policy = RetryPolicy(base_delay_s=0.25, max_delay_s=8.0, jitter=upper_bound)
    assert [policy.backoff_s(n) for n in range(1, 8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert all(low == 0.0 for low, _ in seen)  # full jitter: anywhere between 0 and the cap


def test_retry_after_replaces_the_backoff_unless_it_is_longer_than_the_policy_waits():
    policy = RetryPolicy(max_retry_after_s=60, jitter=lambda low, high: high)
    assert policy.delay_s(1, 7.0) == 7.0
    assert policy.delay_s(1, 0.0) == 0.0
    assert policy.delay_s(1, None) == 0.25
    assert policy.delay_s(1, 61.0) is None


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", now=lambda: now) == 30.0
    assert parse_retry_after("Sat, 01 Mar 2025 11:59:00 GMT", now=lambda: now) == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_policy_needs_at_least_one_attempt():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


# ---------------------------------------------------------------------------------------------- tokens


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_is_fetched_lazily_and_renewed_shortly_before_it_expires():
    clock = Clock()
    obtained = []

    async def obtain(previous):
        obtained.append(previous)
        return AccessToken(f"t{len(obtained)}", 100, clock=clock)

    async def scenario():
        tokens = TokenManager(obtain, clock=clock)
        assert obtained == []
        assert (await tokens.current())[0] == "t1"
        clock.now += 80  # well inside the lifetime
        assert (await tokens.current())[0] == "t1"
        clock.now += 15  # 95 s: within the last 10% of 100 s
        assert (await tokens.current())[0] == "t2"
        return tokens

    tokens = asyncio.run(scenario())
    assert tokens.renewals == 2
    assert obtained[1] is not None and obtained[1].value == "t1"  # the renewal sees the old token


def test_many_concurrent_rejections_of_one_token_renew_it_once():
    obtained = []

    async def obtain(previous):
        obtained.append(previous)
        await asyncio.sleep(0.01)  # the renewal takes a while; the others must wait for it, not repeat it
        return AccessToken(f"t{len(obtained)}", 3600)

    async def scenario():
        tokens = TokenManager(obtain)
        _, generation = await tokens.current()
        renewed = await asyncio.gather(*(tokens.renew_after_rejection(generation) for _ in range(20)))
        return renewed

    renewed = asyncio.run(scenario())
    assert len(obtained) == 2
    assert {token for token, _ in renewed} == {"t2"}


def test_access_token_and_secret_never_show_their_value():
    token = AccessToken("eyJhbGciOi-secret-token", 60, refresh_token="refresh-secret")
    secret = Secret("client-secret-value")
    for text in (repr(token), str(token), repr(secret), str(secret), f"{secret}"):
        assert "secret" not in text.replace("Secret(", "")
    assert secret.reveal() == "client-secret-value"


# ---------------------------------------------------------------------------------------------- paging


def pages_of(items, size, total=None):
    """A fetch_page over a list, the way a service pages it at the moment of the call."""

    async def fetch(index, page_size):
        window = items[index * page_size:(index + 1) * page_size]
        return Page([dict(x) for x in window], len(items) if total is None else total)

    return fetch


def ids(items):
    return [x["id"] for x in items]


def test_pages_are_read_completely_in_list_order():
    items = [{"id": n} for n in range(123)]
    result = asyncio.run(collect_pages(pages_of(items, 10), page_size=10, key=lambda x: x["id"], workers=4,
                                       system="Test", path="/things"))
    assert ids(result) == list(range(123))


def test_a_list_that_moves_while_it_is_read_still_gives_every_item_exactly_once():
    """An item deleted at the front after the first page shifts the rest one place back: the second
    page skips an item. The pages disagree on the total, so the list is read again."""
    items = [{"id": n} for n in range(30)]
    calls = []

    async def fetch(index, size):
        calls.append(index)
        if len(calls) == 2:  # between the first and the second page, item 3 leaves
            del items[3]
        window = items[index * size:(index + 1) * size]
        return Page([dict(x) for x in window], len(items))

    result = asyncio.run(collect_pages(fetch, page_size=10, key=lambda x: x["id"], workers=1,
                                       system="Test", path="/things"))
    assert ids(result) == [x["id"] for x in items]  # item 10 (moved onto page one) is there, 3 is not
    assert 10 in ids(result) and 3 not in ids(result)


def test_duplicates_from_a_shifting_list_are_removed():
    items = [{"id": n} for n in range(25)]
    calls = []

    async def fetch(index, size):
        calls.append(index)
        if len(calls) == 2:  # an item is inserted at the front: the next page repeats one
            items.insert(0, {"id": 99})
        window = items[index * size:(index + 1) * size]
        return Page([dict(x) for x in window], 25 if len(calls) == 1 else len(items))

    result = asyncio.run(collect_pages(fetch, page_size=10, key=lambda x: x["id"], workers=1,
                                       system="Test", path="/things"))
    assert sorted(ids(result)) == sorted(x["id"] for x in items)


def test_a_list_that_never_stops_moving_is_an_error_not_a_partial_answer():
    counter = {"n": 0}

    async def fetch(index, size):
        counter["n"] += 1
        return Page([{"id": 1}], 2)  # claims two items, only ever shows the same one

    with pytest.raises(ListingChangedError) as raised:
        asyncio.run(collect_pages(fetch, page_size=1, key=lambda x: x["id"], workers=1, system="Test",
                                  path="/things", passes=3))
    assert "kept changing" in str(raised.value)


def test_a_list_without_a_total_is_read_to_the_first_short_page():
    items = [{"id": n} for n in range(21)]

    async def fetch(index, size):
        return Page(items[index * size:(index + 1) * size], None)

    result = asyncio.run(collect_pages(fetch, page_size=10, key=lambda x: x["id"], workers=4,
                                       system="Test", path="/things"))
    assert ids(result) == list(range(21))


def test_a_service_that_pages_smaller_than_asked_is_followed():
    items = [{"id": n} for n in range(47)]

    async def fetch(index, size):
        size = min(size, 10)  # the service caps the page at 10 whatever we ask for
        return Page(items[index * size:(index + 1) * size], len(items))

    result = asyncio.run(collect_pages(fetch, page_size=50, key=lambda x: x["id"], workers=4,
                                       system="Test", path="/things"))
    assert ids(result) == list(range(47))


def test_run_bounded_keeps_order_and_raises_the_first_failure_itself():
    async def double(n):
        await asyncio.sleep(0.001 * (n % 3))
        return 2 * n

    assert asyncio.run(run_bounded(range(10), double, 3)) == [2 * n for n in range(10)]

    async def fail_on_five(n):
        if n == 5:
            raise RequestRejectedError("Test", 422, "POST", "/x", message="five is refused")
        return n

    with pytest.raises(RequestRejectedError, match="five is refused"):
        asyncio.run(run_bounded(range(10), fail_on_five, 3))


# ---------------------------------------------------------------------------------------------- errors


def test_error_is_one_readable_line_and_survives_pickling():
    error = RequestRejectedError("Crona", 422, "PATCH", "/api/v1/anstallda/1001", {"fel": {}},
                                 "valideringsfel", ["Land"], message="'Sverige' is not an ISO code")
    text = str(error)
    assert "\n" not in text
    assert text == ("Crona PATCH /api/v1/anstallda/1001: HTTP 422 valideringsfel 'Sverige' is not an ISO code "
                    "(fields: Land)")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RequestRejectedError and str(copy) == text and copy.fields == ("Land",)


def test_status_codes_map_to_the_error_a_caller_acts_on():
    assert error_class(401) is AuthenticationError
    assert error_class(409) is ConflictError and issubclass(ConflictError, RequestRejectedError)
    assert error_class(400) is RequestRejectedError and error_class(422) is RequestRejectedError
    assert error_class(418) is ApiError
