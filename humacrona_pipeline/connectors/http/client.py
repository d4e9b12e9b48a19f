"""The base of the Huma and Crona clients, so that each states only its own API: paths, token call, error
shape."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from .retry import RetryPolicy
from .session import ApiSession
from .tokens import TokenManager


class SessionClient:
    """Lifecycle the Huma and Crona clients share: one `ApiSession`, a `TokenManager` fed by the
    subclass's own `_obtain_token(previous)`, `async with` support and a repr that never shows a secret."""

    system: str = "API"

    def __init__(
        self,
        base_url: str,
        *,
        parse_error: Callable,
        concurrency: int,
        timeout_s: float,
        retry: RetryPolicy | None,
        transport: httpx.AsyncBaseTransport | None,
    ):
        self.concurrency = concurrency
        self._session = ApiSession(
            self.system, base_url, parse_error=parse_error, retry=retry or RetryPolicy(),
            timeout_s=timeout_s, concurrency=concurrency, transport=transport,
        )

    @property
    def base_url(self) -> str:
        return self._session.base_url

    @property
    def session(self) -> ApiSession:
        return self._session

    async def __aenter__(self):
        self._session.tokens = TokenManager(self._obtain_token, system=self.system)
        await self._session.__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._session.__aexit__(*exc)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, concurrency={self.concurrency})"
