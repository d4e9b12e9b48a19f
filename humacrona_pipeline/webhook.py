"""The Huma webhook receiver (`humacrona webhook`): a small Starlette service that checks each delivery and
stores it in the webhook inbox (`state.inbox.Inbox`) before it answers, for the `huma_changes_sensor`.

Endpoints:

- ``POST /huma/webhook/<connection>``: one path per connection (issue 14), each checked with that connection's
  own client secret (`connection.connections.webhook_secret`, from its ``webhook_secret_env``) and stored in that
  connection's inbox (`Inbox(url, connection=name)`). With a connections file (``HUMACRONA_CONNECTIONS_FILE``)
  its connections are the paths there are: any other path is 404, nothing stored, and a body signed with one
  connection's secret posted to another's path is 401.
- Without a connections file, the one connection ``default``: ``POST /huma/webhook``, the URL to register in
  Huma, as before; ``POST /`` is the same endpoint, for a receiver registered without a path (or behind a proxy
  that strips it); ``POST /huma/webhook/default`` too.
- ``GET /healthz``: 200 ``{"status": "ok"}`` while the process serves (the state database is not touched).

A delivery is, in this order:

1. **Authenticated.** With an access token configured (one for the receiver, every connection's),
   ``Authorization: Bearer <token>`` must carry it (compared in constant time); with a client secret configured
   for the path's connection, ``huma-hmac-sha256`` must hold the HMAC-SHA256 of the raw body bytes keyed by that
   secret, as hex (any letter case) or base64 (padding optional; a ``sha256=`` prefix is allowed), compared with
   `hmac.compare_digest`. Both configured: both are required. Otherwise 401, nothing stored. `build_app` refuses
   a receiver with a connection that has neither unless ``allow_no_auth`` is given (the CLI's
   ``--insecure-no-auth``): one open path is an open receiver.
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

The log names the connection, the topic, the number of users and the event id; never the secret, the token,
the body or a bank account (nor a path's unknown connection name, which anyone can make up). Secrets come
only from the environment: `TOKEN_ENV`, and each connection's ``webhook_secret_env`` (without a connections
file `SECRET_ENV`); surrounding whitespace, such as a trailing newline, is removed; an empty value is none. The
state database is `state.db.state_url()` (``HUMACRONA_STATE_URL``, else the SQLite file under ``DAGSTER_HOME``).

Here: the app and the command. The connections' paths and the configuration check are `webhook_endpoints`, the
checks of a delivery `webhook_delivery`, what the command prints `webhook_announce`; their public names are
importable from here as well."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .connection.connections import CONNECTIONS_FILE_ENV, ConnectionsError, load_connections, webhook_secret
from .defs.realtime.trigger import PushTrigger, missing_settings
from .state import db
from .state.inbox import PENDING, Inbox
from .terminal import say as _say
from .webhook_announce import announce, warn_unguarded
from .webhook_delivery import (
    SIGNATURE_HEADER,
    TOPIC_HEADER,
    Delivery,
    Refused,
    checked_delivery,
    parse_event,
    signature_matches,
    token_matches,
)
from .webhook_endpoints import (
    DEFAULT_PATHS,
    HEALTH_PATH,
    PATH,
    Endpoint,
    InsecureConfiguration,
    blank_to_none,
    check_configuration,
    connection_path,
)
from .webhook_options import DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, SECRET_ENV, TOKEN_ENV, add_arguments  # noqa: F401

__all__ = [
    "DEFAULT_PATHS", "HEALTH_PATH", "PATH", "RETRY_AFTER_S", "SIGNATURE_HEADER", "TOPIC_HEADER", "Endpoint",
    "InsecureConfiguration", "build_app", "build_receiver", "connection_path", "parse_event", "serve",
    "signature_matches", "token_matches",
]

log = logging.getLogger(__name__)

RETRY_AFTER_S = 30


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


@dataclass(frozen=True)
class _Receiver:
    """The receiver's handlers, sharing its endpoints (by connection name), token, body limit and ``on_stored``."""

    endpoints: Sequence[Endpoint]
    token: str | None
    max_body_bytes: int
    on_stored: Callable[[str], None] | None

    async def receive(self, endpoint: Endpoint, request: Request) -> JSONResponse:
        """A delivery to ``endpoint``'s connection: checked, then stored and answered; refused otherwise."""
        delivered_at = datetime.now(UTC)
        try:
            delivery = await checked_delivery(request, endpoint.secret, self.token, self.max_body_bytes)
        except Refused as refused:
            log.warning("webhook for connection %s refused (%s) from %s: %s", endpoint.name, refused.status,
                        _client(request), refused.error)
            return refused.response()
        return await self._store(endpoint, delivery, delivered_at)

    async def _store(self, endpoint: Endpoint, delivery: Delivery, delivered_at: datetime) -> JSONResponse:
        """Store a checked delivery before answering: 2xx only for an event that is stored (or already was)."""
        name, topic, users = endpoint.name, delivery.topic, delivery.users
        try:
            event_id = await run_in_threadpool(endpoint.inbox.add, topic, users, delivery.body, delivered_at,
                                               PENDING if self.on_stored is not None else None)
        except Exception as error:  # noqa: BLE001 - any storage failure: Huma must deliver it again
            log.error("webhook %s with %d users for connection %s NOT stored (%s); answered 503 so Huma retries",
                      topic, len(users), name, type(error).__name__)
            return JSONResponse({"error": "the event could not be stored; retry later"}, status_code=503,
                                headers={"Retry-After": str(RETRY_AFTER_S)})
        if event_id is None:
            log.info("webhook %s with %d users for connection %s: a redelivery of a stored event, not stored again",
                     topic, len(users), name)
            return JSONResponse({"stored": False, "duplicate": True})
        log.info("webhook %s with %d users stored as event %d for connection %s", topic, len(users), event_id, name)
        self._ask_for_push(name, event_id)
        return JSONResponse({"stored": True, "event_id": event_id})

    def _ask_for_push(self, name: str, event_id: int) -> None:
        if self.on_stored is not None:
            try:
                self.on_stored(name)
            except Exception:  # noqa: BLE001 - stored is stored: the sensor pushes it
                log.exception("event %d stored, but its push could not be asked for; the sensor will", event_id)

    async def named(self, request: Request) -> JSONResponse:
        """``POST /huma/webhook/<connection>``: that connection's endpoint, 404 for a name it does not serve."""
        endpoint = next((e for e in self.endpoints if e.name == request.path_params["connection"]), None)
        if endpoint is None:  # the name is not logged: anyone can make one up
            log.warning("webhook refused (404) from %s: no connection at this path", _client(request))
            return Refused(404, "no connection at this path", close=True).response()
        return await self.receive(endpoint, request)

    async def only(self, request: Request) -> JSONResponse:
        """Today's paths (`DEFAULT_PATHS`): the one connection's endpoint."""
        return await self.receive(self.endpoints[0], request)

    async def not_here(self, request: Request) -> JSONResponse:
        """Today's paths with a connections file: 404, naming the per-connection path instead."""
        log.warning("webhook refused (404) from %s: posted to %s, not to a connection's path", _client(request),
                    request.url.path)
        return Refused(404, f"this receiver serves one path per connection: POST {PATH}/<connection>",
                       close=True).response()


