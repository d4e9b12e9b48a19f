"""The webhooks the Huma sandbox sends, the way Huma sends them (Huma's help pages; see the "Webhooks"
section of ``huma-api.md``): one JSON POST per event to every registered URL.

Registration: ``humacrona sandbox --webhook-url URL [--webhook-secret S] [--webhook-token T]
[--webhook-signature hex|base64]``, the admin endpoints ``POST/GET /_sandbox/webhooks`` and
``DELETE /_sandbox/webhooks/{id}``, or ``HumaSandbox.register_webhook``. Several may be registered; each
gets every event. Registrations are kept in memory only (a restarted sandbox has none but the command
line's).

What is sent:

- ``POST <url>`` with ``Content-Type: application/json``, header ``huma-topic`` equal to the body's
  ``topic``, ``huma-hmac-sha256`` (when a secret is set) holding the HMAC-SHA256 of the exact body bytes
  keyed by the secret, lower-case hex or standard base64 as the registration says (Huma's pages do not say
  which, so receivers should accept both), and ``Authorization: Bearer <token>`` when a token is set.
- The body: ``{"topic": "users-create" | "users-update" | "users-delete" | "users-export",
  "users": [...], "timestamp": "2025-01-31T12:00:00.000Z"}`` (UTC), compact UTF-8 JSON. A retry resends
  the same bytes (same timestamp, same signature), so a receiver can recognise a redelivery by its body.
- Each user (decisions where Huma's pages are silent, keys by their Open API names)::

      {"id", "email", "givenName", "familyName", "phone", "employmentId", "privateEmail",
       "homeAddress": {"line1", "line2", "line3", "postalCode", "city", "country"} | null,
       "bankAccount": {"type": "national", "number", "country"}
                    | {"type": "international", "iban", "bic"} | null,
       "position": {"id", "contractStartDate", "contractEndDate", "title"} | null}

  ``position`` is the user's main position (the current one that started last, else the next upcoming,
  else the one that ended last: what UserDetails' employment fields show), ``title`` its job title's name.
  The bank account is what Huma would send; a receiver should treat the event as a signal and read the
  user from the API.
- **An update carries the whole current user, not only the changed fields**: every key above is always
  present, ``null`` when the user has no value (so ``null`` means "no value now", never "unchanged").
  A create does the same. ``users-delete`` carries only the last known ``id`` and ``email``.
- Events: ``POST /users`` is a ``users-create``; ``PATCH /users/{id}`` a ``users-update``; creating,
  changing or deleting one of a user's positions a ``users-update`` of that user (with its state after the
  change); the HR-administrator changes of the admin endpoints ``PATCH /_sandbox/users/{id}`` (or
  ``?email=``) a ``users-update`` and ``DELETE /_sandbox/users/{id}`` a ``users-delete`` (the Open API
  cannot delete users). Every successful write sends one event, even one that changed nothing; a refused
  one sends none. ``POST /_sandbox/webhooks/export`` sends every user as ``users-export``, 100 users per
  request (``WebhookSettings.batch_size``), in the API's order.

Delivery: asynchronous, on one background thread with its own event loop (started with the first
registration), so an API call is never delayed or failed by a receiver. Events reach each registration in
the order they happened (one delivery at a time per registration; registrations do not wait for each
other). A connection error, a timeout or any answer other than 2xx is retried with exponential back-off
(0.5 s, 1 s, 2 s, 4 s; a ``Retry-After`` of a 429 or 503 is honoured, capped at ``backoff_max_s``), at most
``max_attempts`` (5) attempts in all; then the delivery is dropped and counted as ``failed``. Stopping the
sandbox (``HumaSandbox.close``) stops the thread: deliveries still queued or in flight are dropped and
counted as ``dropped``, as are those of a registration that is deleted. Counts per registration and in all
are in ``GET /_sandbox/webhooks`` and under ``webhooks`` in ``GET /_sandbox/stats``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from .huma_rules import ADDRESS_KEYS

if TYPE_CHECKING:
    from .huma_state import HumaDirectory

log = logging.getLogger(__name__)

USERS_CREATE, USERS_UPDATE, USERS_DELETE, USERS_EXPORT = "users-create", "users-update", "users-delete", "users-export"
TOPICS = (USERS_CREATE, USERS_UPDATE, USERS_DELETE, USERS_EXPORT)
SIGNATURES = ("hex", "base64")
TOPIC_HEADER = "huma-topic"
SIGNATURE_HEADER = "huma-hmac-sha256"
USER_KEYS = ("id", "email", "givenName", "familyName", "phone", "employmentId", "privateEmail", "homeAddress",
             "bankAccount", "position")
"""The keys of every user object of a create, update or export event, in this order."""
THREAD_NAME = "huma-sandbox-webhooks"


@dataclass(frozen=True)
class WebhookSettings:
    max_attempts: int = 5
    backoff_s: float = 0.5
    """Wait after the first failed attempt; doubled after each further one."""
    backoff_max_s: float = 8.0
    timeout_s: float = 5.0
    """Per attempt: connecting, sending and reading the answer."""
    batch_size: int = 100
    """Users per request of a users-export."""
    stop_timeout_s: float = 5.0

    def __post_init__(self):
        if self.max_attempts < 1 or self.batch_size < 1:
            raise ValueError("max_attempts and batch_size must be at least 1")
        if min(self.backoff_s, self.backoff_max_s, self.timeout_s, self.stop_timeout_s) < 0:
            raise ValueError("times must not be negative")


class WebhookError(ValueError):
    """A registration that cannot be made; ``field`` names the offending input."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


