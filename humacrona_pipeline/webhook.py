"""The Huma webhook receiver (`humacrona webhook`): a small Starlette service that checks each delivery and
stores it in the webhook inbox (`state.inbox.Inbox`) before it answers, for the `huma_changes_sensor`.

Endpoints:

- ``POST /huma/webhook``, the URL to register in Huma; ``POST /`` is the same endpoint, for a receiver
  registered without a path (or behind a proxy that strips it).
- ``GET /healthz``: 200 ``{"status": "ok"}`` while the process serves (the state database is not touched).

A delivery is, in this order:

1. **Authenticated.** With an access token configured, ``Authorization: Bearer <token>`` must carry it
   (compared in constant time); with a client secret configured, ``huma-hmac-sha256`` must hold the
   HMAC-SHA256 of the raw body bytes keyed by the secret, as hex (any letter case) or base64 (padding
   optional; a ``sha256=`` prefix is allowed), compared with `hmac.compare_digest`. Both configured: both
   are required. Otherwise 401, nothing stored. `build_app` refuses a receiver with neither unless
   ``allow_no_auth`` is given (the CLI's ``--insecure-no-auth``).
2. **Bounded.** More than ``max_body_bytes`` (default 1 MiB): 413. A ``Content-Length`` above the limit is
   refused before the body is read, and the bytes are counted while reading, so a chunked body is cut off
   as soon as it passes the limit. An export of a large organisation may need a higher limit.
3. **Well-formed.** A ``Content-Type`` other than JSON (``application/json`` or ``*/*+json``): 415; a missing
   one is accepted. The body must be a JSON object whose ``topic`` is one of `TOPICS` and equals the
   ``huma-topic`` header when that header is sent, and whose ``users`` is a list of objects, each with a
   non-empty string ``id`` and a string ``email``. Otherwise 400, nothing stored. Other fields are kept
   as Huma sends them (bank accounts are removed by the inbox).
4. **Stored**, then answered (and, with ``on_stored``, its push asked for: `defs.realtime.trigger`):
   200 ``{"stored": true, "event_id": N}``, or for a redelivery of an event already stored (same topic, same
   body bytes) 200 ``{"stored": false, "duplicate": true}``. When the state database cannot store it, 503 with
   ``Retry-After``, so Huma delivers it again: the receiver never answers 2xx for an event it did not store.

The log names the topic, the number of users and the event id; never the secret, the token, the body or
a bank account. Secrets come only from the environment: `SECRET_ENV` and `TOKEN_ENV` (surrounding whitespace,
such as a trailing newline, is removed; an empty value is none); the state database
is `state.db.state_url()` (``HUMACRONA_STATE_URL``, else the SQLite file under ``DAGSTER_HOME``)."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .defs.realtime.trigger import PushTrigger, missing_settings
from .state import db
from .state.inbox import PENDING, TOPICS, USER_ID_PROPERTY, WORK_EMAIL_PROPERTY, Inbox
from .terminal import say as _say
from .webhook_options import DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, SECRET_ENV, TOKEN_ENV, add_arguments  # noqa: F401

log = logging.getLogger(__name__)

PATH = "/huma/webhook"
HEALTH_PATH = "/healthz"
SIGNATURE_HEADER = "huma-hmac-sha256"
TOPIC_HEADER = "huma-topic"
RETRY_AFTER_S = 30


class InsecureConfiguration(ValueError):
    """Neither a client secret nor an access token, and no explicit consent to run without either."""


class _Refused(Exception):
    def __init__(self, status: int, error: str, *, close: bool = False) -> None:
        super().__init__(error)
        self.status, self.error, self.close = status, error, close

    def response(self) -> JSONResponse:
        headers = {"Connection": "close"} if self.close else None
        if self.status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
        return JSONResponse({"error": self.error}, status_code=self.status, headers=headers)


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the HMAC-SHA256 of ``body`` keyed by ``secret``, as hex or base64."""
    if not header:
        return False
    given = header.strip()
    if given[:7].lower() == "sha256=":
        given = given[7:]
    given_bytes = given.encode("latin-1", "replace")  # headers arrive latin-1 decoded; never raises below
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    as_hex = hmac.compare_digest(given_bytes.lower(), digest.hex().encode())
    as_b64 = hmac.compare_digest(given_bytes.rstrip(b"="), base64.b64encode(digest).rstrip(b"="))
    return as_hex or as_b64