async def _healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def build_app(secret: str | None, token: str | None, inbox: Inbox, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
              *, allow_no_auth: bool = False, on_stored: Callable[[str], None] | None = None) -> Starlette:
    """The receiver of one connection (``inbox``'s) on today's paths (`DEFAULT_PATHS`) and its own
    (`connection_path`). A blank secret or token counts as none; with neither, `InsecureConfiguration` unless
    ``allow_no_auth`` (every delivery is then accepted unauthenticated). ``on_stored``: see `build_receiver`."""
    return build_receiver([Endpoint(inbox, secret)], token, max_body_bytes, allow_no_auth=allow_no_auth,
                          on_stored=on_stored, default_paths=True)


def build_receiver(endpoints: Sequence[Endpoint], token: str | None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                   *, allow_no_auth: bool = False, on_stored: Callable[[str], None] | None = None,
                   default_paths: bool = False) -> Starlette:
    """The receiver's ASGI app: each endpoint's connection on its own path (`connection_path`), checked with its
    secret and the receiver's ``token``, stored in its inbox; any other connection's path is 404. With
    ``default_paths`` (one endpoint only: no connections file) it is also served on `DEFAULT_PATHS`.
    A connection with neither secret nor token: `InsecureConfiguration` unless ``allow_no_auth``.
    With ``on_stored`` (`PushTrigger.notify`, called with the connection's name after each newly stored event;
    it must not block) the events are stored claimed `PENDING`: this receiver asks for their runs (the sensor
    takes over late ones)."""
    endpoints = [Endpoint(e.inbox, blank_to_none(e.secret), e.secret_env) for e in endpoints]
    token = blank_to_none(token)
    check_configuration(endpoints, token, max_body_bytes, allow_no_auth)
    if default_paths and len(endpoints) != 1:
        raise ValueError("today's paths are one connection's: give one endpoint with default_paths")
    receiver = _Receiver(endpoints, token, max_body_bytes, on_stored)
    return Starlette(routes=[
        *(Route(path, receiver.only if default_paths else receiver.not_here, methods=["POST"])
          for path in DEFAULT_PATHS),
        Route(connection_path("{connection}"), receiver.named, methods=["POST"]),
        Route(HEALTH_PATH, _healthz, methods=["GET"]),
    ])


