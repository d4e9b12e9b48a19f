"""HTTP machinery shared by the Huma and Crona clients: typed errors, the retry policy, bearer tokens
that renew themselves, a bounded number of requests in flight, and paging that notices a list
changing under it.

This module knows nothing about either API (no paths, no field names, no error shapes): each client
passes in how its own API spells an error (`ErrorParser`) and how it obtains a token.

Retry rules, and why:
- 429 is retried for every call: the service refused the request before processing it.
- 5xx, timeouts while waiting for the answer and dropped connections are retried only for idempotent
  calls (GET, PUT, PATCH with absolute values, DELETE, token requests). A create (POST) may have been
  applied before the answer was lost, and a blind retry would create the employee twice; it is raised
  with ``outcome_unknown=True`` so that the caller can check whether it exists before trying again.
- A connection that could not be opened at all (nothing was sent) is retried for every call, unless the
  server's TLS certificate failed verification (it fails again; `connectors.problems` says so in one line).
- A 401 renews the token (one renewal for any number of concurrent 401s) and repeats the call; a
  freshly obtained token that is refused as well raises AuthenticationError.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx

log = logging.getLogger("humacrona.connectors")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})

# Failures where the request never left this machine: safe to retry whatever the method.
_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that are this program's fault (bad URL, invalid header): retrying cannot help.
_NOT_TRANSIENT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)

T = TypeVar("T")
R = TypeVar("R")


# --------------------------------------------------------------------------------------------- secrets


class Secret:
    """A credential that does not show itself: `repr`/`str` print a placeholder, `reveal()` the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str) or not value:
            raise ValueError("a credential must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# ---------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorDetails:
    """What an API's own error body says, in the API's own words."""

    code: str | None = None
    message: str | None = None
    fields: tuple[str, ...] = ()


ErrorParser = Callable[[int, Any], ErrorDetails]


class ApiError(Exception):
    """A call to Huma or Crona failed. `str()` is one line with the API's own message, never a secret."""

    def __init__(
        self,
        system: str,
        status: int | None,
        method: str,
        path: str,
        body: Any = None,
        code: str | None = None,
        fields: Sequence[str] = (),
        *,
        message: str | None = None,
        attempts: int = 1,
        outcome_unknown: bool = False,
        retry_after_s: float | None = None,
        base_url: str | None = None,
    ):
        self.system = system
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.code = code
        self.fields = tuple(fields)
        self.message = message
        self.attempts = attempts
        self.outcome_unknown = outcome_unknown
        self.retry_after_s = retry_after_s
        self.base_url = base_url  # where the call went (connection problems name it; never holds a secret)
        super().__init__(self._summary())

    def _summary(self) -> str:
        where = f"{self.system} {self.method} {self.path}"
        what = f"HTTP {self.status}" if self.status is not None else "no answer"
        text = " ".join(part for part in (self.code, self.message) if part)
        line = f"{where}: {what}" + (f" {text}" if text else "")
        line = " ".join(line.split())  # one line, whatever the API put in its message
        if self.fields:
            line += f" (fields: {', '.join(self.fields)})"
        if self.attempts > 1:
            line += f" after {self.attempts} attempts"
        if self.outcome_unknown:
            line += "; the request may have been applied, check before repeating it"
        return line

    def converted(self, cls: type[ApiError]) -> ApiError:
        """The same failure as another error class (e.g. a refused token request as AuthenticationError)."""
        return cls(**_error_state(self))

    def __reduce__(self):  # picklable across Dagster's process boundary, whatever the subclass
        return (_rebuild_error, (type(self), _error_state(self)))


def _error_state(error: ApiError) -> dict:
    return {
        "system": error.system, "status": error.status, "method": error.method, "path": error.path,
        "body": error.body, "code": error.code, "fields": error.fields, "message": error.message,
        "attempts": error.attempts, "outcome_unknown": error.outcome_unknown,
        "retry_after_s": error.retry_after_s, "base_url": error.base_url,
    }


def _rebuild_error(cls: type[ApiError], state: dict) -> ApiError:
    return cls(**state)


class AuthenticationError(ApiError):
    """The credentials were refused, or a fresh token was still refused (401 after a renewal)."""


class ForbiddenError(ApiError):
    """403: the credentials are good but lack a permission this call needs."""


class NotFoundError(ApiError):
    """404: the object does not exist."""


class RequestRejectedError(ApiError):
    """400/409/422: the API refused the data; `code`, `fields` and `message` say why, in its words."""


class ConflictError(RequestRejectedError):
    """409: the object already exists (e.g. an AnstNr that is taken)."""


class RateLimitedError(ApiError):
    """429 on every attempt, or a Retry-After longer than the policy is willing to wait."""


class ServerError(ApiError):
    """5xx after the retries the policy allows (none for a create)."""


class TransportError(ApiError):
    """No answer: the connection failed, timed out or was dropped, after the retries allowed."""


class ListingChangedError(ApiError):
    """A paged list kept changing while it was read, so no consistent complete list was obtained."""


def error_class(status: int) -> type[ApiError]:
    if status == 401:
        return AuthenticationError
    if status == 403:
        return ForbiddenError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status in (400, 422):
        return RequestRejectedError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return ApiError


# ------------------------------------------------------------------------------------------ retry policy


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
        when = when.replace(tzinfo=timezone.utc)
    current = now() if now else datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


# ---------------------------------------------------------------------------------------------- tokens


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


# --------------------------------------------------------------------------------------------- session


class ApiSession:
    """One API's HTTP connection pool plus the rules above. Open with `async with`."""

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

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        data: dict | None = None,
        idempotent: bool | None = None,
        authenticated: bool = True,
    ) -> Any:
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
            try:
                async with slots:
                    response = await client.request(method, path, params=params, json=json, data=data,
                                                     headers=headers)
            except _NOT_TRANSIENT:
                raise
            except httpx.TransportError as exc:
                nothing_sent = isinstance(exc, _NOTHING_SENT)
                if (idempotent or nothing_sent) and attempt < policy.attempts and not _certificate_refused(exc):
                    delay = policy.backoff_s(attempt)
                    log.warning("%s %s %s: %s, retrying in %.2f s (attempt %d/%d)", self.system, method,
                                path, type(exc).__name__, delay, attempt, policy.attempts)
                    await policy.sleep(delay)
                    continue
                raise TransportError(
                    self.system, None, method, path, code=type(exc).__name__, message=_describe(exc),
                    attempts=attempt, outcome_unknown=not nothing_sent and not idempotent, base_url=self.base_url,
                ) from exc

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

            retry_after = None
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            if (status == 429 or (status >= 500 and idempotent)) and attempt < policy.attempts:
                delay = policy.delay_s(attempt, retry_after)
                if delay is not None:
                    log.warning("%s %s %s: HTTP %d, retrying in %.2f s (attempt %d/%d)", self.system, method,
                                path, status, delay, attempt, policy.attempts)
                    await policy.sleep(delay)
                    continue
            log.log(logging.WARNING if status >= 500 or status == 429 else logging.DEBUG,
                    "%s %s %s: HTTP %d (attempt %d), giving up", self.system, method, path, status, attempt)
            raise self._error(response, method, path, attempt, idempotent, retry_after)

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


