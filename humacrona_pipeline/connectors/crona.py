"""Client for the Crona Lön employee API: the only module that knows Crona's paths and error shape; its
field names and write bodies are `connectors.crona_wire`'s (the contract in crona-api.md; Crona publishes
no reference, so when the real contract is known, these two modules and the sandbox are what change).

    async with CronaClient(base_url, activation_code) as crona:
        employees = await crona.list_employees()

Authentication: the Aktiveringskod is exchanged for an access token plus a refresh token; renewal
uses the refresh token and falls back to the Aktiveringskod when Crona refuses the refresh.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from ..core.unreadable import UNREADABLE_COLUMN, reason_line
from .crona_wire import (  # noqa: F401 - the wire format's names the client's importers read through it
    CRONA_COLUMNS,
    CRONA_MASKED_COLUMNS,
    KEY_FIELD,
    REQUIRED_COLUMNS,
    WORK_EMAIL_COLUMN,
    employee_row,
    patch_body,
)
from .http import (
    AccessToken,
    ApiError,
    AuthenticationError,
    ErrorDetails,
    NotFoundError,
    Page,
    RequestRejectedError,
    RetryPolicy,
    Secret,
    SessionClient,
    collect_pages,
)

log = logging.getLogger("humacrona.connectors")

SYSTEM = "Crona"
TOKEN_PATH = "/api/v1/auth/token"
REFRESH_PATH = "/api/v1/auth/refresh"
EMPLOYEES_PATH = "/api/v1/anstallda"
MAX_PAGE_SIZE = 200  # `antal` is at most 200


def parse_crona_error(status: int, body: Any) -> ErrorDetails:
    """Crona's error body: `{"fel": {"kod", "meddelande", "falt": [...]}}`."""
    if not isinstance(body, dict):
        return ErrorDetails()
    fel = body.get("fel")
    if not isinstance(fel, dict):
        return ErrorDetails()
    fields = fel.get("falt") or ()
    if isinstance(fields, str):
        fields = (fields,)
    code = fel.get("kod")
    message = fel.get("meddelande")
    return ErrorDetails(None if code is None else str(code), None if message is None else str(message),
                        tuple(str(f) for f in fields))


def unreadable_reason(employee: dict) -> str | None:
    """Why one employee of a page cannot be read ("unreadable in Crona: …"): a field holding an object or a list
    where the contract has a single value. None when every field is a plain value."""
    odd = [column for column in CRONA_COLUMNS if isinstance(employee.get(column), (dict, list))]
    if not odd:
        return None
    return reason_line(SYSTEM, f"GET {EMPLOYEES_PATH}: {', '.join(odd)} not a single value as the contract has it")


