"""The Huma sandbox: a local emulator of Huma's Open API 1.53.2 (the part humacrona uses), over HTTP.

It follows the published OpenAPI document: the same paths, status codes and body shapes (200 on
create, ``{value, editable}`` wrapped detail fields, InvalidFieldFormatResponse / InvalidTokenResponse /
NotFoundErrorResponse / StandardServerErrorResponse errors), and enforces the rules Huma enforces
(unique work email, phone and employment ID, ISO country codes, at most 50 users per page, ...).
``huma_rules`` documents the field rules and every choice the document leaves open; ``huma_state``
holds the records and indexes; ``huma_render`` the response shapes.

Endpoints: ``POST /auth/oauth/token``; ``GET/POST /users``; ``GET/PATCH /users/{id}``;
``GET/POST /users/{userId}/positions``; ``GET/PATCH/DELETE /users/{userId}/positions/{id}``;
``GET/POST /job-titles``; ``GET/PATCH /job-titles/{id}``; ``GET /groups``; ``GET /groups/{id}``.
Admin endpoints under ``/_sandbox`` need no token and are never faulted: ``POST /_sandbox/expire-tokens``,
``POST /_sandbox/api-keys``,
``GET /_sandbox/stats``, ``POST/DELETE /_sandbox/reject-writes``, ``POST/DELETE /_sandbox/fail-reads`` (one
user's details and/or positions answer a persistent 500 or a body that is not JSON), the webhook registrations
``GET/POST /_sandbox/webhooks``, ``DELETE /_sandbox/webhooks/{id}`` and ``POST /_sandbox/webhooks/export``,
and the changes an HR administrator makes in Huma's UI: ``PATCH /_sandbox/users/{id}`` (or
``PATCH /_sandbox/users?email=``) and ``DELETE /_sandbox/users/{id}`` (or ``?email=``).

Webhooks: every create, change and deletion of a user or of a user's position is sent to the registered
URLs as Huma sends it (``huma_webhooks`` documents the payload and the delivery).

Further choices:
- The token endpoint takes client credentials as a form or as JSON (or HTTP Basic, as OAuth2 allows).
  A missing or other ``grant_type`` is a 400 with ``fields: ["grant_type"]``; missing or wrong
  credentials a 401 ``invalid_client``. Every other endpoint answers 401 ``invalid_token`` without a
  valid bearer token, saying when the token has expired.
- API keys and their permissions. In Huma an administrator creates an API key with the permissions it gets;
  the document declares no scopes and no 403, so the sandbox's choice is: the configured key holds every
  permission in `PERMISSIONS` (``<area>:read`` for GET, ``<area>:write`` for POST/PATCH/DELETE; the areas
  are users, positions, job-titles and groups), ``POST /_sandbox/api-keys``
  ``{"permissions": [...]}`` (or `create_api_key`) creates another key holding only those, and a call its
  key lacks the permission for answers 403 in the StandardServerErrorResponse shape Huma's 500 has
  (``error`` "Forbidden", ``message`` "Access Denied", as Spring Security answers). Nothing is written.
- An unknown route answers 404 NotFoundErrorResponse with ``interpolations.type`` ``"Route"``; a known
  route with the wrong method answers 405 in the StandardServerErrorResponse shape.
- ``GET /users`` pages in insertion order (``orderDirection=DESC`` reverses it) and supports the
  filters ``search`` (name or email substring), ``id``, ``excludeId``, ``jobTitle``, ``team``,
  ``location``, ``company``, ``supervisor``, ``isSupervisor`` and ``isActive``; the permission and
  recursive-hierarchy filters answer 400 ``field:unsupported`` rather than being ignored.
- Job-title names are unique (ignoring case and spacing): a duplicate answers 400 ``field:not-unique``
  with ``fields: ["name"]``, so a sync can map a title name to exactly one id.
- Positions are listed newest contract start first; without ``limit`` a user's positions all come in
  one page. ``me`` in a user path names the API's service user, which is not an employee (404).
- The HR-administrator change ``PATCH /_sandbox/users/{id}`` takes the body of ``PATCH /users/{id}``
  (UserDetailsInput, checked by the same rules) plus an optional ``position`` object with
  ``contractStartDate``, ``contractEndDate`` and ``title`` (a job-title name, created when missing), which
  changes the user's main position (or creates it, as a Permanent one, when the user has none: then
  ``contractStartDate`` and ``title`` are required). Everything is checked before anything is written; it
  answers UserDetails, like the API. ``reject_writes`` does not apply to it (that refuses API clients).
  ``DELETE /_sandbox/users/{id}`` deletes a user and its positions; a user who supervises others is
  refused (400 ``field:invalid-value``) until they have another supervisor.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import uuid
import weakref
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import huma_render as render
from .defaults import DEFAULT_HUMA_CLIENT_ID, DEFAULT_HUMA_CLIENT_SECRET
from .faults import FaultConfig, FaultInjector
from .huma_rules import (
    INVALID_FORMAT,
    INVALID_VALUE,
    JOB_TITLE_INPUT,
    POSITION_FIELDS,
    REQUIRED,
    UNSUPPORTED,
    FieldProblem,
    InvalidFields,
    check_position_dates,
    email_key,
    parse_fields,
    parse_job_title_create,
    parse_job_title_update,
    parse_position_create,
    parse_position_update,
    parse_user_details_input,
    parse_user_input,
    title_key,
)
from .huma_state import GROUPS, JOB_TITLES, POSITIONS, USERS, HumaDirectory, NotFound
from .huma_webhooks import (
    USERS_CREATE,
    USERS_DELETE,
    USERS_EXPORT,
    USERS_UPDATE,
    WebhookDispatcher,
    WebhookError,
    WebhookSettings,
    deleted_payload,
    user_payload,
)
from .store import Store
from .tokens import TokenIssuer, TokenState, bearer_token

DEFAULT_ORGANIZATION_ID = "7d1e4b2a-9c3f-4e8d-a5b6-1f2e3d4c5b6a"
SERVICE_USER_ID = "5e3a9d1c-7b2f-4c8e-9a6d-3b1f0e2c4d5a"
"""The Open API key's own user: the ``userId`` of every token, and what the alias ``me`` names."""