# ------------------------------------------------------------------------------------------ concurrency


async def run_bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]], workers: int) -> list[R]:
    """`fn(item)` for every item, at most `workers` at a time, results in input order. The first
    failure cancels the rest and is raised as it is (no ExceptionGroup to unwrap)."""
    items = list(items)
    results: list[Any] = [None] * len(items)
    if not items:
        return results
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:  # one shared iterator: no await between next() calls, so no races
            results[index] = await fn(item)

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(workers, len(items)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return results


# ------------------------------------------------------------------------------------------------ paging


@dataclass
class Page:
    items: list[dict]
    total: int | None


async def collect_pages(
    fetch_page: Callable[[int, int], Awaitable[Page]],
    *,
    page_size: int,
    key: Callable[[dict], Any],
    workers: int,
    system: str,
    path: str,
    passes: int = 3,
) -> list[dict]:
    """Every item of a paged list exactly once, in list order.

    `fetch_page(index, size)` reads page `index` (0-based) of `size` items. The first page gives the
    total; the remaining pages are read concurrently. If the list changed while it was read (pages
    disagree about the total, an item shows up twice, or fewer items than the total came back) the
    whole list is read again, since an item may have moved onto a page that was already read; a
    consistent pass is what is returned. A list without a total is read page by page to a short page.

    Offset paging has no snapshot: one item leaving and another arriving between two page reads
    leaves the count, the total and the pages unchanged, and cannot be seen from here. Reading a list
    while it is written to is therefore best effort; a sync compares against a fresh read anyway.
    """
    for number in range(1, passes + 1):
        pages = await _read_pass(fetch_page, page_size, workers)
        items, consistent = _merge(pages, key)
        if consistent:
            return items
        log.info("%s %s changed while it was read (pass %d of %d); reading it again", system, path, number,
                 passes)
    raise ListingChangedError(system, None, "GET", path,
                              message=f"the list kept changing while it was read ({passes} passes); try again")


async def _read_pass(fetch_page, page_size: int, workers: int) -> list[Page]:
    first = await fetch_page(0, page_size)
    pages = [first]
    size = page_size
    if first.total is None:
        while len(pages[-1].items) >= size:
            pages.append(await fetch_page(len(pages), size))
        return pages
    if 0 < len(first.items) < min(size, first.total):
        size = len(first.items)  # the service caps the page size below what we asked for: follow it
    planned = math.ceil(first.total / size) if size else 1
    pages += await run_bounded(range(1, planned), lambda index: fetch_page(index, size), workers)
    # The list grew while it was read: keep going while pages are full and the total says there is more.
    while len(pages[-1].items) >= size and len(pages) * size < max(p.total or 0 for p in pages):
        pages.append(await fetch_page(len(pages), size))
    return pages


def _merge(pages: list[Page], key) -> tuple[list[dict], bool]:
    found: dict[Any, dict] = {}
    duplicates = 0
    unkeyed = 0
    for page in pages:
        for item in page.items:
            k = key(item)
            if k is None:  # cannot deduplicate what has no key; keep it and count it
                found[("__unkeyed__", unkeyed)] = item
                unkeyed += 1
            elif k in found:
                duplicates += 1
            else:
                found[k] = item
    totals = {p.total for p in pages}
    if None in totals:
        consistent = duplicates == 0
    else:
        consistent = duplicates == 0 and len(totals) == 1 and len(found) == pages[0].total
    return list(found.values()), consistent


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