def token_matches(token: str, header: str | None) -> bool:
    """Whether an ``Authorization`` header is ``Bearer <token>`` (the scheme in any letter case)."""
    scheme, _, given = (header or "").strip().partition(" ")
    ok_scheme = scheme.lower() == "bearer"
    ok_token = hmac.compare_digest(given.strip().encode("latin-1", "replace"), token.encode())
    return ok_scheme and ok_token


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parse_event(body: bytes, topic_header: str | None) -> tuple[str, list[dict]]:
    """The topic and users of a delivery; `ValueError` with the reason when it is not a Huma event."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(event, dict):
        raise ValueError("the body is not a JSON object")
    topic = event.get("topic")
    if not isinstance(topic, str) or topic not in TOPICS:
        raise ValueError(f"'topic' must be one of {', '.join(TOPICS)}")
    if topic_header is not None and topic_header.strip() != topic:
        raise ValueError(f"the {TOPIC_HEADER} header does not equal the body's topic")
    users = event.get("users")
    if not isinstance(users, list):
        raise ValueError("'users' must be a list")
    for i, user in enumerate(users):
        if not isinstance(user, dict):
            raise ValueError(f"users[{i}] is not an object")
        if not isinstance(user.get(USER_ID_PROPERTY), str) or not user[USER_ID_PROPERTY].strip():
            raise ValueError(f"users[{i}] has no string {USER_ID_PROPERTY!r}")
        if not isinstance(user.get(WORK_EMAIL_PROPERTY), str):
            raise ValueError(f"users[{i}] has no string {WORK_EMAIL_PROPERTY!r}")
    return topic, users


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise _Refused(400, "invalid Content-Length", close=True) from None
        if length > limit:
            raise _Refused(413, f"the body is larger than {limit} bytes", close=True)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Refused(413, f"the body is larger than {limit} bytes", close=True)
            chunks.append(chunk)
    except ClientDisconnect:
        raise _Refused(400, "the client disconnected before the body ended", close=True) from None
    return b"".join(chunks)


def _check_configuration(secret: str | None, token: str | None, max_body_bytes: int, allow_no_auth: bool) -> None:
    """Refuse a receiver anyone could post to (unless allowed) or one that could store no body."""
    if secret is None and token is None and not allow_no_auth:
        raise InsecureConfiguration(
            f"no client secret ({SECRET_ENV}) and no access token ({TOKEN_ENV}) configured: anyone could post"
            " events; set one or both (and the same in Huma), or pass allow_no_auth / --insecure-no-auth")
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be at least 1")
    if secret is None and token is None:
        log.warning("webhook receiver running WITHOUT authentication: every delivery is accepted")


def build_app(secret: str | None, token: str | None, inbox: Inbox, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
              *, allow_no_auth: bool = False, on_stored: Callable[[], None] | None = None) -> Starlette:
    """The receiver's ASGI app, storing into ``inbox``. A blank secret or token counts as none; with neither,
    `InsecureConfiguration` unless ``allow_no_auth`` (every delivery is then accepted unauthenticated).
    With ``on_stored`` (`PushTrigger.notify`, called after each newly stored event; it must not block) the
    events are stored claimed `PENDING`: this receiver asks for their runs (the sensor takes over late ones)."""
    secret, token = _blank_to_none(secret), _blank_to_none(token)
    _check_configuration(secret, token, max_body_bytes, allow_no_auth)

    async def receive(request: Request) -> JSONResponse:
        delivered_at = datetime.now(UTC)
        client = request.client.host if request.client else "?"
        try:
            if token is not None and not token_matches(token, request.headers.get("authorization")):
                raise _Refused(401, "missing or wrong access token", close=True)  # the body is left unread
            body = await _read_body(request, max_body_bytes)
            if secret is not None and not signature_matches(secret, body, request.headers.get(SIGNATURE_HEADER)):
                raise _Refused(401, f"missing or wrong {SIGNATURE_HEADER} signature")
            if not _is_json(request.headers.get("content-type")):
                raise _Refused(415, "the body must be application/json")
            try:
                topic, users = parse_event(body, request.headers.get(TOPIC_HEADER))
            except ValueError as error:
                raise _Refused(400, str(error)) from None
        except _Refused as refused:
            log.warning("webhook refused (%s) from %s: %s", refused.status, client, refused.error)
            return refused.response()
        try:
            event_id = await run_in_threadpool(inbox.add, topic, users, body, delivered_at,
                                               PENDING if on_stored is not None else None)
        except Exception as error:  # noqa: BLE001 - any storage failure: Huma must deliver it again
            log.error("webhook %s with %d users NOT stored (%s); answered 503 so Huma retries",
                      topic, len(users), type(error).__name__)
            return JSONResponse({"error": "the event could not be stored; retry later"}, status_code=503,
                                headers={"Retry-After": str(RETRY_AFTER_S)})
        if event_id is None:
            log.info("webhook %s with %d users: a redelivery of a stored event, not stored again", topic, len(users))
            return JSONResponse({"stored": False, "duplicate": True})
        log.info("webhook %s with %d users stored as event %d", topic, len(users), event_id)
        if on_stored is not None:
            try:
                on_stored()
            except Exception:  # noqa: BLE001 - stored is stored: the sensor pushes it
                log.exception("event %d stored, but its push could not be asked for; the sensor will", event_id)
        return JSONResponse({"stored": True, "event_id": event_id})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route(PATH, receive, methods=["POST"]),
        Route("/", receive, methods=["POST"]),
        Route(HEALTH_PATH, healthz, methods=["GET"]),
    ])


# ----------------------------------------------------------------------------------------------- the command

def _announce(args: argparse.Namespace, port: int, secret: str | None, token: str | None, shown_url: str,
              missing: list[str]) -> None:
    """What the receiver requires and where it stores, the URL to register in Huma, then READY."""
    host = socket.gethostname() if args.host in ("", "0.0.0.0", "::") else args.host
    host = f"[{host}]" if ":" in host else host
    checks = [name for name, on in ((f"client secret ({SIGNATURE_HEADER})", secret),
                                    ("access token (Authorization: Bearer)", token)) if on]
    _say(f"# Huma webhook receiver: POST {PATH} (and /), GET {HEALTH_PATH}; bodies up to {args.max_body_bytes} bytes")
    _say(f"# required: {' and '.join(checks) if checks else 'NOTHING (insecure)'}; events stored in {shown_url}")
    _say("# pushes: started by this receiver as soon as an event is stored (huma_changes_sensor: the backstop)"
         if not missing
         else f"# pushes: by the huma_changes_sensor (to start them at once, set here {', '.join(missing)})")
    _say("# Register this URL in Huma (Huma must reach it: put it behind HTTPS when it is public), with the same"
         " client secret and/or access token:")
    _say(f"WEBHOOK_URL=http://{host}:{port}{PATH}")
    _say("READY")


def serve(args: argparse.Namespace) -> int:
    """Serve the receiver until SIGINT/SIGTERM; print the URL to register in Huma, then READY."""
    from sqlalchemy import make_url

    from .serving import BackgroundServer

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    secret, token = _blank_to_none(os.environ.get(SECRET_ENV)), _blank_to_none(os.environ.get(TOKEN_ENV))
    url = db.state_url()
    shown_url = make_url(url).render_as_string(hide_password=True)
    inbox = Inbox(url)
    missing = missing_settings()
    trigger = PushTrigger(url) if not missing else None
    try:
        app = build_app(secret, token, inbox, args.max_body_bytes, allow_no_auth=args.insecure_no_auth,
                        on_stored=trigger.notify if trigger else None)
    except ValueError as error:
        _say(f"humacrona webhook: {error}", err=True)
        return 2
    if secret is None and token is None:
        _say("WARNING: --insecure-no-auth: NO client secret and NO access token; anyone who can reach this port"
             " can post events. Never run it so in production.", err=True)
    try:
        inbox.count()  # creates the table, and fails now rather than at the first delivery
    except Exception as error:  # noqa: BLE001
        _say(f"humacrona webhook: cannot open the state database {shown_url} ({type(error).__name__})", err=True)
        return 1

    server = BackgroundServer(app, host=args.host, port=args.port)
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        _say(f"humacrona webhook: cannot listen on {args.host}:{args.port} ({error})", err=True)
        return 1
    if trigger is not None:
        trigger.start()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _announce(args, server.port, secret, token, shown_url, missing)
        stop.wait()
    finally:
        server.stop()
        if trigger is not None:
            trigger.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