# ---------------------------------------------------------------- payloads


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _address(value: dict | None) -> dict | None:
    if not value:
        return None
    return {key: value.get(key) or None for key in ADDRESS_KEYS}


def _bank_account(value: dict | None) -> dict | None:
    if not value:
        return None
    keys = ("number", "country") if value.get("type") == "national" else ("iban", "bic")
    return {"type": value.get("type"), **{key: value.get(key) for key in keys}}


def _position(directory: HumaDirectory, user_id: str) -> dict | None:
    main = directory.main_position(user_id)
    if main is None:
        return None
    title = directory.job_titles.get(main.get("titleId") or "")
    return {"id": main["id"], "contractStartDate": main.get("contractStartDate"),
            "contractEndDate": main.get("contractEndDate"), "title": title["name"] if title else None}


def user_payload(directory: HumaDirectory, doc: dict) -> dict:
    """One user of a create, update or export event: the user's whole current state (see the module)."""
    return {
        "id": doc["id"],
        "email": doc["email"],
        "givenName": doc.get("givenName"),
        "familyName": doc.get("familyName"),
        "phone": doc.get("phone") or None,
        "employmentId": doc.get("employmentId") or None,
        "privateEmail": doc.get("privateEmail") or None,
        "homeAddress": _address(doc.get("homeAddress")),
        "bankAccount": _bank_account(doc.get("bankAccount")),
        "position": _position(directory, doc["id"]),
    }


def deleted_payload(doc: dict) -> dict:
    """One user of a users-delete event: the last known id and email."""
    return {"id": doc["id"], "email": doc["email"]}


def encode_event(topic: str, users: list[dict], timestamp: str | None = None) -> bytes:
    """The exact body bytes of one event (what the signature covers)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    body = {"topic": topic, "users": users, "timestamp": timestamp or _now()}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, body: bytes, signature: str = "hex") -> str:
    """``huma-hmac-sha256``: HMAC-SHA256 of ``body`` keyed by ``secret``, hex or base64."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return digest.hex() if signature == "hex" else base64.b64encode(digest).decode("ascii")


# ---------------------------------------------------------------- registrations


def _check_registration(url, secret, token, signature) -> str:
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("url", "url is required: the http(s) address the events are POSTed to")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url", f"url must be an http:// or https:// address, got {url!r}")
    for name, value in (("secret", secret), ("token", token)):
        if value is not None and (not isinstance(value, str) or not value):
            raise WebhookError(name, f"{name} must be a non-empty string when given")
    if token is not None and any(c in token for c in "\r\n"):
        raise WebhookError("token", "token cannot hold line breaks")
    if signature not in SIGNATURES:
        raise WebhookError("signature", f"signature must be one of {', '.join(SIGNATURES)}")
    return url