# The sandbox's permission names (Huma publishes none): an area's read (GET) and write (everything else).
PERMISSIONS = ("users:read", "users:write", "positions:read", "positions:write", "job-titles:read",
               "job-titles:write", "groups:read", "groups:write")

USERS_PAGE_MAX = 50
GROUPS_PAGE_MAX = 25
_INT32_MAX = 2**31 - 1
_INTEGER = re.compile(r"^-?\d+$")
_ADMIN_POSITION_KEYS = ("contractStartDate", "contractEndDate", "title")
_ABSENT = object()

log = logging.getLogger(__name__)


@dataclass
class HumaSandboxSettings:
    client_id: str = DEFAULT_HUMA_CLIENT_ID
    client_secret: str = DEFAULT_HUMA_CLIENT_SECRET
    token_lifetime_s: float = 3600.0
    organization_id: str = DEFAULT_ORGANIZATION_ID
    company_name: str = "Nordljus Tech AB"
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)


class ApiError(Exception):
    """An answer other than 400/404 that a handler gives up with (401, 405, ...)."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        self.status, self.body, self.headers = status, body, headers
        super().__init__(f"{status}: {body}")


def _json_response(body, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


class _Query:
    """Query parameters checked against the operation's declared schema; problems are collected."""

    def __init__(self, request: Request):
        self.params = request.query_params
        self.problems: list[FieldProblem] = []
        self.filters: dict = {}

    def _bad(self, name: str, message: str, code: str = INVALID_FORMAT) -> None:
        self.problems.append(FieldProblem(name, code, message))

    def integer(self, name: str, default: int | None, maximum: int = _INT32_MAX) -> int | None:
        raw = self.params.get(name)
        if raw is None:
            return default
        if not _INTEGER.match(raw.strip()):
            self._bad(name, f"{name} must be an integer")
            return default
        value = int(raw)
        if not 0 <= value <= maximum:
            self._bad(name, f"{name} must be between 0 and {maximum}")
            return default
        return value

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is not None:
            self.filters[name] = value
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.params.get(name)
        if value is not None and value not in choices:
            self._bad(name, f"{name} must be one of {', '.join(choices)}")
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.params.get(name)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            self._bad(name, f"{name} must be true or false")
            return None
        self.filters[name] = value.lower() == "true"
        return value.lower() == "true"

    def array(self, name: str, *, uuids: bool = False, choices: tuple[str, ...] = (), max_items: int | None = 25,
              me: bool = False) -> list[str] | None:
        """A repeated parameter (``id=a&id=b``); comma-separated values are split, as Spring does."""
        raw = [part.strip() for value in self.params.getlist(name) for part in value.split(",") if part.strip()]
        if not raw:
            return None
        if max_items is not None and len(raw) > max_items:
            self._bad(name, f"{name} takes at most {max_items} values")
            return None
        out = []
        for value in raw:
            if me and value == "me":
                value = SERVICE_USER_ID
            elif uuids:
                try:
                    value = str(uuid.UUID(value))
                except ValueError:
                    self._bad(name, f"{name} values must be UUIDs")
                    return None
            elif choices and value not in choices:
                self._bad(name, f"{name} values must be among {', '.join(choices)}")
                return None
            out.append(value)
        self.filters[name] = out
        return out

    def refuse(self, *names: str) -> None:
        for name in names:
            if name in self.params:
                self._bad(name, f"the sandbox does not support the {name} filter", UNSUPPORTED)

    def done(self) -> None:
        if self.problems:
            raise InvalidFields(self.problems)


