"""What the connector tests share: both sandboxes served over real HTTP, a transport wrapper that
watches what the clients send, and a fake sleep for retry delays."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx

from humacrona_pipeline.connectors.http import RetryPolicy
from humacrona_sandbox.crona_app import DEFAULT_CRONA_ACTIVATION_CODE, CronaSandbox, CronaSandboxSettings
from humacrona_sandbox.faults import FaultConfig
from humacrona_sandbox.huma_app import (
    DEFAULT_HUMA_CLIENT_ID,
    DEFAULT_HUMA_CLIENT_SECRET,
    HumaSandbox,
    HumaSandboxSettings,
)
from humacrona_sandbox.server import BackgroundServer
from humacrona_sandbox.store import Store

HUMA_ID = DEFAULT_HUMA_CLIENT_ID
HUMA_SECRET = DEFAULT_HUMA_CLIENT_SECRET
CRONA_CODE = DEFAULT_CRONA_ACTIVATION_CODE

# Retries that do not slow the suite down; the policy's shape (attempts, jitter) is tested separately.
FAST_RETRY = RetryPolicy(attempts=8, base_delay_s=0.005, max_delay_s=0.05)


def _asgi3(app):
    """Serve any ASGI 3 callable (a bound method included) with uvicorn's ASGI 3 interface."""

    async def asgi(scope, receive, send):
        await app(scope, receive, send)

    return asgi


@dataclass
class Served:
    sandbox: object
    url: str


@contextlib.contextmanager
def serve_huma(users: list[dict], *, settings: HumaSandboxSettings | None = None,
               faults: FaultConfig | None = None) -> Iterator[Served]:
    sandbox = HumaSandbox(Store(), settings, faults)
    sandbox.load_seed(users)
    with BackgroundServer(_asgi3(sandbox.app)) as server:
        yield Served(sandbox, server.url)


@contextlib.contextmanager
def serve_crona(employees: list[dict], *, settings: CronaSandboxSettings | None = None,
                faults: FaultConfig | None = None) -> Iterator[Served]:
    sandbox = CronaSandbox(Store(), settings, faults)
    sandbox.load_seed(employees)
    with BackgroundServer(_asgi3(sandbox.app)) as server:
        yield Served(sandbox, server.url)


class WatchingTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that records every request, the answers' statuses, and how many requests
    were in flight at once; `before(n, request)` runs before the n-th request (1-based) is sent."""

    def __init__(self, before: Callable[[int, httpx.Request], Awaitable[None]] | None = None):
        self.inner = httpx.AsyncHTTPTransport()
        self.before = before
        self.requests: list[tuple[str, str]] = []
        self.statuses: Counter[int] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if self.before is not None:
            await self.before(len(self.requests), request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1
        self.statuses[response.status_code] += 1
        return response

    async def admin_post(self, url: str) -> None:
        """POST to a sandbox admin endpoint over the same real transport (no token needed)."""
        response = await self.inner.handle_async_request(httpx.Request("POST", url))
        await response.aread()
        assert response.status_code == 200, response.status_code

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p == path)

    async def aclose(self) -> None:
        await self.inner.aclose()


def expire_tokens_at(base_url: str, *at: int, with_refresh_at: tuple[int, ...] = ()) -> WatchingTransport:
    """A transport that expires the sandbox's access tokens just before request number n (for n in
    `at`) is sent, and the refresh tokens as well before the requests in `with_refresh_at`."""

    async def before(n: int, request: httpx.Request) -> None:
        if n in at:
            await transport.admin_post(f"{base_url}/_sandbox/expire-tokens")
        if n in with_refresh_at:
            await transport.admin_post(f"{base_url}/_sandbox/expire-tokens?refresh=true")

    transport = WatchingTransport(before)
    return transport


class FakeSleep:
    """Records the delays a RetryPolicy asks for instead of waiting them out."""

    def __init__(self):
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
