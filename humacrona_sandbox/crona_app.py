"""The Crona Lön sandbox: a local emulator of the employee API described in crona-api.md.

It is a product feature, not a mock: it enforces the rules Crona enforces (crona_rules.py), answers in
Crona's error shape everywhere (``{"fel": {"kod", "meddelande", "falt"}}``), and keeps its employees in
a :class:`Store`, so a restart with the same SQLite file comes back with the same data.

Choices the contract leaves open, made here and relied on by the client:

* ``POST /api/v1/anstallda`` answers **201** with the created employee. When the ``AnstNr`` already
  exists the answer is 409 even if the body breaks other rules: a client retrying a create after a
  dropped connection must learn that the employee exists.
* ``Andrad`` is read-only and **ignored** in a write body (so a client may send a record back as it
  read it), as is an ``AnstNr`` in a PATCH body equal to the one in the path.
* Values are stored exactly as written (clearing and account numbers are not normalised).
* ``Andrad`` strictly increases across changes (see ``ChangeClock``); a PATCH that changes nothing
  leaves it, and the stored record, untouched.
* Employees are listed in creation order. With ``andradEfter`` the order is the same, filtered.
* Unknown query parameters are refused (400 ``okand_parameter``): a misspelt ``andradEfter`` must not
  silently turn an incremental read into a full one. A timestamp without offset is taken as UTC.
* ``POST /_sandbox/expire-tokens`` expires the access tokens (``?refresh=true`` also the refresh
  tokens), so clients can be tested on a token running out mid-run.
* ``POST /_sandbox/reject-writes`` ``{"email", "status"?, "message"?, "falt"?}`` makes every write for the
  employee with that work email (``EpostArb``) fail as Crona refuses data (default 422 ``valideringsfel``,
  in Crona's error shape); ``DELETE`` (optionally ``{"email"}`` or ``?email=``) stops it. See
  ``CronaSandbox.reject_writes``. Admin endpoints need no token and are never faulted.
* ``GET /_sandbox/paxml/export`` answers every employee as a PAXml 2.0 file (ISO-8859-1);
  ``POST /_sandbox/paxml/import`` applies a PAXml file person by person under the API's rules
  (``CronaSandbox.import_paxml``), or refuses it whole (400 ``ogiltig_paxml``) when it is not valid PAXml.
  A person under an unknown ``anstid`` whose work email or ``persnr`` belongs to another employee is
  refused as a changed AnstNr (crona_identity.py); the API's POST does not check the work email.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from humacrona_sandbox import crona_paxml
from humacrona_sandbox.crona_identity import Identities
from humacrona_sandbox.crona_rules import (
    CRONA_EMPLOYEE_FIELDS,
    REQUIRED_FIELDS,
    WRITABLE_FIELDS,
    ChangeClock,
    RuleViolations,
    check_anstnr,
    check_create,
    check_patch,
    format_timestamp,
    parse_timestamp,
)
from humacrona_sandbox.defaults import DEFAULT_CRONA_ACTIVATION_CODE
from humacrona_sandbox.faults import FaultConfig, FaultInjector
from humacrona_sandbox.store import Store
from humacrona_sandbox.tokens import TokenIssuer, TokenState, bearer_token

__all__ = [
    "CRONA_EMPLOYEE_FIELDS",
    "DEFAULT_CRONA_ACTIVATION_CODE",
    "CronaSandbox",
    "CronaSandboxSettings",
    "crona_error_body",
]

COLLECTION = "employees"  # one Store per sandbox (crona.sqlite), so no prefix is needed
PERSNR_COLLECTION = "personnummer"  # AnstNr -> the persnr a PAXml import gave (not an API field)
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
LIST_PARAMETERS = ("sida", "antal", "andradEfter")

_STATUS_CODES = {
    400: ("ogiltig_begaran", "The request is malformed."),
    401: ("ogiltig_token", "Authentication required."),
    404: ("hittades_inte", "No such resource."),
    405: ("metod_ej_tillaten", "Method not allowed on this resource."),
    409: ("konflikt", "Conflict."),
    422: ("valideringsfel", "The data breaks a rule."),
    429: ("for_manga_anrop", "Too many requests; retry after the number of seconds in Retry-After."),
    500: ("internt_fel", "Internal error."),
    502: ("internt_fel", "Bad gateway."),
    503: ("tjansten_otillganglig", "The service is temporarily unavailable; retry later."),
}


@dataclass
class CronaSandboxSettings:
    activation_code: str = DEFAULT_CRONA_ACTIVATION_CODE
    token_lifetime_s: float = 900.0
    refresh_lifetime_s: float = 86400.0
    company_id: str = "5f0c2a9e-3b7d-4e41-9a52-1c8d6e7f9b30"
    company_name: str = "Nordljus Tech AB"
    orgnr: str = "556677-8899"


def crona_error_body(status: int, path: str = "", kod: str | None = None, meddelande: str | None = None,
                     falt: list[str] | None = None) -> dict:
    """Crona's error shape; also what the FaultInjector renders for its 500/503/429."""
    default_kod, default_text = _STATUS_CODES.get(status, ("fel", "Error."))
    return {"fel": {"kod": kod or default_kod, "meddelande": meddelande or default_text, "falt": list(falt or [])}}