@dataclass
class Registration:
    id: str
    url: str
    secret: str | None
    token: str | None
    signature: str
    created_at: str
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    pending: int = 0
    attempts: int = 0
    last_error: str | None = None

    def public(self) -> dict:
        """What the admin endpoints show: never the secret or the token, only whether they are set."""
        return {
            "id": self.id, "url": self.url, "signature": self.signature,
            "secretSet": self.secret is not None, "tokenSet": self.token is not None,
            "createdAt": self.created_at, "sent": self.sent, "failed": self.failed, "dropped": self.dropped,
            "pending": self.pending, "attempts": self.attempts, "lastError": self.last_error,
        }


@dataclass(frozen=True)
class _Delivery:
    topic: str
    body: bytes


def _retry_after(response: httpx.Response) -> float | None:
    if response.status_code not in (429, 503):
        return None
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


class WebhookDispatcher:
    """Registrations, their delivery queues and the background thread that delivers them.

    Thread-safe: ``publish`` and the registration methods may be called from any thread (the server's
    event loop, a test, the runner); counters are guarded by one lock. Queues and the HTTP client live on
    the dispatcher's own event loop only."""

    def __init__(self, settings: WebhookSettings | None = None):
        self.settings = settings or WebhookSettings()
        self._cond = threading.Condition()
        self._registrations: dict[str, Registration] = {}
        self._every: dict[str, Registration] = {}  # also the deleted ones, whose counts stay in the totals
        self._totals = {"sent": 0, "failed": 0, "dropped": 0, "attempts": 0}
        self._events = 0
        self._pending = 0
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # on the dispatcher's loop only
        self._client: httpx.AsyncClient | None = None
        self._queues: dict[str, asyncio.Queue] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._stopping = False

    # ------------------------------------------------------------ public, any thread

    @property
    def active(self) -> bool:
        """Whether an event would be sent anywhere (callers skip building payloads otherwise)."""
        return bool(self._registrations)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def register(self, url: str, secret: str | None = None, token: str | None = None,
                 signature: str = "hex") -> str:
        url = _check_registration(url, secret, token, signature)
        registration = Registration(uuid.uuid4().hex, url, secret, token, signature, _now())
        with self._cond:
            if self._closed:
                raise RuntimeError("the sandbox's webhook sender is stopped")
            self._start_locked()
            self._registrations[registration.id] = registration
            self._every[registration.id] = registration
            self._loop.call_soon_threadsafe(self._open_worker, registration)
        return registration.id

    def unregister(self, registration_id: str) -> None:
        """Deliveries still queued for it are dropped (and counted). KeyError when there is no such id."""
        with self._cond:
            registration = self._registrations.pop(registration_id)
            if not self._closed:
                self._loop.call_soon_threadsafe(self._close_worker, registration)

    def registrations(self) -> list[dict]:
        with self._cond:
            return [r.public() for r in self._registrations.values()]

    def get(self, registration_id: str) -> dict:
        with self._cond:
            return self._registrations[registration_id].public()

    def publish(self, topic: str, users: list[dict], only: str | None = None) -> int:
        """Queue one event for every registration (or the one ``only`` names); returns how many deliveries
        were queued. Never blocks on the network and never raises for a receiver's sake."""
        if not self._registrations:
            return 0
        body = encode_event(topic, users)
        queued = 0
        with self._cond:
            targets = [r for r in self._registrations.values() if only is None or r.id == only]
            if targets:
                self._events += 1
            for registration in targets:
                if self._closed:
                    registration.dropped += 1
                    self._totals["dropped"] += 1
                    continue
                registration.pending += 1
                self._pending += 1
                self._loop.call_soon_threadsafe(self._enqueue, registration, _Delivery(topic, body))
                queued += 1
        return queued

    def stats(self) -> dict:
        with self._cond:
            return {"registered": len(self._registrations), "events": self._events, **self._totals,
                    "pending": self._pending}

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until nothing is queued or in flight; False when that did not happen within the timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout_s)

    def close(self) -> None:
        """Stop the thread (idempotent). What is still queued or in flight is dropped and counted."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        timeout = self.settings.stop_timeout_s
        if loop is not None and thread is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            except Exception:  # noqa: BLE001 - stopping must not fail the sandbox's own stop
                log.warning("the webhook sender did not shut down cleanly", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        with self._cond:  # whatever never reached a worker (the loop is gone now)
            for registration in self._every.values():
                if registration.pending:
                    registration.dropped += registration.pending
                    self._totals["dropped"] += registration.pending
                    self._pending -= registration.pending
                    registration.pending = 0
            self._cond.notify_all()

    # ------------------------------------------------------------ the thread and its loop

    def _start_locked(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        self._client = httpx.AsyncClient(follow_redirects=False)
        try:
            loop.run_forever()
        finally:
            try:
                leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in leftovers:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
                if not self._client.is_closed:
                    loop.run_until_complete(self._client.aclose())
            finally:
                loop.close()

    async def _shutdown(self) -> None:
        self._stopping = True
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._queues.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()

    def _open_worker(self, registration: Registration) -> None:
        if self._stopping:
            return
        queue: asyncio.Queue = asyncio.Queue()
        self._queues[registration.id] = queue
        self._tasks[registration.id] = asyncio.get_running_loop().create_task(self._work(registration, queue))

    def _close_worker(self, registration: Registration) -> None:
        self._queues.pop(registration.id, None)
        task = self._tasks.pop(registration.id, None)
        if task is not None:
            task.cancel()

    def _enqueue(self, registration: Registration, delivery: _Delivery) -> None:
        queue = self._queues.get(registration.id)
        if queue is None or self._stopping:
            self._finish(registration, "dropped")
        else:
            queue.put_nowait(delivery)

    def _finish(self, registration: Registration, outcome: str, count: int = 1, error: str | None = None) -> None:
        with self._cond:
            count = min(count, registration.pending)
            setattr(registration, outcome, getattr(registration, outcome) + count)
            self._totals[outcome] += count
            registration.pending -= count
            self._pending -= count
            if error is not None:
                registration.last_error = error
            self._cond.notify_all()

    def _attempted(self, registration: Registration, error: str | None) -> None:
        with self._cond:
            registration.attempts += 1
            self._totals["attempts"] += 1
            if error is not None:
                registration.last_error = error

    async def _work(self, registration: Registration, queue: asyncio.Queue) -> None:
        """Deliver one registration's events one after the other, in order."""
        current = None
        try:
            while True:
                current = await queue.get()
                outcome = await self._deliver(registration, current)
                current = None
                self._finish(registration, outcome)
        except asyncio.CancelledError:
            self._finish(registration, "dropped", (current is not None) + queue.qsize())
            raise

    async def _deliver(self, registration: Registration, delivery: _Delivery) -> str:
        settings = self.settings
        headers = {"Content-Type": "application/json", TOPIC_HEADER: delivery.topic,
                   "User-Agent": "humacrona-huma-sandbox-webhooks"}
        if registration.secret is not None:
            headers[SIGNATURE_HEADER] = sign(registration.secret, delivery.body, registration.signature)
        if registration.token is not None:
            headers["Authorization"] = f"Bearer {registration.token}"
        delay = settings.backoff_s
        for attempt in range(1, settings.max_attempts + 1):
            retry_after = None
            try:
                response = await self._client.post(registration.url, content=delivery.body, headers=headers,
                                                   timeout=settings.timeout_s)
                error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
                retry_after = _retry_after(response)
            except Exception as exc:  # noqa: BLE001 - connection errors, timeouts, bad addresses
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._attempted(registration, error)
            if error is None:
                return "sent"
            if attempt < settings.max_attempts:
                await asyncio.sleep(min(retry_after if retry_after is not None else delay, settings.backoff_max_s))
                delay = min(delay * 2, settings.backoff_max_s)
        log.warning("webhook %s to %s dropped after %d attempts: %s", delivery.topic, registration.url,
                    settings.max_attempts, registration.last_error)
        return "failed"
