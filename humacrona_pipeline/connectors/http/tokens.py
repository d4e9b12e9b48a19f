"""Bearer tokens that renew themselves: shortly before they expire, and once (not once per request) after
a 401, so that many concurrent calls do not each fetch a token."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("humacrona.connectors")


class AccessToken:
    """A bearer token and when to renew it; `repr` hides the token."""

    __slots__ = ("value", "expires_in_s", "renew_at", "refresh_token")

    def __init__(self, value: str, expires_in_s: float | None, *, refresh_token: str | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if not value:
            raise ValueError("the token answer holds no access token")
        self.value = value
        self.expires_in_s = expires_in_s
        self.refresh_token = refresh_token
        # Renew a little before the service would refuse it: 10% of the lifetime, at most a minute.
        if expires_in_s is None:
            self.renew_at = math.inf
        else:
            self.renew_at = clock() + expires_in_s - min(60.0, 0.1 * expires_in_s)

    def __repr__(self) -> str:
        return f"AccessToken('***', expires_in_s={self.expires_in_s})"


class TokenManager:
    """Holds the current token; obtains one lazily, renews it shortly before it expires and, after a
    401, exactly once however many requests saw that 401 (a generation counter tells a request whether
    somebody already renewed the token it used)."""

    def __init__(self, obtain: Callable[[AccessToken | None], Awaitable[AccessToken]],
                 clock: Callable[[], float] = time.monotonic, system: str = ""):
        self._obtain = obtain
        self.system = system
        self._clock = clock
        self._token: AccessToken | None = None
        self._generation = 0
        self._accepted = 0
        self._lock = asyncio.Lock()
        self.renewals = 0

    @property
    def generation(self) -> int:
        return self._generation

    def accepted(self, generation: int) -> None:
        """A call succeeded with the token of `generation`: the credentials behind it are good."""
        if generation > self._accepted:
            self._accepted = generation

    def was_accepted(self, generation: int) -> bool:
        return self._accepted >= generation

    async def current(self) -> tuple[str, int]:
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token.value, self._generation
        return await self._renew(self._generation, forced=False)

    async def renew_after_rejection(self, generation: int) -> tuple[str, int]:
        """The token of `generation` was refused: renew it, unless another request already did."""
        return await self._renew(generation, forced=True)

    async def _renew(self, seen_generation: int, forced: bool) -> tuple[str, int]:
        async with self._lock:
            token = self._token
            if token is not None and self._generation != seen_generation:
                return token.value, self._generation  # renewed while we waited for the lock
            if token is not None and not forced and self._clock() < token.renew_at:
                return token.value, self._generation
            self._token = await self._obtain(token)
            self._generation += 1
            self.renewals += 1
            log.info("%s: obtained a new access token (generation %d)", self.system or "API", self._generation)
            return self._token.value, self._generation

    def __repr__(self) -> str:
        return f"TokenManager(generation={self._generation})"
