"""Client for Huma's Open API (OpenAPI document 1.53.2): the only module that knows Huma's paths,
field names and error shapes.

    async with HumaClient(base_url, client_id, client_secret) as huma:
        rows = [flatten_employee(**e) for e in await huma.fetch_employees()]

Authentication is OAuth2 client credentials (`POST /auth/oauth/token`, form body); the token is
fetched on first use and renewed before it expires and after a 401.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from .http import (
    AccessToken,
    SessionClient,
    AuthenticationError,
    ErrorDetails,
    NotFoundError,
    Page,
    RequestRejectedError,
    RetryPolicy,
    Secret,
    TokenManager,
    collect_pages,
    run_bounded,
)

log = logging.getLogger("humacrona.connectors")

SYSTEM = "Huma"
TOKEN_PATH = "/auth/oauth/token"
USERS_PAGE_SIZE = 50  # `limit` is at most 50 on GET /users
POSITIONS_PAGE_SIZE = 50
GROUPS_PAGE_SIZE = 25  # `limit` is at most 25 on GET /groups

# One flattened row per user, in Huma's own Open API names (nested ones dotted).
HUMA_COLUMNS: tuple[str, ...] = (
    "id",
    "givenName",
    "familyName",
    "preferredName",
    "email",
    "phone",
    "employmentId",
    "privateEmail",
    "homeAddress.line1",
    "homeAddress.line2",
    "homeAddress.line3",
    "homeAddress.postalCode",
    "homeAddress.city",
    "homeAddress.country",
    "bankAccount.type",
    "bankAccount.number",
    "bankAccount.country",
    "bankAccount.iban",
    "bankAccount.bic",
    "status.active",
    "position.id",
    "position.status",
    "position.contractStartDate",
    "position.contractEndDate",
    "position.title",
)
# Columns that hold a bank account: shown masked (last four digits) wherever rows are displayed.
HUMA_MASKED_COLUMNS: tuple[str, ...] = ("bankAccount.number", "bankAccount.iban")


def parse_huma_error(status: int, body: Any) -> ErrorDetails:
    """Huma's error bodies: `{errorCode, errorMessage, fields}` (400), `{errorCode, errorMessage,
    interpolations}` (404), `{error, error_description}` (401) and `{timestamp, status, error,
    message, path}` (500)."""
    if not isinstance(body, dict):
        return ErrorDetails()
    if "errorCode" in body or "errorMessage" in body:
        message = _text(body.get("errorMessage"))
        interpolations = body.get("interpolations")
        if isinstance(interpolations, dict) and interpolations:
            detail = ", ".join(f"{k} {v}" for k, v in interpolations.items())
            message = f"{message} ({detail})" if message else detail
        fields = body.get("fields") or ()
        if isinstance(fields, str):
            fields = (fields,)
        return ErrorDetails(_text(body.get("errorCode")), message, tuple(str(f) for f in fields))
    if "error_description" in body:
        return ErrorDetails(_text(body.get("error")), _text(body.get("error_description")))
    if "message" in body:
        return ErrorDetails(_text(body.get("error")), _text(body.get("message")))
    if "error" in body:
        return ErrorDetails(_text(body.get("error")))
    return ErrorDetails()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an id must not be empty")
    return quote(str(value), safe="")


class HumaClient(SessionClient):
    """Async client for Huma's Open API. Use as `async with HumaClient(...) as huma:`; every method
    raises an `ApiError` subclass from `connectors.http` when Huma refuses or cannot answer."""

    system = SYSTEM

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        concurrency: int = 16,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self._client_id = Secret(client_id)
        self._client_secret = Secret(client_secret)
        super().__init__(
            base_url, parse_error=parse_huma_error, concurrency=concurrency,
            timeout_s=timeout_s, retry=retry, transport=transport,
        )

    async def _obtain_token(self, previous: AccessToken | None) -> AccessToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id.reveal(),
            "client_secret": self._client_secret.reveal(),
        }
        try:
            body = await self._session.request("POST", TOKEN_PATH, data=form, authenticated=False,
                                               idempotent=True)
        except RequestRejectedError as exc:  # some OAuth servers refuse bad credentials with a 400
            raise exc.converted(AuthenticationError) from exc
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthenticationError(SYSTEM, 200, "POST", TOKEN_PATH,
                                      message="the token answer holds no access_token")
        expires_in = body.get("expires_in")
        return AccessToken(body["access_token"], float(expires_in) if expires_in is not None else None)

    # ------------------------------------------------------------------------------------------- users

    async def list_users(self) -> list[dict]:
        """Every user (list items: `User`), each exactly once, in Huma's order."""

        async def page(index: int, size: int) -> Page:
            body = await self._session.request("GET", "/users", params={"limit": size, "offset": index * size})
            return Page(list(body.get("items") or ()), body.get("total"))

        return await collect_pages(page, page_size=USERS_PAGE_SIZE, key=lambda u: u.get("id"),
                                   workers=self.concurrency, system=SYSTEM, path="/users")

    async def get_user(self, user_id: str) -> dict:
        """`UserDetails`: most fields wrapped as `{value, editable}`."""
        return await self._session.request("GET", f"/users/{_segment(user_id)}")

    async def create_user(self, body: dict) -> dict:
        """`POST /users` (`UserInput`). Not retried after a 5xx or a dropped connection: check first."""
        return await self._session.request("POST", "/users", json=body)

    async def patch_user(self, user_id: str, body: dict) -> dict:
        """`PATCH /users/{id}` (`UserDetailsInput`); answers the new `UserDetails`."""
        return await self._session.request("PATCH", f"/users/{_segment(user_id)}", json=body)

    # --------------------------------------------------------------------------------------- positions

    async def list_positions(self, user_id: str) -> list[dict]:
        """Every `PositionSummary` of a user (all pages)."""
        path = f"/users/{_segment(user_id)}/positions"

        async def page(index: int, size: int) -> Page:
            body = await self._session.request("GET", path, params={"limit": size, "offset": index * size})
            return Page(list(body.get("items") or ()), body.get("total"))

        return await collect_pages(page, page_size=POSITIONS_PAGE_SIZE, key=lambda p: p.get("id"),
                                   workers=1, system=SYSTEM, path=path)

    async def create_position(self, user_id: str, body: dict) -> dict:
        """`POST /users/{userId}/positions` (`PositionCreateInput`). Not retried after 5xx/drop."""
        return await self._session.request("POST", f"/users/{_segment(user_id)}/positions", json=body)

    async def patch_position(self, user_id: str, position_id: str, body: dict) -> dict:
        return await self._session.request(
            "PATCH", f"/users/{_segment(user_id)}/positions/{_segment(position_id)}", json=body
        )

    # ------------------------------------------------------------------------------ job titles, groups

    async def list_job_titles(self, search: str | None = None) -> list[dict]:
        """`JobTitleSummary` list (`{id, name}`); Huma answers it unpaged."""
        params = {"search": search} if search else None
        return list(await self._session.request("GET", "/job-titles", params=params) or ())

    async def create_job_title(self, name: str, description: str | None = None) -> dict:
        """`POST /job-titles`. Not retried after 5xx/drop: look it up with `list_job_titles` first."""
        body = {"name": name}
        if description is not None:
            body["description"] = description
        return await self._session.request("POST", "/job-titles", json=body)

    async def list_groups(self) -> list[dict]:
        """Every group (companies, locations, teams); `limit` is at most 25 here."""

        async def page(index: int, size: int) -> Page:
            body = await self._session.request("GET", "/groups", params={"limit": size, "offset": index * size})
            return Page(list(body.get("items") or ()), body.get("total"))

        return await collect_pages(page, page_size=GROUPS_PAGE_SIZE, key=lambda g: g.get("id"),
                                   workers=self.concurrency, system=SYSTEM, path="/groups")

    # ------------------------------------------------------------------------------------- extraction

    async def fetch_employees(self) -> list[dict]:
        """`{"user": UserDetails, "positions": [PositionSummary]}` for every user, in list order.

        The list gives only ids and a few fields, so details and positions are fetched per user, at
        most `concurrency` requests at a time. A user who disappears between the list and the details
        (404) is left out with a warning: it no longer exists in Huma."""
        users = await self.list_users()
        ids = [u["id"] for u in users]
        jobs = [(kind, user_id) for user_id in ids for kind in ("user", "positions")]

        async def run(job: tuple[str, str]) -> Any:
            kind, user_id = job
            try:
                if kind == "user":
                    return await self.get_user(user_id)
                return await self.list_positions(user_id)
            except NotFoundError:
                log.warning("Huma user %s was listed but no longer exists; left out", user_id)
                return None

        results = await run_bounded(jobs, run, self.concurrency)
        employees = []
        for i, _user_id in enumerate(ids):
            details, positions = results[2 * i], results[2 * i + 1]
            if details is None or positions is None:
                continue
            employees.append({"user": details, "positions": positions})
        return employees

    async def fetch_rows(self) -> list[dict]:
        """Every user flattened into one row (`HUMA_COLUMNS`)."""
        return [flatten_employee(**employee) for employee in await self.fetch_employees()]


def extract_huma(client: HumaClient) -> list[dict]:
    """Synchronous entry point (Dagster assets): open the client, read every row, close it."""

    async def run() -> list[dict]:
        async with client:
            return await client.fetch_rows()

    return asyncio.run(run())


# ------------------------------------------------------------------------------------- pure functions


def _value(field: Any) -> Any:
    """Unwrap Huma's `{value, editable}` wrapper; a wrapper without `value` means no value."""
    if isinstance(field, dict) and "editable" in field:
        return field.get("value")
    return field


def _status(position: dict, today: date) -> str | None:
    status = position.get("status")
    if status:
        return status
    # No status given: derive it from the contract dates the way Huma does.
    start = _value(position.get("contractStartDate"))
    end = _value(position.get("contractEndDate"))
    today_text = today.isoformat()
    if start and start > today_text:
        return "UPCOMING"
    if end and end < today_text:
        return "ENDED"
    return "CURRENT" if start else None


def current_position(positions: Iterable[dict], today: date | None = None) -> dict | None:
    """The position whose start date, end date and title describe the employment today.

    - a CURRENT position, the one that started last (a promotion supersedes the earlier position);
    - else an UPCOMING one, the one that starts first (a new hire not started yet);
    - else an ENDED one, the one that ended last: an employee who has left is still an employee of
      record for payroll, and that position carries the end date (AvgDatum) that must reach Crona.
    Ties are broken by id so the choice is stable. None when the user has no position."""
    today = today or date.today()
    by_status: dict[str, list[dict]] = {"CURRENT": [], "UPCOMING": [], "ENDED": []}
    for position in positions:
        status = _status(position, today)
        if status in by_status:
            by_status[status].append(position)

    def start(p: dict) -> str:
        return _value(p.get("contractStartDate")) or ""

    def end(p: dict) -> str:
        return _value(p.get("contractEndDate")) or ""

    def ident(p: dict) -> str:
        return str(p.get("id") or "")

    if by_status["CURRENT"]:
        return max(by_status["CURRENT"], key=lambda p: (start(p), ident(p)))
    if by_status["UPCOMING"]:
        return min(by_status["UPCOMING"], key=lambda p: (start(p) or "9999-12-31", ident(p)))
    if by_status["ENDED"]:
        return max(by_status["ENDED"], key=lambda p: (end(p), start(p), ident(p)))
    return None


def flatten_employee(user: dict, positions: Iterable[dict], today: date | None = None) -> dict:
    """One row (`HUMA_COLUMNS`) from a `UserDetails` and its positions: values unwrapped from
    `{value, editable}`, nested objects dotted, the position chosen by `current_position`, and the
    job title as its name."""
    address = _value(user.get("homeAddress")) or {}
    bank = _value(user.get("bankAccount")) or {}
    status = _value(user.get("status")) or {}
    position = current_position(positions, today) or {}
    title = _value(position.get("title"))
    title_name = title.get("name") if isinstance(title, dict) else title
    return {
        "id": user.get("id"),
        "givenName": _value(user.get("givenName")),
        "familyName": _value(user.get("familyName")),
        "preferredName": _value(user.get("preferredName")),
        "email": _value(user.get("email")),
        "phone": _value(user.get("phone")),
        "employmentId": _value(user.get("employmentId")),
        "privateEmail": _value(user.get("privateEmail")),
        "homeAddress.line1": address.get("line1"),
        "homeAddress.line2": address.get("line2"),
        "homeAddress.line3": address.get("line3"),
        "homeAddress.postalCode": address.get("postalCode"),
        "homeAddress.city": address.get("city"),
        "homeAddress.country": address.get("country"),
        "bankAccount.type": bank.get("type"),
        "bankAccount.number": bank.get("number"),
        "bankAccount.country": bank.get("country"),
        "bankAccount.iban": bank.get("iban"),
        "bankAccount.bic": bank.get("bic"),
        "status.active": status.get("active"),
        "position.id": position.get("id"),
        "position.status": _status(position, today or date.today()) if position else None,
        "position.contractStartDate": _value(position.get("contractStartDate")),
        "position.contractEndDate": _value(position.get("contractEndDate")),
        "position.title": title_name,
    }
