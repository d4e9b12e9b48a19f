"""Checking one webhook delivery before it is stored: authenticated (access token, body signature), bounded
(body size), well-formed (JSON, a Huma event). A delivery that fails a check is `Refused` with the status the
receiver answers; apart from the receiver (`webhook`) so that each check can be read and tested on its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from .state.inbox import TOPICS, USER_ID_PROPERTY, WORK_EMAIL_PROPERTY

SIGNATURE_HEADER = "huma-hmac-sha256"
TOPIC_HEADER = "huma-topic"


class Refused(Exception):
    """A delivery that is answered with ``status`` and nothing stored; ``close`` drops the connection (its body
    may be left unread)."""

    def __init__(self, status: int, error: str, *, close: bool = False) -> None:
        super().__init__(error)
        self.status, self.error, self.close = status, error, close

    def response(self) -> JSONResponse:
        headers = {"Connection": "close"} if self.close else None
        if self.status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
        return JSONResponse({"error": self.error}, status_code=self.status, headers=headers)


@dataclass(frozen=True)
class Delivery:
    """A delivery that passed every check: its raw body (as signed, and stored as sent), topic and users."""

    body: bytes
    topic: str
    users: list[dict]


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


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is JSON (``application/json`` or ``*/*+json``); a missing one counts."""
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


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to pass ``limit``: by its ``Content-Length`` before
    reading, else while counting the bytes read (a chunked body)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise Refused(400, "invalid Content-Length", close=True) from None
        if length > limit:
            raise Refused(413, f"the body is larger than {limit} bytes", close=True)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"the body is larger than {limit} bytes", close=True)
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "the client disconnected before the body ended", close=True) from None
    return b"".join(chunks)


async def checked_delivery(request: Request, secret: str | None, token: str | None, max_body_bytes: int) -> Delivery:
    """The delivery of ``request`` once authenticated, bounded and well-formed, in that order; else `Refused`.
    The token is checked before the body is read, so an unauthenticated sender cannot make the receiver read it."""
    if token is not None and not token_matches(token, request.headers.get("authorization")):
        raise Refused(401, "missing or wrong access token", close=True)  # the body is left unread
    body = await read_body(request, max_body_bytes)
    if secret is not None and not signature_matches(secret, body, request.headers.get(SIGNATURE_HEADER)):
        raise Refused(401, f"missing or wrong {SIGNATURE_HEADER} signature")
    if not is_json(request.headers.get("content-type")):
        raise Refused(415, "the body must be application/json")
    try:
        topic, users = parse_event(body, request.headers.get(TOPIC_HEADER))
    except ValueError as error:
        raise Refused(400, str(error)) from None
    return Delivery(body, topic, users)
