"""How often and how long a failed call is tried again, and which failures are retried at all.

- 429 is retried for every call: the service refused the request before processing it.
- 5xx, timeouts while waiting for the answer and dropped connections are retried only for idempotent
  calls (GET, PUT, PATCH with absolute values, DELETE, token requests). A create (POST) may have been
  applied before the answer was lost, and a blind retry would create the employee twice; it is raised
  with ``outcome_unknown=True`` so that the caller can check whether it exists before trying again.
- A connection that could not be opened at all (nothing was sent) is retried for every call, unless the
  server's TLS certificate failed verification (it fails again; `connectors.problems` says so in one line).
- A 401 renews the token (one renewal for any number of concurrent 401s) and repeats the call; a
  freshly obtained token that is refused as well raises AuthenticationError.

`session.ApiSession` applies these rules; this module holds the policy's numbers.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Exponential back-off with full jitter (a random delay between
    0 and min(max_delay_s, base_delay_s * 2**(attempt-1))) spreads concurrent retries out; a
    Retry-After sent with 429/503 is honoured instead, up to `max_retry_after_s`.

    `sleep` and `jitter` are injectable so that tests can check delays without waiting."""

    attempts: int = 6
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    max_retry_after_s: float = 120.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep, repr=False, compare=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False, compare=False)

    def __post_init__(self):
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def backoff_s(self, attempt: int) -> float:
        """Delay after failed attempt number `attempt` (1-based) when the service gave no Retry-After."""
        cap = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return self.jitter(0.0, cap)

    def delay_s(self, attempt: int, retry_after_s: float | None) -> float | None:
        """The wait before the next attempt, or None when the service asks for more than we wait."""
        if retry_after_s is None:
            return self.backoff_s(attempt)
        return retry_after_s if retry_after_s <= self.max_retry_after_s else None


def parse_retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