def employee_rows(employees: list[dict]) -> tuple[list[dict], list[dict]]:
    """(rows of `CRONA_COLUMNS`, unreadable rows): an employee that cannot be read keeps only its AnstNr and work
    email (when those are plain text) and the reason in `UNREADABLE_COLUMN`, so it is left out on both sides."""
    rows, unreadable = [], []
    for employee in employees:
        reason = unreadable_reason(employee)
        if reason is None:
            rows.append(employee_row(employee))
            continue
        row = {column: None for column in CRONA_COLUMNS}
        for column in (KEY_FIELD, WORK_EMAIL_COLUMN):
            value = employee.get(column)
            row[column] = value if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        unreadable.append({**row, UNREADABLE_COLUMN: reason})
    return rows, unreadable


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("changed_after must be timezone-aware (Crona's Andrad is UTC)")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CronaClient(SessionClient):
    """Async client for Crona Lön. Use as `async with CronaClient(...) as crona:`; every method
    raises an `ApiError` subclass from `connectors.http` when Crona refuses or cannot answer."""

    system = SYSTEM

    def __init__(
        self,
        base_url: str,
        activation_code: str,
        *,
        page_size: int = MAX_PAGE_SIZE,
        concurrency: int = 4,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._activation_code = Secret(activation_code)
        self.page_size = page_size
        super().__init__(
            base_url, parse_error=parse_crona_error, concurrency=concurrency,
            timeout_s=timeout_s, retry=retry, transport=transport,
        )
        self.company: dict | None = None  # `foretag` from the token answer: id, namn, orgnr

    async def _obtain_token(self, previous: AccessToken | None) -> AccessToken:
        if previous is not None and previous.refresh_token:
            try:
                body = await self._session.request("POST", REFRESH_PATH, json={"refresh_token": previous.refresh_token},
                                                   authenticated=False, idempotent=True)
                return self._token(body, REFRESH_PATH)
            except (AuthenticationError, RequestRejectedError) as exc:
                log.info("Crona refused the token refresh (HTTP %s); using the Aktiveringskod again", exc.status)
        try:
            body = await self._session.request("POST", TOKEN_PATH,
                                               json={"aktiveringskod": self._activation_code.reveal()},
                                               authenticated=False, idempotent=True)
        except RequestRejectedError as exc:
            raise exc.converted(AuthenticationError) from exc
        return self._token(body, TOKEN_PATH)

    def _token(self, body: Any, path: str) -> AccessToken:
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthenticationError(SYSTEM, 200, "POST", path, message="the token answer holds no access_token")
        if isinstance(body.get("foretag"), dict):
            self.company = body["foretag"]
        expires_in = body.get("expires_in")
        return AccessToken(body["access_token"], float(expires_in) if expires_in is not None else None,
                           refresh_token=body.get("refresh_token"))

    # --------------------------------------------------------------------------------------- employees

    async def list_employees(self, changed_after: datetime | str | None = None) -> list[dict]:
        """Every employee (or those changed after `changed_after`), each exactly once by AnstNr."""
        extra = {"andradEfter": _timestamp(changed_after)} if changed_after is not None else {}

        async def page(index: int, size: int) -> Page:
            return await self.employees_page(index + 1, size, **extra)

        return await collect_pages(page, page_size=self.page_size, key=lambda e: e.get(KEY_FIELD),
                                   workers=self.concurrency, system=SYSTEM, path=EMPLOYEES_PATH)

    async def employees_page(self, sida: int = 1, antal: int = MAX_PAGE_SIZE, **extra: str) -> Page:
        """One page of `GET /anstallda` (pages count from 1); `humacrona check` reads the first alone."""
        body = await self._session.request("GET", EMPLOYEES_PATH, params={"sida": sida, "antal": antal, **extra})
        if not isinstance(body, dict) or not isinstance(body.get("anstallda"), list):
            raise ApiError(SYSTEM, 200, "GET", EMPLOYEES_PATH, body=None,
                           message="the answer holds no `anstallda` list", base_url=self.base_url)
        if not all(isinstance(e, dict) for e in body["anstallda"]):  # a page that cannot be read: an outage
            raise ApiError(SYSTEM, 200, "GET", EMPLOYEES_PATH, body=None, base_url=self.base_url,
                           message=f"page {sida} of `anstallda` holds an item that is not an employee object")
        return Page(body["anstallda"], body.get("totalt"))

    async def get_employee(self, anstnr: str) -> dict:
        return await self._session.request("GET", f"{EMPLOYEES_PATH}/{_segment(anstnr)}")

    async def create_employee(self, body: dict) -> dict:
        """POST a new employee: 409 (`ConflictError`) when the AnstNr exists, 422 on a broken rule.
        Not retried after a 5xx or a dropped connection: check with `get_employee` first."""
        return await self._session.request("POST", EMPLOYEES_PATH, json=body)

    async def patch_employee(self, anstnr: str, body: dict) -> dict:
        """Change the given fields only; the AnstNr itself cannot change (422 `anstnr_immutable`)."""
        return await self._session.request("PATCH", f"{EMPLOYEES_PATH}/{_segment(anstnr)}", json=body)

    async def find_employee(self, anstnr: str) -> dict | None:
        """The employee with this AnstNr, or None when Crona has none (404)."""
        try:
            return await self.get_employee(anstnr)
        except NotFoundError:
            return None

    async def employee_table(self) -> tuple[list[dict], list[dict]]:
        """(rows of `CRONA_COLUMNS`, unreadable rows) of every employee (`employee_rows`); the PAXml channel's
        `paxml.export_reader.PaxmlExport` answers the same from a file."""
        return employee_rows(await self.list_employees())

    async def fetch_rows(self) -> list[dict]:
        """Every employee as a row of exactly `CRONA_COLUMNS`."""
        return [employee_row(e) for e in await self.list_employees()]


def extract_crona(client: CronaClient) -> list[dict]:
    """Synchronous entry point (Dagster assets): open the client, read every row, close it."""

    async def run() -> list[dict]:
        async with client:
            return await client.fetch_rows()

    return asyncio.run(run())


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an AnstNr must not be empty")
    return quote(str(value), safe="")