class HumaSandbox:
    def __init__(self, store: Store, settings: HumaSandboxSettings | None = None, faults: FaultConfig | None = None):
        self.store = store
        self.settings = settings or HumaSandboxSettings()
        self.faults = faults
        self.tokens = TokenIssuer(self.settings.token_lifetime_s)
        # client id -> (client secret, permissions); the configured key holds every permission
        self.api_keys: dict[str, tuple[str, frozenset[str]]] = {
            self.settings.client_id: (self.settings.client_secret, frozenset(PERMISSIONS))}
        self._token_permissions: dict[str, frozenset[str]] = {}
        self.directory = HumaDirectory(store)
        self.request_counts: Counter[str] = Counter()
        self.rejections: dict[str, dict] = {}  # email key -> the error answer every write for that user gets
        self.failed_reads: dict[str, dict] = {}  # email key -> how that user's details/positions answer
        self.webhooks = WebhookDispatcher(self.settings.webhooks)
        # the delivery thread stops with the sandbox (close), or at the latest when it is collected or at exit
        self._close_webhooks = weakref.finalize(self, self.webhooks.close)
        api = [
            ("POST", "/auth/oauth/token", self._token, False),
            ("GET", "/users", self._list_users, True),
            ("POST", "/users", self._create_user, True),
            ("GET", "/users/{id}", self._get_user, True),
            ("PATCH", "/users/{id}", self._patch_user, True),
            ("GET", "/users/{userId}/positions", self._list_positions, True),
            ("POST", "/users/{userId}/positions", self._create_position, True),
            ("GET", "/users/{userId}/positions/{id}", self._get_position, True),
            ("PATCH", "/users/{userId}/positions/{id}", self._patch_position, True),
            ("DELETE", "/users/{userId}/positions/{id}", self._delete_position, True),
            ("GET", "/job-titles", self._list_job_titles, True),
            ("POST", "/job-titles", self._create_job_title, True),
            ("GET", "/job-titles/{id}", self._get_job_title, True),
            ("PATCH", "/job-titles/{id}", self._patch_job_title, True),
            ("GET", "/groups", self._list_groups, True),
            ("GET", "/groups/{id}", self._get_group, True),
        ]
        self.api_operations: list[tuple[str, str]] = [(method, template) for method, template, _, _ in api]
        routes = [self._route(method, template, handler, auth) for method, template, handler, auth in api]
        routes += self.admin_routes()
        starlette = Starlette(
            routes=routes,
            exception_handlers={HTTPException: self._http_exception, Exception: self._unexpected},
        )
        self.app = FaultInjector(starlette, faults, error_body=render.server_error) if faults else starlette

    # ------------------------------------------------------------ public helpers

    def load_seed(self, users: list[dict]) -> None:
        """Bulk-load generated users (with their positions) into the organisation's company group."""
        self.directory.load_seed(users, self.company_group_id())

    def company_group_id(self) -> str:
        """The organisation's company group (every seeded user is a member), created if missing."""
        return self.directory.ensure_company_group(self.settings.company_name, self.settings.organization_id)

    def admin_routes(self) -> list[Route]:
        """Routes under /_sandbox: no token, never faulted, not counted."""
        return [
            Route("/_sandbox/expire-tokens", self._expire_tokens, methods=["POST"]),
            Route("/_sandbox/api-keys", self._admin(self._api_keys_admin), methods=["POST"]),
            Route("/_sandbox/stats", self._stats, methods=["GET"]),
            Route("/_sandbox/reject-writes", self._reject_writes, methods=["POST", "DELETE"]),
            Route("/_sandbox/fail-reads", self._admin(self._fail_reads), methods=["POST", "DELETE"]),
            Route("/_sandbox/webhooks", self._admin(self._webhooks_admin), methods=["GET", "POST"]),
            Route("/_sandbox/webhooks/export", self._admin(self._webhooks_export), methods=["POST"]),
            Route("/_sandbox/webhooks/{id}", self._admin(self._webhook_delete), methods=["DELETE"]),
            Route("/_sandbox/users", self._admin(self._admin_user), methods=["PATCH", "DELETE"]),
            Route("/_sandbox/users/{id}", self._admin(self._admin_user), methods=["PATCH", "DELETE"]),
        ]

    def close(self) -> None:
        """Stop sending webhooks (what is still queued is dropped and counted). The store stays open."""
        self._close_webhooks()

    # ------------------------------------------------------------ webhooks

    def register_webhook(self, url: str, secret: str | None = None, token: str | None = None,
                         signature: str = "hex") -> str:
        """Send every user event to ``url`` from now on (see ``huma_webhooks``); returns the registration id.
        ``signature`` is how ``huma-hmac-sha256`` is written: ``"hex"`` or ``"base64"``. ValueError when an
        input is not acceptable."""
        return self.webhooks.register(url, secret, token, signature)

    def unregister_webhook(self, webhook_id: str) -> None:
        """Stop sending to that registration; deliveries still queued for it are dropped. KeyError if unknown."""
        self.webhooks.unregister(webhook_id)

    def export_users_to_webhooks(self, webhook_id: str | None = None) -> int:
        """Send every user as ``users-export`` (``batch_size`` users per request) to every registration, or
        to the one named; returns the number of requests per registration. KeyError for an unknown id."""
        if webhook_id is not None:
            self.webhooks.get(webhook_id)
        docs = list(self.directory.users.values())
        size = self.settings.webhooks.batch_size
        batches = [docs[i:i + size] for i in range(0, len(docs), size)]
        for batch in batches:
            self.webhooks.publish(USERS_EXPORT, [user_payload(self.directory, d) for d in batch], only=webhook_id)
        return len(batches)

    def wait_for_webhooks(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued webhook was delivered, failed or dropped; False on timeout."""
        return self.webhooks.wait_idle(timeout_s)

    def _emit(self, topic: str, user_id: str) -> None:
        """Queue the event of a change just made; never fails or delays the change."""
        if not self.webhooks.active:
            return
        try:
            self.webhooks.publish(topic, [user_payload(self.directory, self.directory.user(user_id))])
        except Exception:  # noqa: BLE001 - a webhook must never fail the API call that caused it
            log.exception("could not queue the %s webhook of user %s", topic, user_id)

    # ------------------------------------------------------------ HR administrator (Huma's UI)

    def find_user(self, user_id_or_email: str) -> dict:
        """A user by id, or by work email (any letter case) when the key holds an ``@``; NotFound otherwise."""
        if not isinstance(user_id_or_email, str) or not user_id_or_email.strip():
            raise NotFound("User", str(user_id_or_email))
        if "@" in user_id_or_email:
            key = email_key(user_id_or_email)
            for doc in self.directory.users.values():
                if email_key(doc["email"]) == key:
                    return doc
            raise NotFound("User", user_id_or_email.strip())
        return self.directory.user(user_id_or_email.strip())

    def admin_update_user(self, user_id_or_email: str, changes: dict) -> dict:
        """Change a user as an HR administrator would in Huma's UI: ``changes`` is a PATCH /users/{id} body
        (UserDetailsInput) plus an optional ``position`` {contractStartDate, contractEndDate, title}. The
        API's rules apply (InvalidFields, nothing written, no webhook, when one is broken); a users-update
        webhook is sent. Returns the user's UserDetails, as the API's PATCH answers."""
        user_id = self.find_user(user_id_or_email)["id"]
        if not isinstance(changes, dict):
            raise InvalidFields.one("body", INVALID_FORMAT, "the request body must be a JSON object")
        changes = dict(changes)
        position_input = changes.pop("position", _ABSENT)
        problems: list[FieldProblem] = []
        user_changes: dict = {}
        try:
            user_changes = parse_user_details_input(changes)
        except InvalidFields as exc:
            problems += exc.problems
        apply_position = None
        try:
            apply_position = self._admin_position_plan(user_id, position_input)
        except InvalidFields as exc:
            problems += exc.problems
        if problems:
            raise InvalidFields(problems)
        if user_changes:
            self.directory.update_user(user_id, user_changes)  # checks uniqueness before writing anything
        if apply_position is not None:
            apply_position()
        self._emit(USERS_UPDATE, user_id)
        return render.user_details(self.directory, self.directory.user(user_id))

    def _admin_position_plan(self, user_id: str, raw):
        """Check the ``position`` part of an admin change against the user's main position; a function that
        writes it (it cannot fail any more), or None when there is nothing to write."""
        if raw is _ABSENT:
            return None
        if not isinstance(raw, dict):
            raise InvalidFields.one("position", INVALID_FORMAT,
                                    "position must be an object with contractStartDate, contractEndDate and/or title")
        allowed = ", ".join(_ADMIN_POSITION_KEYS)
        problems = [FieldProblem(f"position.{k}", UNSUPPORTED, f"position.{k} is not one of {allowed}")
                    for k in raw if k not in _ADMIN_POSITION_KEYS]
        specs = {k: POSITION_FIELDS[k] for k in ("contractStartDate", "contractEndDate")}
        specs["title"] = JOB_TITLE_INPUT["name"]
        try:
            values = parse_fields({k: v for k, v in raw.items() if k in specs}, specs, partial=True, prefix="position.")
        except InvalidFields as exc:
            problems += exc.problems
            values = {}
        if problems:
            raise InvalidFields(problems)
        title_name = values.pop("title", None)
        title_id = None
        if title_name is not None:
            title_id = next((t["id"] for t in self.directory.job_titles.values()
                             if title_key(t["name"]) == title_key(title_name)), None)
        main = self.directory.main_position(user_id)
        if main is None:
            if not values and title_name is None:
                return None
            missing = [FieldProblem(f"position.{k}", REQUIRED,
                                    f"position.{k} is required: the user has no position, and Huma creates one only "
                                    "with a start date and a job title")
                       for k, present in (("contractStartDate", "contractStartDate" in values),
                                          ("title", title_name is not None)) if not present]
            if missing:
                raise InvalidFields(missing)
            merged = dict(values)
        else:
            merged = {**main, **values}
            merged = {k: v for k, v in merged.items() if v is not None}
        try:
            check_position_dates(merged)
        except InvalidFields as exc:
            raise InvalidFields([FieldProblem(f"position.{p.field}", p.code, p.message)
                                 for p in exc.problems]) from None
        if not values and title_name is None:
            return None

        def apply() -> None:
            resolved = title_id
            if title_name is not None and resolved is None:
                resolved = self.directory.create_job_title(parse_job_title_create({"name": title_name}))["id"]
            if main is None:
                body = {k: v for k, v in values.items() if v is not None}
                self.directory.create_position(user_id, parse_position_create(
                    {**body, "contractType": "Permanent", "titleId": resolved}))
            else:
                self.directory.update_position(user_id, main["id"],
                                               {**values, **({"titleId": resolved} if resolved else {})})

        return apply

    def admin_delete_user(self, user_id_or_email: str) -> dict:
        """Delete a user and its positions as an HR administrator would in Huma's UI (the Open API cannot);
        sends users-delete with the last known id and email, which it returns."""
        doc = self.find_user(user_id_or_email)
        user_id, d = doc["id"], self.directory
        if d.subordinates_count(user_id):
            raise InvalidFields.one("id", INVALID_VALUE, f"user {doc['email']} supervises "
                                    f"{d.subordinates_count(user_id)} users: give them another supervisor first")
        d.delete_user(user_id)
        gone = deleted_payload(doc)
        if self.webhooks.active:
            self.webhooks.publish(USERS_DELETE, [gone])
        return gone

    def create_api_key(self, permissions: list[str]) -> dict:
        """A new API key holding only ``permissions`` (names from `PERMISSIONS`): ``{"clientId", "clientSecret",
        "permissions"}``, as Huma shows a new key once. ValueError for an unknown permission."""
        if not isinstance(permissions, (list, tuple)) or not all(isinstance(p, str) for p in permissions):
            raise ValueError("permissions must be a list of permission names")
        unknown = sorted(set(permissions) - set(PERMISSIONS))
        if unknown:
            raise ValueError(f"unknown permissions {unknown}; the sandbox knows {', '.join(PERMISSIONS)}")
        client_id, client_secret = str(uuid.uuid4()), str(uuid.uuid4())
        self.api_keys[client_id] = (client_secret, frozenset(permissions))
        return {"clientId": client_id, "clientSecret": client_secret, "permissions": sorted(set(permissions))}

    def reject_writes(self, email: str, status: int = 400, message: str | None = None,
                      fields: list[str] | None = None) -> None:
        """Refuse every write for the user with this work email (creating it with ``POST /users``,
        ``PATCH /users/{id}``, and creating, changing or deleting its positions) the way Huma refuses
        data: a 4xx answers Huma's 400 body (InvalidFieldFormatResponse, ``errorCode``
        ``field:invalid-value``, ``errorMessage`` = ``message``, ``fields``); a 5xx the
        StandardServerErrorResponse. Nothing is written. Reads are not affected. Kept in memory only."""
        if not isinstance(email, str) or "@" not in email:
            raise ValueError("email must be a work email address")
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599 \
                or status in (401, 404, 429):
            raise ValueError("status must be 400-599, other than 401, 404 and 429 (those mean something else)")
        if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
            raise ValueError("fields must be a list of field names")
        if message is not None and not isinstance(message, str):
            raise ValueError("message must be a string")
        self.rejections[email_key(email)] = {
            "status": status, "message": message or f"The change of user {email.strip()} was refused",
            "fields": list(fields or ()),
        }

    def clear_rejected_writes(self, email: str | None = None) -> None:
        """Accept writes again: for one user, or (no email) for everybody."""
        if email is None:
            self.rejections.clear()
        else:
            self.rejections.pop(email_key(email), None)

    READ_ANSWERS = ("500", "malformed")
    READS = ("details", "positions")

    def fail_reads(self, email: str, answer: str = "500", reads: list[str] | tuple[str, ...] = READS,
                   message: str | None = None) -> None:
        """Make every read of one user (by work email) fail until cleared, as a Huma user whose record is broken
        does: ``answer`` "500" answers the StandardServerErrorResponse (HTTP 500, every time: retries do not
        help), "malformed" answers 200 with a body that is not JSON. ``reads``: "details" (``GET /users/{id}``)
        and/or "positions" (``GET /users/{id}/positions``). The user is still listed. Kept in memory only."""
        if not isinstance(email, str) or "@" not in email:
            raise ValueError("email must be a work email address")
        if answer not in self.READ_ANSWERS:
            raise ValueError(f"answer must be one of {', '.join(self.READ_ANSWERS)}")
        if isinstance(reads, str) or not reads or not set(reads) <= set(self.READS):
            raise ValueError(f"reads must be a non-empty list of {', '.join(self.READS)}")
        if message is not None and not isinstance(message, str):
            raise ValueError("message must be a string")
        self.failed_reads[email_key(email)] = {"answer": answer, "reads": frozenset(reads),
                                               "message": message or "Unexpected error reading the user"}

    def clear_failed_reads(self, email: str | None = None) -> None:
        """Answer reads normally again: for one user, or (no email) for everybody."""
        if email is None:
            self.failed_reads.clear()
        else:
            self.failed_reads.pop(email_key(email), None)

    def _failed_read(self, request: Request, user_id: str, read: str) -> Response | None:
        """The broken answer `fail_reads` set for this user and read, or None (a 500 is raised)."""
        email = self.directory.user(user_id).get("email")
        rule = self.failed_reads.get(email_key(email)) if isinstance(email, str) else None
        if rule is None or read not in rule["reads"]:
            return None
        if rule["answer"] == "500":
            raise ApiError(500, render.server_error(500, request.url.path, rule["message"]))
        return Response(b'{"id": "' + user_id.encode() + b'", "givenName": {"value": ', status_code=200,
                        media_type="application/json")

    def _refuse_rejected(self, request: Request, *emails: str | None) -> None:
        for email in emails:
            rule = self.rejections.get(email_key(email)) if isinstance(email, str) else None
            if rule is None:
                continue
            status = rule["status"]
            if status >= 500:
                body = render.server_error(status, request.url.path, rule["message"])
            else:
                body = {"errorCode": INVALID_VALUE, "errorMessage": rule["message"], "fields": rule["fields"]}
            raise ApiError(status, body)

    def _refuse_rejected_user(self, request: Request, user_id: str) -> None:
        self._refuse_rejected(request, self.directory.user(user_id).get("email"))

    # ------------------------------------------------------------ plumbing

    def _route(self, method: str, template: str, handler, auth: bool) -> Route:
        key = f"{method} {template}"
        area = template.split("/")[3] if template.startswith("/users/{userId}/positions") else template.split("/")[1]
        permission = f"{area}:{'read' if method == 'GET' else 'write'}"

        async def endpoint(request: Request) -> Response:
            self.request_counts[key] += 1
            try:
                if auth:
                    token = self._authenticate(request)
                    if permission not in self._token_permissions.get(token, frozenset(PERMISSIONS)):
                        raise ApiError(403, render.server_error(403, request.url.path, "Access Denied"))
                return await handler(request)
            except InvalidFields as exc:
                return _json_response(render.invalid_fields(exc), 400)
            except NotFound as exc:
                return _json_response(render.not_found(exc.kind, exc.object_id), 404)
            except ApiError as exc:
                return _json_response(exc.body, exc.status, exc.headers)

        return Route(template, endpoint, methods=[method])

    def _authenticate(self, request: Request) -> str:
        token = bearer_token(request.headers)
        state = self.tokens.check(token) if token else None
        if state is TokenState.VALID:
            return token
        if state is None:
            description = "Full authentication is required: send Authorization: Bearer <access_token>"
        elif state is TokenState.EXPIRED:
            description = "Access token expired"
        else:
            description = "Invalid access token"
        header = f'Bearer error="invalid_token", error_description="{description}"'
        raise ApiError(401, render.invalid_token("invalid_token", description), {"WWW-Authenticate": header})

    @staticmethod
    def _decode_json(raw: bytes):
        if not raw.strip():
            raise InvalidFields.one("body", REQUIRED, "a JSON request body is required")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidFields.one("body", INVALID_FORMAT, f"malformed JSON request body: {exc}") from None

    async def _body(self, request: Request):
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise InvalidFields.one("body", INVALID_FORMAT,
                                    f"Content-Type must be application/json, got {content_type}")
        return self._decode_json(await request.body())

    async def _http_exception(self, request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return _json_response(render.not_found("Route", f"{request.method} {request.url.path}"), 404)
        message = f"{request.method} is not supported on {request.url.path}" if exc.status_code == 405 else exc.detail
        return _json_response(render.server_error(exc.status_code, request.url.path, message), exc.status_code,
                              dict(exc.headers or {}))

    async def _unexpected(self, request: Request, exc: Exception) -> Response:
        return _json_response(render.server_error(500, request.url.path, "Unexpected error in the Huma sandbox"), 500)

    @staticmethod
    def _uuid_path(request: Request, name: str = "id") -> str:
        value = request.path_params[name]
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise InvalidFields.one(name, INVALID_FORMAT, f"{name} must be a UUID") from None

    @staticmethod
    def _user_path(request: Request, name: str) -> str:
        value = request.path_params[name]
        return SERVICE_USER_ID if value == "me" else value

    # ------------------------------------------------------------ authentication

    async def _token(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        raw = await request.body()
        if content_type == "application/x-www-form-urlencoded":
            form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        elif content_type in ("", "application/json") or content_type.endswith("+json"):
            form = self._decode_json(raw)
            if not isinstance(form, dict):
                raise InvalidFields.one("body", INVALID_FORMAT, "the request body must be a JSON object")
        else:
            raise InvalidFields.one("body", INVALID_FORMAT,
                                    "send application/x-www-form-urlencoded or application/json")
        grant_type = form.get("grant_type")
        if not grant_type:
            raise InvalidFields.one("grant_type", REQUIRED, "grant_type is required")
        if grant_type != "client_credentials":
            raise InvalidFields.one("grant_type", INVALID_FORMAT,
                                    f"unsupported grant_type {grant_type!r}: Open API keys use client_credentials")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = self._basic_credentials(request)
        if basic and client_id is None and client_secret is None:
            client_id, client_secret = basic
        key = self.api_keys.get(client_id) if isinstance(client_id, str) else None
        if not (key is not None and isinstance(client_secret, str)
                and hmac.compare_digest(client_secret.encode(), key[0].encode())):
            raise ApiError(401, render.invalid_token("invalid_client", "Bad client credentials"))
        token = self.tokens.issue()
        self._token_permissions[token] = key[1]
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.tokens.expires_in,
            "organizationId": self.settings.organization_id,
            "userId": SERVICE_USER_ID,
        }
        return _json_response(body, headers={"Cache-Control": "no-store"})

    @staticmethod
    def _basic_credentials(request: Request) -> tuple[str, str] | None:
        scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            client_id, sep, secret = base64.b64decode(value.strip()).decode().partition(":")
        except ValueError:
            return None
        return (client_id, secret) if sep else None

    # ------------------------------------------------------------ users

    async def _list_users(self, request: Request) -> Response:
        q = _Query(request)
        limit = q.integer("limit", 25, USERS_PAGE_MAX)
        offset = q.integer("offset", 0)
        search = q.text("search")
        ids = q.array("id", me=True)
        exclude_ids = q.array("excludeId", me=True)
        job_titles = q.array("jobTitle", uuids=True)
        group_filters = [g for g in (q.array(name, uuids=True) for name in ("company", "team", "location")) if g]
        supervisor = q.text("supervisor")
        is_supervisor = q.boolean("isSupervisor")
        active = q.boolean("isActive")
        direction = q.choice("orderDirection", ("ASC", "DESC"))
        q.refuse("notRecursivelySupervisorOf", "notRecursivelySubordinateOf", "permission")
        q.done()
        users = self.directory.search_users(
            search=search, ids=ids, exclude_ids=exclude_ids, job_title_ids=job_titles, group_ids=group_filters,
            active=active, supervisor=SERVICE_USER_ID if supervisor == "me" else supervisor,
            is_supervisor=is_supervisor, descending=direction == "DESC",
        )
        items = [render.user_item(self.directory, u) for u in users[offset:offset + limit]]
        return _json_response(render.page(items, len(users), q.filters, {"limit": limit, "offset": offset}))

    async def _create_user(self, request: Request) -> Response:
        values = parse_user_input(await self._body(request))
        self._refuse_rejected(request, values.get("email"))
        self.company_group_id()
        doc = self.directory.create_user(values)
        self._emit(USERS_CREATE, doc["id"])
        return _json_response(render.user_item(self.directory, doc))

    async def _get_user(self, request: Request) -> Response:
        doc = self.directory.user(self._user_path(request, "id"))
        broken = self._failed_read(request, doc["id"], "details")
        if broken is not None:
            return broken
        return _json_response(render.user_details(self.directory, doc))

    async def _patch_user(self, request: Request) -> Response:
        user_id = self._user_path(request, "id")
        self._refuse_rejected_user(request, user_id)
        changes = parse_user_details_input(await self._body(request))
        self._refuse_rejected(request, changes.get("email"))
        doc = self.directory.update_user(user_id, changes)
        self._emit(USERS_UPDATE, user_id)
        return _json_response(render.user_details(self.directory, doc))

    # ------------------------------------------------------------ positions

    async def _list_positions(self, request: Request) -> Response:
        user_id = self._user_path(request, "userId")
        q = _Query(request)
        limit = q.integer("limit", None)
        offset = q.integer("offset", 0)
        q.done()
        self.directory.user(user_id)
        broken = self._failed_read(request, user_id, "positions")
        if broken is not None:
            return broken
        positions = self.directory.positions_of(user_id)
        window = positions[offset:] if limit is None else positions[offset:offset + limit]
        items = [render.position_summary(self.directory, p) for p in window]
        meta = {"offset": offset, **({"limit": limit} if limit is not None else {})}
        return _json_response(render.page(items, len(positions), {"userId": user_id}, meta))

    async def _create_position(self, request: Request) -> Response:
        user_id = self._user_path(request, "userId")
        self._refuse_rejected_user(request, user_id)
        values = parse_position_create(await self._body(request))
        doc = self.directory.create_position(user_id, values)
        self._emit(USERS_UPDATE, user_id)
        return _json_response(render.position(self.directory, doc))

    async def _get_position(self, request: Request) -> Response:
        position_id = self._uuid_path(request)
        doc = self.directory.position(self._user_path(request, "userId"), position_id)
        return _json_response(render.position(self.directory, doc))

    async def _patch_position(self, request: Request) -> Response:
        user_id, position_id = self._user_path(request, "userId"), self._uuid_path(request)
        self.directory.position(user_id, position_id)
        self._refuse_rejected_user(request, user_id)
        changes = parse_position_update(await self._body(request))
        doc = self.directory.update_position(user_id, position_id, changes)
        self._emit(USERS_UPDATE, user_id)
        return _json_response(render.position(self.directory, doc))

    async def _delete_position(self, request: Request) -> Response:
        user_id, position_id = self._user_path(request, "userId"), self._uuid_path(request)
        self.directory.position(user_id, position_id)
        self._refuse_rejected_user(request, user_id)
        self.directory.delete_position(user_id, position_id)
        self._emit(USERS_UPDATE, user_id)
        return Response(status_code=200)

    # ------------------------------------------------------------ job titles

    async def _list_job_titles(self, request: Request) -> Response:
        titles = self.directory.find_job_titles(request.query_params.get("search"))
        return _json_response([render.job_title_summary(t) for t in titles])

    async def _create_job_title(self, request: Request) -> Response:
        doc = self.directory.create_job_title(parse_job_title_create(await self._body(request)))
        return _json_response(render.job_title(doc))

    async def _get_job_title(self, request: Request) -> Response:
        return _json_response(render.job_title(self.directory.job_title(self._uuid_path(request))))

    async def _patch_job_title(self, request: Request) -> Response:
        title_id = self._uuid_path(request)
        self.directory.job_title(title_id)
        doc = self.directory.update_job_title(title_id, parse_job_title_update(await self._body(request)))
        return _json_response(render.job_title(doc))

    # ------------------------------------------------------------ groups

    async def _list_groups(self, request: Request) -> Response:
        q = _Query(request)
        limit = q.integer("limit", 10, GROUPS_PAGE_MAX)
        offset = q.integer("offset", 0)
        types = q.array("type", choices=("team", "location", "company"), max_items=None)
        search = q.text("search")
        direction = q.choice("orderDirection", ("ASC", "DESC"))
        q.done()
        self.company_group_id()
        groups = self.directory.find_groups(types, search)
        if direction == "DESC":
            groups = groups[::-1]
        items = [render.group(g) for g in groups[offset:offset + limit]]
        return _json_response(render.page(items, len(groups), q.filters, {"limit": limit, "offset": offset}))

    async def _get_group(self, request: Request) -> Response:
        group_id = self._uuid_path(request)
        self.company_group_id()
        return _json_response(render.group_details(self.directory, self.directory.group(group_id)))

    # ------------------------------------------------------------ admin

    async def _expire_tokens(self, request: Request) -> Response:
        self.tokens.expire_all()
        return _json_response({"expired": True})

    async def _api_keys_admin(self, request: Request) -> Response:
        """POST {"permissions": [...]} creates an API key holding only those: 201 with its client id and secret."""
        body = await self._admin_body(request)
        unknown = sorted(set(body) - {"permissions"})
        if unknown:
            raise InvalidFields([FieldProblem(k, UNSUPPORTED, f"{k} is not an API key setting") for k in unknown])
        try:
            return _json_response(self.create_api_key(body.get("permissions")), 201)
        except ValueError as exc:
            raise InvalidFields.one("permissions", INVALID_FORMAT, str(exc)) from None

    async def _reject_writes(self, request: Request) -> Response:
        """POST {"email", "status"?, "message"?, "fields"?} starts refusing that user's writes;
        DELETE (optionally {"email"} or ?email=) stops it. Problems answer 400 InvalidFieldFormatResponse."""
        try:
            raw = await request.body()
            body = self._decode_json(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise InvalidFields.one("body", INVALID_FORMAT, "the request body must be a JSON object")
            if request.method == "DELETE":
                self.clear_rejected_writes(body.get("email") or request.query_params.get("email"))
                return _json_response({"rejecting": sorted(self.rejections)})
            unknown = sorted(set(body) - {"email", "status", "message", "fields"})
            if unknown:
                raise InvalidFields.one(unknown[0], UNSUPPORTED, f"unknown keys {unknown}")
            try:
                self.reject_writes(body.get("email"), body.get("status", 400), body.get("message"),
                                   body.get("fields"))
            except ValueError as exc:
                raise InvalidFields.one("body", INVALID_FORMAT, str(exc)) from None
        except InvalidFields as exc:
            return _json_response(render.invalid_fields(exc), 400)
        return _json_response({"rejecting": sorted(self.rejections)})

    async def _fail_reads(self, request: Request) -> Response:
        """POST {"email", "answer"?: "500" | "malformed", "reads"?: ["details", "positions"], "message"?} makes
        that user's reads fail; DELETE (optionally {"email"} or ?email=) stops it."""
        raw = await request.body()
        body = self._decode_json(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise InvalidFields.one("body", INVALID_FORMAT, "the request body must be a JSON object")
        if request.method == "DELETE":
            self.clear_failed_reads(body.get("email") or request.query_params.get("email"))
            return _json_response({"failing_reads": sorted(self.failed_reads)})
        unknown = sorted(set(body) - {"email", "answer", "reads", "message"})
        if unknown:
            raise InvalidFields.one(unknown[0], UNSUPPORTED, f"unknown keys {unknown}")
        try:
            self.fail_reads(body.get("email"), body.get("answer", "500"), body.get("reads", self.READS),
                            body.get("message"))
        except ValueError as exc:
            raise InvalidFields.one("body", INVALID_FORMAT, str(exc)) from None
        return _json_response({"failing_reads": sorted(self.failed_reads)})

    @staticmethod
    def _admin(handler):
        """An admin endpoint whose refusals answer like the API's (400 InvalidFieldFormatResponse, 404)."""
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except InvalidFields as exc:
                return _json_response(render.invalid_fields(exc), 400)
            except NotFound as exc:
                return _json_response(render.not_found(exc.kind, exc.object_id), 404)
        return endpoint

    async def _admin_body(self, request: Request, *, optional: bool = False) -> dict:
        raw = await request.body()
        if optional and not raw.strip():
            return {}
        body = self._decode_json(raw)
        if not isinstance(body, dict):
            raise InvalidFields.one("body", INVALID_FORMAT, "the request body must be a JSON object")
        return body

    async def _webhooks_admin(self, request: Request) -> Response:
        """GET lists the registrations (never their secret or token) and the counts; POST {"url", "secret"?,
        "token"?, "signature"?: "hex" | "base64"} registers one: 201 with its id."""
        if request.method == "GET":
            return _json_response({"webhooks": self.webhooks.registrations(), "totals": self.webhooks.stats()})
        body = await self._admin_body(request)
        unknown = sorted(set(body) - {"url", "secret", "token", "signature"})
        if unknown:
            raise InvalidFields([FieldProblem(k, UNSUPPORTED, f"{k} is not a webhook setting") for k in unknown])
        try:
            webhook_id = self.register_webhook(body.get("url"), body.get("secret"), body.get("token"),
                                               body.get("signature", "hex"))
        except WebhookError as exc:
            raise InvalidFields.one(exc.field, INVALID_FORMAT, str(exc)) from None
        return _json_response(self.webhooks.get(webhook_id), 201)

    async def _webhook_delete(self, request: Request) -> Response:
        webhook_id = request.path_params["id"]
        try:
            registration = self.webhooks.get(webhook_id)
            self.unregister_webhook(webhook_id)
        except KeyError:
            raise NotFound("Webhook", webhook_id) from None
        return _json_response({"deleted": webhook_id, "dropped": registration["pending"]})

    async def _webhooks_export(self, request: Request) -> Response:
        """Send every user as users-export to every registration, or (``?id=`` or {"id"}) to one: 202."""
        body = await self._admin_body(request, optional=True)
        webhook_id = request.query_params.get("id") or body.get("id")
        try:
            requests = self.export_users_to_webhooks(webhook_id)
        except KeyError:
            raise NotFound("Webhook", str(webhook_id)) from None
        targets = [webhook_id] if webhook_id else [r["id"] for r in self.webhooks.registrations()]
        return _json_response({"topic": USERS_EXPORT, "users": len(self.directory.users),
                               "requestsPerWebhook": requests, "webhooks": targets}, 202)

    async def _admin_user(self, request: Request) -> Response:
        """PATCH: an HR administrator's change (``admin_update_user``); DELETE: ``admin_delete_user``. The
        user is named by the path's id or by ``?email=``."""
        key = request.path_params.get("id") or request.query_params.get("email")
        if not key:
            raise InvalidFields.one("email", REQUIRED, "name the user: /_sandbox/users/{id} or ?email=")
        if request.method == "DELETE":
            return _json_response({"deleted": self.admin_delete_user(key)})
        return _json_response(self.admin_update_user(key, await self._admin_body(request)))

    async def _stats(self, request: Request) -> Response:
        return _json_response({
            "users": self.store.count(USERS),
            "positions": self.store.count(POSITIONS),
            "jobTitles": self.store.count(JOB_TITLES),
            "groups": self.store.count(GROUPS),
            "requests": dict(sorted(self.request_counts.items())),
            "faults": dict(self.faults.counts) if self.faults else {},
            "webhooks": self.webhooks.stats(),
        })
