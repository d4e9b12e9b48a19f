"""One API's connection pool with the retry rules of `retry` applied to every call, a bounded number of
requests in flight, and failures turned into the typed errors of `errors`. Knows nothing about either API:
each client passes in how its API spells an error (`ErrorParser`)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import httpx

from .errors import ApiError, ErrorDetails, ErrorParser, NoAnswerError, error_class
from .retry import IDEMPOTENT_METHODS, RetryPolicy, parse_retry_after
from .tokens import TokenManager

log = logging.getLogger("humacrona.connectors")

# Failures where the request never left this machine: safe to retry whatever the method.
_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that are this program's fault (bad URL, invalid header): retrying cannot help.
_NOT_TRANSIENT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)


class ApiSession:
    """One API's HTTP connection pool plus the rules of `retry`. Open with `async with`."""

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        parse_error: ErrorParser,
        retry: RetryPolicy,
        timeout_s: float,
        concurrency: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{system} base URL must start with http:// or https://, got {base_url!r}")
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.parse_error = parse_error
        self.retry = retry
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None
        self.tokens: TokenManager | None = None

    async def __aenter__(self) -> ApiSession:
        if self._client is not None:
            raise RuntimeError(f"the {self.system} session is already open")
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout_s),
            limits=limits,
            transport=self._transport,
            headers={"Accept": "application/json", "User-Agent": "humacrona"},
            follow_redirects=False,
        )
        self._slots = asyncio.Semaphore(self.concurrency)
        return self

    async def __aexit__(self, *exc) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    @property
    def is_open(self) -> bool:
        return self._client is not None

    async def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                      data: dict | None = None, idempotent: bool | None = None, authenticated: bool = True) -> Any:
        """Send one call with the retry rules; answer the decoded JSON body (None when empty)."""
        client, slots = self._client, self._slots
        if client is None or slots is None:
            raise RuntimeError(f"open the {self.system} client first: `async with {self.system}Client(...)`")
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        if authenticated and self.tokens is None:
            raise RuntimeError(f"the {self.system} session has no token source")
        policy = self.retry
        attempt = 0
        renewals = 0
        generation = 0
        while True:
            attempt += 1
            headers = None
            if authenticated:
                token, generation = await self.tokens.current()
                headers = {"Authorization": f"Bearer {token}"}
            response = await self._send(client, slots, method, path, attempt, idempotent, headers,
                                        params=params, json=json, data=data)
            if response is None:  # no answer, and the wait before the next attempt is over
                continue

            status = response.status_code
            if status < 300:
                if authenticated:
                    self.tokens.accepted(generation)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s %s -> %d (attempt %d)", self.system, method, path, status, attempt)
                return self._decode(response, method, path)

            # A 401 renews the token and repeats the call. A second 401 means the credentials are
            # refused, unless the token it refused had already worked for another call (it expired or
            # was revoked since, e.g. during a long run of retries): then renewing again is right.
            if status == 401 and authenticated and renewals < policy.attempts and (
                    renewals == 0 or self.tokens.was_accepted(generation)):
                renewals += 1
                attempt -= 1  # a refused token is not a failed attempt
                log.info("%s %s %s: 401, renewing the access token", self.system, method, path)
                await self.tokens.renew_after_rejection(generation)
                continue

            retry_after, delay = self._retry_delay(response, idempotent, attempt)
            if delay is not None:
                log.warning("%s %s %s: HTTP %d, retrying in %.2f s (attempt %d/%d)", self.system, method,
                            path, status, delay, attempt, policy.attempts)
                await policy.sleep(delay)
                continue
            log.log(logging.WARNING if status >= 500 or status == 429 else logging.DEBUG,
                    "%s %s %s: HTTP %d (attempt %d), giving up", self.system, method, path, status, attempt)
            raise self._error(response, method, path, attempt, idempotent, retry_after)

    async def _send(self, client: httpx.AsyncClient, slots: asyncio.Semaphore, method: str, path: str,
                    attempt: int, idempotent: bool, headers: dict | None, **content: Any) -> httpx.Response | None:
        """The answer to one attempt; None when it got no answer and the wait before the next attempt is over;
        `NoAnswerError` when no answer may be retried (or the attempts are spent)."""
        policy = self.retry
        try:
            async with slots:
                return await client.request(method, path, **content, headers=headers)
        except _NOT_TRANSIENT:
            raise
        except httpx.TransportError as exc:
            nothing_sent = isinstance(exc, _NOTHING_SENT)
            if (idempotent or nothing_sent) and attempt < policy.attempts and not _certificate_refused(exc):
                delay = policy.backoff_s(attempt)
                log.warning("%s %s %s: %s, retrying in %.2f s (attempt %d/%d)", self.system, method,
                            path, type(exc).__name__, delay, attempt, policy.attempts)
                await policy.sleep(delay)
                return None
            raise NoAnswerError(
                self.system, None, method, path, code=type(exc).__name__, message=_describe(exc),
                attempts=attempt, outcome_unknown=not nothing_sent and not idempotent, base_url=self.base_url,
            ) from exc

    def _retry_delay(self, response: httpx.Response, idempotent: bool,
                     attempt: int) -> tuple[float | None, float | None]:
        """(the answer's Retry-After, the wait before the next attempt): a 429, or a 5xx of a call that may be
        repeated, is tried again while attempts are left; the wait is None when it is not."""
        status = response.status_code
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        if (status == 429 or (status >= 500 and idempotent)) and attempt < self.retry.attempts:
            return retry_after, self.retry.delay_s(attempt, retry_after)
        return retry_after, None

    def _decode(self, response: httpx.Response, method: str, path: str) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(self.system, response.status_code, method, path,
                           message="answered with a body that is not JSON", base_url=self.base_url) from exc

    def _error(self, response: httpx.Response, method: str, path: str, attempts: int, idempotent: bool,
               retry_after: float | None) -> ApiError:
        status = response.status_code
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text[:500]
        try:
            details = self.parse_error(status, body)
        except Exception:  # an unexpected error shape must not hide the error itself
            details = ErrorDetails()
        if not details.message and isinstance(body, str) and body.strip():
            details = ErrorDetails(details.code, body.strip().splitlines()[0][:200], details.fields)
        cls = error_class(status)
        return cls(
            self.system, status, method, path, body, details.code, details.fields,
            message=details.message or response.reason_phrase or None,
            attempts=attempts,
            outcome_unknown=status >= 500 and not idempotent,
            retry_after_s=retry_after,
            base_url=self.base_url,
        )

    def __repr__(self) -> str:
        return f"ApiSession({self.system!r}, base_url={self.base_url!r}, concurrency={self.concurrency})"


def _certificate_refused(exc: httpx.TransportError) -> bool:
    """The server's TLS certificate failed verification: the same certificate fails again, so no retry."""
    return any(isinstance(c, ssl.SSLCertVerificationError) for c in _causes(exc)) \
        or "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _describe(exc: httpx.TransportError) -> str:
    """One line: the OS's reason when the transport hides it ("All connection attempts failed")."""
    if any(isinstance(c, ConnectionRefusedError) for c in _causes(exc)):
        return "connection refused"
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
