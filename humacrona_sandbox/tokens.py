"""Bearer tokens that expire, as both real services issue them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from enum import Enum


class TokenState(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


class TokenIssuer:
    def __init__(self, lifetime_s: float, clock: Callable[[], float] = time.monotonic):
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        self._expiry[token] = self._clock() + self.lifetime_s
        return token

    @property
    def expires_in(self) -> int:
        """Seconds as the APIs report them (at least 1)."""
        return max(1, int(self.lifetime_s))

    def check(self, token: str | None) -> TokenState:
        expiry = self._expiry.get(token or "")
        if expiry is None:
            return TokenState.UNKNOWN
        if self._clock() >= expiry:
            return TokenState.EXPIRED
        return TokenState.VALID

    def revoke(self, token: str) -> None:
        self._expiry.pop(token, None)

    def expire_all(self) -> None:
        """Let every issued token expire now (tests of refresh in the middle of a run)."""
        now = self._clock()
        for token in self._expiry:
            self._expiry[token] = now


def bearer_token(headers) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