# ----------------------------------------------------------------------------------------------- the command

def _log_to_stderr_unless_configured() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _state_database_opens(inbox: Inbox, shown_url: str) -> bool:
    """Create the inbox table now, so a state database that cannot be used fails at start, not at a delivery."""
    try:
        inbox.count()
    except Exception as error:  # noqa: BLE001
        _say(f"humacrona webhook: cannot open the state database {shown_url} ({type(error).__name__})", err=True)
        return False
    return True


def _run_until_stopped(app: Starlette, args: argparse.Namespace, trigger: PushTrigger | None,
                       announce_at: Callable[[int], None]) -> int:
    """Serve ``app`` (and the push trigger) until SIGINT/SIGTERM; ``announce_at(port)`` once it listens."""
    from .serving import BackgroundServer

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
        announce_at(server.port)
        stop.wait()
    finally:
        server.stop()
        if trigger is not None:
            trigger.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def serve(args: argparse.Namespace) -> int:
    """Serve the receiver until SIGINT/SIGTERM; print the URL(s) to register in Huma, then READY."""
    from sqlalchemy import make_url

    _log_to_stderr_unless_configured()
    token = blank_to_none(os.environ.get(TOKEN_ENV))
    try:
        connections = load_connections()  # without a file: `default`, its secret from SECRET_ENV
    except ConnectionsError as error:
        _say(f"humacrona webhook: the connections cannot be used:\n{error}", err=True)
        return 2
    from_file = bool((os.environ.get(CONNECTIONS_FILE_ENV) or "").strip())
    url = db.state_url()
    shown_url = make_url(url).render_as_string(hide_password=True)
    endpoints = [Endpoint(Inbox(url, connection=c.name), webhook_secret(c), c.webhook_secret_env)
                 for c in connections]
    missing = missing_settings()
    trigger = PushTrigger(url) if not missing else None
    try:
        app = build_receiver(endpoints, token, args.max_body_bytes, allow_no_auth=args.insecure_no_auth,
                             on_stored=trigger.notify if trigger else None, default_paths=not from_file)
    except ValueError as error:
        _say(f"humacrona webhook: {error}", err=True)
        return 2
    warn_unguarded(endpoints, token, from_file)
    if not _state_database_opens(endpoints[0].inbox, shown_url):
        return 1
    return _run_until_stopped(app, args, trigger, lambda port: announce(args, port, endpoints, token, shown_url,
                                                                         missing, from_file))