def _error(status: int, kod: str, meddelande: str, falt: list[str] | None = None,
           headers: dict | None = None) -> JSONResponse:
    return JSONResponse(crona_error_body(status, kod=kod, meddelande=meddelande, falt=falt), status_code=status,
                        headers=headers)


def _unauthorized(kod: str, meddelande: str) -> JSONResponse:
    return _error(401, kod, meddelande, headers={"WWW-Authenticate": f'Bearer error="invalid_token", kod="{kod}"'})


class CronaSandbox:
    """One Crona company with its employees, its activation code and its tokens."""

    def __init__(self, store: Store, settings: CronaSandboxSettings | None = None, faults: FaultConfig | None = None):
        self.store = store
        self.settings = settings or CronaSandboxSettings()
        self.faults = faults
        self.tokens = TokenIssuer(self.settings.token_lifetime_s)
        self.refresh_tokens = TokenIssuer(self.settings.refresh_lifetime_s)
        self._lock = threading.RLock()
        self._clock = ChangeClock()
        self._order: list[str] = []  # AnstNr in creation order: cheap, stable paging
        self._changed: dict[str, datetime | None] = {}  # every AnstNr -> its Andrad: O(1) existence, cheap andradEfter
        self._filtered: dict[datetime, list[str]] = {}  # andradEfter -> matching AnstNr, until the next change
        self._requests: Counter[str] = Counter()
        self.rejections: dict[str, dict] = {}  # lower-cased EpostArb -> the error every write for it gets
        self._rebuild_index()
        self._api = self._build_app()
        counted = _RequestCounter(self._api, self._requests)
        self.app = FaultInjector(counted, faults, crona_error_body) if faults is not None else counted

    # --- data ------------------------------------------------------------------------------------

    def _rebuild_index(self) -> None:
        for doc in self.store.values(COLLECTION):
            anstnr = doc["AnstNr"]
            self._order.append(anstnr)
            changed = parse_timestamp(doc.get("Andrad") or "")
            self._changed[anstnr] = changed
            if changed is not None:
                self._clock.observe(changed)

    def load_seed(self, employees: list[dict]) -> None:
        """Add employees as old payroll data has them: stored rules (Land, Mobil, ...) are not applied.

        Refused (ValueError, nothing stored): a missing or duplicate ``AnstNr``, a missing required
        field, an unknown field name, a value that is not a string or null. An ``Andrad`` given in the
        seed is kept (normalised to Crona's form) so seeds can look old; otherwise it is set to now.
        """
        problems: list[str] = []
        docs: list[tuple[str, dict]] = []
        seen: set[str] = set()
        with self._lock:
            for index, raw in enumerate(employees):
                where = f"employee #{index} ({raw.get('AnstNr')!r})"
                unknown = sorted(set(raw) - set(CRONA_EMPLOYEE_FIELDS))
                if unknown:
                    problems.append(f"{where}: unknown fields {unknown}")
                bad_types = sorted(k for k, v in raw.items() if v is not None and not isinstance(v, str))
                if bad_types:
                    problems.append(f"{where}: values must be strings or null: {bad_types}")
                anstnr = raw.get("AnstNr")
                reason = check_anstnr(anstnr)
                if reason:
                    problems.append(f"{where}: AnstNr {reason}")
                elif anstnr in seen or anstnr in self._changed:
                    problems.append(f"{where}: duplicate AnstNr")
                else:
                    seen.add(anstnr)
                missing = [f for f in REQUIRED_FIELDS if not (isinstance(raw.get(f), str) and raw[f].strip())]
                if missing:
                    problems.append(f"{where}: missing required {missing}")
                doc = {name: raw.get(name) for name in CRONA_EMPLOYEE_FIELDS}
                if raw.get("Andrad"):
                    changed = parse_timestamp(str(raw["Andrad"]))
                    if changed is None:
                        problems.append(f"{where}: Andrad {raw['Andrad']!r} is not an ISO 8601 timestamp")
                        continue
                    self._clock.observe(changed)
                else:
                    changed = self._clock.next()
                doc["Andrad"] = format_timestamp(changed)
                docs.append((anstnr, doc))
            if problems:
                shown = "\n  ".join(problems[:20])
                more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
                raise ValueError(f"Crona seed refused, nothing loaded:\n  {shown}{more}")
            self.store.put_many(COLLECTION, docs)
            for anstnr, doc in docs:
                self._order.append(anstnr)
                self._changed[anstnr] = parse_timestamp(doc["Andrad"])
            self._filtered.clear()

    def _save(self, doc: dict, is_new: bool) -> dict:
        """Stamp ``Andrad`` and store; the caller holds the lock."""
        changed = self._clock.next()
        doc["Andrad"] = format_timestamp(changed)
        self.store.put(COLLECTION, doc["AnstNr"], doc)
        if is_new:
            self._order.append(doc["AnstNr"])
        self._changed[doc["AnstNr"]] = changed
        self._filtered.clear()
        return doc

    def _changed_after(self, moment: datetime) -> list[str]:
        with self._lock:
            keys = self._filtered.get(moment)
            if keys is None:
                keys = [k for k in self._order if (c := self._changed.get(k)) is not None and c > moment]
                if len(self._filtered) >= 8:
                    self._filtered.clear()
                self._filtered[moment] = keys
            return keys

    # --- refused writes (tests and the demo) -------------------------------------------------------

    def reject_writes(self, email: str, status: int = 422, message: str | None = None,
                      falt: list[str] | None = None) -> None:
        """Refuse every write (``POST`` and ``PATCH /anstallda``) for the employee with this work email
        (``EpostArb``, without letter case) as Crona refuses data: ``status`` (default 422) with Crona's
        error body ``{"fel": {"kod", "meddelande": message, "falt"}}``. Nothing is written; reads are not
        affected. Kept in memory only."""
        if not isinstance(email, str) or "@" not in email:
            raise ValueError("email must be a work email address")
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599 \
                or status in (401, 404, 429):
            raise ValueError("status must be 400-599, other than 401, 404 and 429 (those mean something else)")
        if falt is not None and not (isinstance(falt, list) and all(isinstance(f, str) for f in falt)):
            raise ValueError("falt must be a list of field names")
        if message is not None and not isinstance(message, str):
            raise ValueError("message must be a string")
        self.rejections[email.strip().lower()] = {
            "status": status, "meddelande": message or f"Changes to employee {email.strip()} are refused.",
            "falt": list(falt or ()),
        }

    def clear_rejected_writes(self, email: str | None = None) -> None:
        """Accept writes again: for one employee, or (no email) for everybody."""
        if email is None:
            self.rejections.clear()
        else:
            self.rejections.pop(email.strip().lower(), None)

    def _rejected(self, *emails: object) -> JSONResponse | None:
        for email in emails:
            rule = self.rejections.get(email.strip().lower()) if isinstance(email, str) else None
            if rule is not None:
                status = rule["status"]
                return _error(status, _STATUS_CODES.get(status, ("fel", ""))[0], rule["meddelande"], rule["falt"])
        return None

    async def _reject_writes(self, request: Request) -> JSONResponse:
        raw = await request.body()
        body = await self._json_object(request) if raw.strip() else {}
        if isinstance(body, JSONResponse):
            return body
        if request.method == "DELETE":
            self.clear_rejected_writes(body.get("email") or request.query_params.get("email"))
            return JSONResponse({"rejecting": sorted(self.rejections)})
        unknown = sorted(set(body) - {"email", "status", "message", "falt"})
        if unknown:
            return _error(400, "ogiltig_parameter", f"Unknown keys {unknown}.", unknown)
        try:
            self.reject_writes(body.get("email"), body.get("status", 422), body.get("message"), body.get("falt"))
        except ValueError as exc:
            return _error(400, "ogiltig_parameter", str(exc))
        return JSONResponse({"rejecting": sorted(self.rejections)})

    # --- PAXml files (crona_paxml.py) --------------------------------------------------------------

    def export_paxml(self) -> bytes:
        """Every employee, in creation order, as a PAXml 2.0 document validated against the schema."""
        with self._lock:
            employees = [doc for key in self._order if (doc := self.store.get(COLLECTION, key)) is not None]
            persnr_of = self._persnr_of()
        return crona_paxml.write_employees(employees, self.settings.company_name, self.settings.orgnr, persnr_of)

    def _persnr_of(self) -> dict[str, str]:
        """AnstNr -> personnummer, for the employees an import gave one (the API has no such field)."""
        return {doc["AnstNr"]: doc["persnr"] for doc in self.store.values(PERSNR_COLLECTION)}

    def import_paxml(self, data: bytes) -> dict:
        """Apply each ``<person>`` as the API would: per person applied or refused with reasons.

        A changed AnstNr is refused too (crona_identity.py): an unknown ``anstid`` whose work email or
        personnummer belongs to another employee. Raises PaxmlInvalid (nothing applied) when the
        document is not valid PAXml 2.0."""
        persons = crona_paxml.read_persons(data)
        with self._lock:  # one file at a time, so the identities below stay true while it applies
            identities = Identities.of(self.store.values(COLLECTION), self._persnr_of())
            results = [self._apply_person(person, identities) for person in persons]
        counts = Counter(r["result"] for r in results) + Counter(r["action"] for r in results if "action" in r)
        return {"personer": results, "counts": {k: counts.get(k, 0) for k in
                                                 ("applied", "refused", "created", "updated", "unchanged")}}

    def _apply_person(self, person: crona_paxml.PaxmlPerson, identities: Identities) -> dict:
        """One person of an import under the API's rules: an unknown anstid is a create (check_create), a
        known one a change of the elements present that differ from the stored values (check_patch).
        The caller holds the lock."""
        result: dict = {"anstid": person.anstid, "line": person.line}
        if person.ignored:
            result["ignored"] = person.ignored
        if person.delete:
            return {**result, "result": "refused", "falt": ["delete"],
                    "reasons": ["delete: the sandbox never deletes an employee from an HR import"]}
        if person.anstid is None:
            return {**result, "result": "refused", "falt": ["AnstNr"],
                    "reasons": ["AnstNr: the attribute anstid is required (persnr alone matches nobody here)"]}
        current = self.store.get(COLLECTION, person.anstid)
        email = person.fields.get("EpostArb")
        if (refusal := identities.refusal(person.anstid, current is None, email, person.persnr)) is not None:
            return {**result, "result": "refused", "falt": [refusal[0]], "reasons": [refusal[1]]}
        if current is None:
            body = {"AnstNr": person.anstid, **person.fields}
            refused = self._rejected(email)
            problems = check_create(body)
            changes, action = body, "created"
        else:
            changes = {k: v for k, v in person.fields.items() if current.get(k) != v}
            refused = self._rejected(current.get("EpostArb"), changes.get("EpostArb")) if changes else None
            problems = check_patch(person.anstid, current, changes)
            action = "updated" if changes else "unchanged"
        if refused is not None:
            fel = json.loads(refused.body)["fel"]
            return {**result, "result": "refused", "falt": fel["falt"], "reasons": [fel["meddelande"]]}
        if problems:
            return {**result, "result": "refused", "falt": problems.fields,
                    "reasons": [f"{name}: {text}" for name, text in problems.problems]}
        if current is None:
            self._save({name: changes.get(name) for name in CRONA_EMPLOYEE_FIELDS}, is_new=True)
        elif changes:
            self._save({**current, **changes}, is_new=False)
        if person.persnr is not None and identities.persnr_of.get(person.anstid) != person.persnr:
            self.store.put(PERSNR_COLLECTION, person.anstid, {"AnstNr": person.anstid, "persnr": person.persnr})
        after = {**(current or {}), **changes}
        identities.record(person.anstid, (current or {}).get("EpostArb"), after.get("EpostArb"), person.persnr)
        return {**result, "result": "applied", "action": action}

    # --- HTTP ------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        routes = [
            Route("/api/v1/auth/token", self._token, methods=["POST"]),
            Route("/api/v1/auth/refresh", self._refresh, methods=["POST"]),
            Route("/api/v1/anstallda", self._list, methods=["GET"]),
            Route("/api/v1/anstallda", self._create, methods=["POST"]),
            Route("/api/v1/anstallda/{anstnr:str}", self._get, methods=["GET"]),
            Route("/api/v1/anstallda/{anstnr:str}", self._patch, methods=["PATCH"]),
            Route("/_sandbox/expire-tokens", self._expire_tokens, methods=["POST"]),
            Route("/_sandbox/stats", self._stats, methods=["GET"]),
            Route("/_sandbox/reject-writes", self._reject_writes, methods=["POST", "DELETE"]),
            Route("/_sandbox/paxml/export", self._paxml_export, methods=["GET"]),
            Route("/_sandbox/paxml/import", self._paxml_import, methods=["POST"]),
        ]
        app = Starlette(routes=routes, exception_handlers={HTTPException: self._http_error, Exception: self._crash})
        app.router.redirect_slashes = False  # a redirect would not be in Crona's error shape
        return app

    async def _http_error(self, request: Request, exc: HTTPException) -> JSONResponse:
        status = exc.status_code
        if status == 404:
            text = f"No resource at {request.url.path}."
        elif status == 405:
            text = f"{request.method} is not allowed on {request.url.path}."
        else:
            text = exc.detail or _STATUS_CODES.get(status, ("", "Error."))[1]
        kod = _STATUS_CODES.get(status, ("fel", ""))[0]
        return _error(status, kod, text, headers=dict(exc.headers or {}))

    async def _crash(self, request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internt_fel", "Internal error in the Crona sandbox.")

    async def _json_object(self, request: Request) -> dict | JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, "ogiltig_json", f"The body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, "ogiltig_json", "The body must be a JSON object.")
        return body

    def _authorize(self, request: Request) -> JSONResponse | None:
        token = bearer_token(request.headers)
        if token is None:
            return _unauthorized("ogiltig_token", "Missing 'Authorization: Bearer <access_token>'.")
        state = self.tokens.check(token)
        if state is TokenState.EXPIRED:
            return _unauthorized("token_expired", "The access token has expired; refresh it.")
        if state is TokenState.UNKNOWN:
            return _unauthorized("ogiltig_token", "The access token is not valid.")
        return None

    def _token_answer(self) -> JSONResponse:
        s = self.settings
        return JSONResponse({
            "access_token": self.tokens.issue(),
            "refresh_token": self.refresh_tokens.issue(),
            "token_type": "Bearer",
            "expires_in": self.tokens.expires_in,
            "foretag": {"id": s.company_id, "namn": s.company_name, "orgnr": s.orgnr},
        })

    async def _token(self, request: Request) -> JSONResponse:
        body = await self._json_object(request)
        if isinstance(body, JSONResponse):
            return body
        code = body.get("aktiveringskod")
        if not isinstance(code, str) or not code:
            return _error(400, "ogiltig_parameter", "'aktiveringskod' is required.", ["aktiveringskod"])
        if not secrets.compare_digest(code.encode(), self.settings.activation_code.encode()):
            return _unauthorized("ogiltig_aktiveringskod", "Unknown or revoked aktiveringskod.")
        return self._token_answer()

    async def _refresh(self, request: Request) -> JSONResponse:
        body = await self._json_object(request)
        if isinstance(body, JSONResponse):
            return body
        token = body.get("refresh_token")
        if not isinstance(token, str) or not token:
            return _error(400, "ogiltig_parameter", "'refresh_token' is required.", ["refresh_token"])
        state = self.refresh_tokens.check(token)
        self.refresh_tokens.revoke(token)  # rotation: a refresh token works once
        if state is TokenState.EXPIRED:
            return _unauthorized("refresh_token_expired", "The refresh token has expired; use the aktiveringskod.")
        if state is TokenState.UNKNOWN:
            return _unauthorized("ogiltig_refresh_token", "Unknown or already used refresh token.")
        return self._token_answer()

    async def _list(self, request: Request) -> JSONResponse:
        if (denied := self._authorize(request)) is not None:
            return denied
        params = request.query_params
        unknown = sorted(set(params) - set(LIST_PARAMETERS))
        if unknown:
            return _error(400, "okand_parameter",
                          f"Unknown query parameters {unknown}; known: {list(LIST_PARAMETERS)}.", unknown)
        page = _int_param(params, "sida", 1, 1, None)
        size = _int_param(params, "antal", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        for value in (page, size):
            if isinstance(value, JSONResponse):
                return value
        if "andradEfter" in params:
            after = parse_timestamp(params["andradEfter"])
            if after is None:
                return _error(400, "ogiltig_parameter",
                              f"andradEfter {params['andradEfter']!r} is not an ISO 8601 timestamp.", ["andradEfter"])
            keys = self._changed_after(after)
        else:
            keys = self._order
        start = (page - 1) * size
        with self._lock:
            selected = keys[start:start + size]
            total = len(keys)
        employees = [doc for key in selected if (doc := self.store.get(COLLECTION, key)) is not None]
        return JSONResponse({"anstallda": employees, "sida": page, "antal": size, "totalt": total})

    async def _get(self, request: Request) -> JSONResponse:
        if (denied := self._authorize(request)) is not None:
            return denied
        anstnr = request.path_params["anstnr"]
        doc = self.store.get(COLLECTION, anstnr)
        if doc is None:
            return _not_found(anstnr)
        return JSONResponse(doc)

    async def _create(self, request: Request) -> JSONResponse:
        if (denied := self._authorize(request)) is not None:
            return denied
        body = await self._json_object(request)
        if isinstance(body, JSONResponse):
            return body
        body = {k: v for k, v in body.items() if k != "Andrad"}
        with self._lock:
            anstnr = body.get("AnstNr")
            if isinstance(anstnr, str) and anstnr in self._changed:
                return _error(409, "anstnr_finns", f"An employee with AnstNr {anstnr!r} already exists.", ["AnstNr"])
            if (refused := self._rejected(body.get("EpostArb"))) is not None:
                return refused
            problems = check_create(body)
            if problems:
                return _rule_error(problems)
            doc = {name: body.get(name) for name in CRONA_EMPLOYEE_FIELDS}
            doc = self._save(doc, is_new=True)
        return JSONResponse(doc, status_code=201)

    async def _patch(self, request: Request) -> JSONResponse:
        if (denied := self._authorize(request)) is not None:
            return denied
        anstnr = request.path_params["anstnr"]
        body = await self._json_object(request)
        if isinstance(body, JSONResponse):
            return body
        body = {k: v for k, v in body.items() if k != "Andrad"}
        with self._lock:
            current = self.store.get(COLLECTION, anstnr)
            if current is None:
                return _not_found(anstnr)
            if (refused := self._rejected(current.get("EpostArb"), body.get("EpostArb"))) is not None:
                return refused
            problems = check_patch(anstnr, current, body)
            if problems:
                return _rule_error(problems)
            changes = {k: v for k, v in body.items() if k in WRITABLE_FIELDS and k != "AnstNr"}
            if all(current.get(k) == v for k, v in changes.items()):
                return JSONResponse(current)  # nothing changes: Andrad stays
            doc = self._save({**current, **changes}, is_new=False)
        return JSONResponse(doc)

    async def _expire_tokens(self, request: Request) -> JSONResponse:
        self.tokens.expire_all()
        expired = ["access"]
        if request.query_params.get("refresh", "").lower() in ("1", "true", "yes"):
            self.refresh_tokens.expire_all()
            expired.append("refresh")
        return JSONResponse({"expired": expired})

    async def _paxml_export(self, request: Request) -> Response:
        return Response(self.export_paxml(), media_type=f"application/xml; charset={crona_paxml.ENCODING}")

    async def _paxml_import(self, request: Request) -> JSONResponse:
        try:
            return JSONResponse(self.import_paxml(await request.body()))
        except crona_paxml.PaxmlInvalid as exc:
            return _error(400, "ogiltig_paxml", f"Not a valid PAXml 2.0 document, nothing imported: {exc}")

    async def _stats(self, request: Request) -> JSONResponse:
        return JSONResponse({
            "employees": self.store.count(COLLECTION),
            "requests": dict(sorted(self._requests.items())),
            "faults": dict(self.faults.counts) if self.faults is not None else {},
        })


class _RequestCounter:
    """ASGI wrapper counting requests by method and route template for ``/_sandbox/stats``."""

    def __init__(self, app, counts: Counter):
        self.app = app
        self.counts = counts

    async def __call__(self, scope, receive, send):
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                path = getattr(scope.get("route"), "path", None) or "(no route)"
                self.counts[f"{scope['method']} {path}"] += 1


def _int_param(params, name: str, default: int, low: int, high: int | None) -> int | JSONResponse:
    raw = params.get(name)
    if raw is None:
        return default
    value = int(raw) if re.fullmatch(r"[0-9]{1,9}", raw) else None
    if value is None or value < low or (high is not None and value > high):
        limits = f"{low}..{high}" if high is not None else f">= {low}"
        return _error(400, "ogiltig_parameter", f"{name} must be an integer {limits}, got {raw!r}.", [name])
    return value


def _not_found(anstnr: str) -> JSONResponse:
    return _error(404, "anstalld_saknas", f"No employee with AnstNr {anstnr!r}.", ["AnstNr"])


def _rule_error(problems: RuleViolations) -> JSONResponse:
    return _error(422, problems.code, problems.message, problems.fields)
