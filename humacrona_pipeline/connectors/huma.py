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

from ..core import normalise as norm
from ..core.fields import BY_NAME, HumaLocation
from ..core.unreadable import UNREADABLE_COLUMN, reason_line
from .http import (
    AccessToken,
    ApiError,
    AuthenticationError,
    ErrorDetails,
    NoAnswerError,
    NotFoundError,
    Page,
    RequestRejectedError,
    RetryPolicy,
    Secret,
    ServerError,
    SessionClient,
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
        self.organization_id: str | None = None  # `organizationId` from the token answer

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
        self.organization_id = body.get("organizationId") or self.organization_id
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

    async def users_page(self, limit: int = USERS_PAGE_SIZE) -> Page:
        """The first page of `GET /users` alone (`humacrona check`: can this key read the users?)."""
        body = await self._session.request("GET", "/users", params={"limit": limit, "offset": 0})
        return Page(list(body.get("items") or ()), body.get("total"))

    async def get_user(self, user_id: str) -> dict:
        """`UserDetails`: most fields wrapped as `{value, editable}`."""
        return await self._session.request("GET", f"/users/{_segment(user_id)}")

    async def create_user(self, body: dict) -> dict:
        """`POST /users` (`UserInput`). Not retried after a 5xx or a dropped connection: check first."""
        return await self._session.request("POST", "/users", json=body)

    async def patch_user(self, user_id: str, body: dict) -> dict:
        """`PATCH /users/{id}` (`UserDetailsInput`); answers the new `UserDetails`."""
        return await self._session.request("PATCH", f"/users/{_segment(user_id)}", json=body)

    async def find_user_by_email(self, email: str, *, full_scan: bool = False) -> dict | None:
        """The user (list item) whose work email is ``email`` (compared without letter case), or None.

        The OpenAPI document offers no email filter on `GET /users`, only a free-text ``search``; the
        search's hits are paged through and compared exactly. With ``full_scan`` every user is listed
        instead (for when the search is not known to cover emails, e.g. after Huma called an email taken)."""
        wanted = norm.email(email)
        if full_scan:
            users = await self.list_users()
        else:
            async def page(index: int, size: int) -> Page:
                body = await self._session.request(
                    "GET", "/users", params={"search": email.strip(), "limit": size, "offset": index * size})
                return Page(list(body.get("items") or ()), body.get("total"))

            users = await collect_pages(page, page_size=USERS_PAGE_SIZE, key=lambda u: u.get("id"),
                                        workers=self.concurrency, system=SYSTEM, path="/users")
        return next((u for u in users if norm.email(u.get("email")) == wanted), None)

    # --------------------------------------------------------------------------------------- positions

    async def list_positions(self, user_id: str) -> list[dict]:
        """Every `PositionSummary` of a user (all pages)."""
        path = f"/users/{_segment(user_id)}/positions"

        async def page(index: int, size: int) -> Page:
            body = await self._session.request("GET", path, params={"limit": size, "offset": index * size})
            if not isinstance(body, dict) or not isinstance(body.get("items") or [], list):
                raise _not_documented(path, "page of PositionSummary")
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

    async def company_group_id(self) -> str:
        """The group a new user joins when none is configured: the organisation's company group.

        `POST /users` needs at least one group. A Huma organisation normally has one group of type
        ``company`` (the legal entity) that every employee belongs to; Huma's own Crona integration is
        set up per group, and a Crona company is one legal entity, so that is the group its employees
        belong in. With no company group, or several (which legal entity is this Crona company?), there
        is no safe guess: ValueError, and the caller must name the group."""
        companies = [g for g in await self.list_groups() if g.get("type") == "company"]
        if len(companies) == 1:
            return companies[0]["id"]
        if not companies:
            raise ValueError("Huma has no company group for new users to join; configure the group id")
        names = ", ".join(sorted(str(g.get("name")) for g in companies))
        raise ValueError(f"Huma has {len(companies)} company groups ({names}); configure the group id new"
                         " users join")

    # ------------------------------------------------------------------------------------- extraction

    async def fetch_employees(self, unreadable: list[dict] | None = None) -> list[dict]:
        """`{"user": UserDetails, "positions": [PositionSummary]}` for every user, in list order.

        The list gives only ids and a few fields, so details and positions are fetched per user, at
        most `concurrency` requests at a time. A user who disappears between the list and the details
        (404) is left out with a warning: it no longer exists in Huma. A user whose details or positions
        cannot be read after the retries (`unreadable_reason`) fails the whole read, unless ``unreadable``
        is given: then `{"user": <list item>, "reason": <one line>}` is appended to it and the rest is read."""
        users = await self.list_users()
        ids = [u["id"] for u in users]
        jobs = [(kind, user_id) for user_id in ids for kind in ("user", "positions")]

        async def run(job: tuple[str, str]) -> Any:
            kind, user_id = job
            try:
                if kind == "user":
                    details = await self.get_user(user_id)
                    if not isinstance(details, dict):
                        raise _not_documented(f"/users/{_segment(user_id)}", "UserDetails object")
                    return details
                return await self.list_positions(user_id)
            except NotFoundError:
                log.warning("Huma user %s was listed but no longer exists; left out", user_id)
                return None
            except ApiError as error:
                reason = unreadable_reason(error)
                if unreadable is None or reason is None:
                    raise
                log.warning("Huma user %s could not be read; left out of this sync: %s", user_id, reason)
                return _Unread(reason)

        results = await run_bounded(jobs, run, self.concurrency)
        employees = []
        for i, user in enumerate(users):
            details, positions = results[2 * i], results[2 * i + 1]
            failed = next((r for r in (details, positions) if isinstance(r, _Unread)), None)
            if failed is not None:
                unreadable.append({"user": user, "reason": failed.reason})
                continue
            if details is None or positions is None:
                continue
            employees.append({"user": details, "positions": positions})
        return employees

    async def fetch_row(self, user_id: str) -> dict:
        """One user's current row (`HUMA_COLUMNS`): details and positions, read together, flattened."""
        user, positions = await asyncio.gather(self.get_user(user_id), self.list_positions(user_id))
        return _flattened(user, positions, f"/users/{_segment(user_id)}")

    async def fetch_rows(self, unreadable: list[dict] | None = None) -> list[dict]:
        """Every user flattened into one row (`HUMA_COLUMNS`). With ``unreadable``, a user who cannot be read
        is appended to it as `unreadable_row` (what the list said, and why) instead of failing the read."""
        found: list[dict] | None = [] if unreadable is not None else None
        rows = []
        for employee in await self.fetch_employees(found):
            try:
                rows.append(_flattened(employee["user"], employee["positions"],
                                       f"/users/{_segment(str(employee['user'].get('id') or '?'))}"))
            except ApiError as error:
                if found is None:
                    raise
                found.append({"user": employee["user"], "reason": unreadable_reason(error)})
        if unreadable is not None:
            unreadable.extend(unreadable_row(u["user"], u["reason"]) for u in found)
        return rows


class _Unread:
    """A user's details or positions that could not be read, and why (inside `fetch_employees`)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _not_documented(path: str, what: str) -> ApiError:
    return ApiError(SYSTEM, 200, "GET", path, message=f"the answer is not the documented {what}")


def _flattened(user: Any, positions: Any, path: str) -> dict:
    """`flatten_employee`, or an ApiError saying the answer is not the documented shape (a field that should be
    an object is text, say), so one malformed user is reported like any unreadable one."""
    try:
        return flatten_employee(user, positions)
    except (AttributeError, TypeError, ValueError, KeyError) as error:
        raise _not_documented(path, f"UserDetails and positions ({type(error).__name__})") from error


# Failures that mean the whole service cannot be reached, not one record: the extraction fails on them.
_CONNECTION_CODES = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})


def unreadable_reason(error: ApiError) -> str | None:
    """Why one user's record could not be read ("unreadable in Huma: …", one line), or None when ``error`` is
    not about that record: a refused key, a missing permission, rate limiting or a service that cannot be
    reached fail the extraction instead (an outage is not a handful of bad records)."""
    if isinstance(error, ServerError) or (type(error) is ApiError and error.status is not None
                                          and 200 <= error.status < 300):
        return reason_line(SYSTEM, error)
    if isinstance(error, NoAnswerError) and error.code not in _CONNECTION_CODES:
        return reason_line(SYSTEM, error)
    return None


def unreadable_row(user: dict, reason: str) -> dict:
    """The row of a user who could not be read: what the list page gave (id, names, work email, phone) and
    the reason, in `UNREADABLE_COLUMN`; everything else blank."""
    item = user if isinstance(user, dict) else {}
    try:
        row = flatten_employee({k: item.get(k) for k in ("id", "givenName", "familyName", "preferredName",
                                                         "email", "phone")}, [])
    except (AttributeError, TypeError, ValueError):
        row = {column: None for column in HUMA_COLUMNS}
        row["id"] = item.get("id")
    return {**row, UNREADABLE_COLUMN: reason}


# ------------------------------------------------------------------------------------ write bodies
#
# Canonical values (core.normalise) -> Huma's write bodies. Which call writes a field follows
# `core.fields.HumaLocation`: user details, home address and bank account go into one
# `PATCH /users/{id}`; start date, end date and job title into the user's current position.

USER_CALL = "user"
POSITION_CALL = "position"
# The fields `POST /users` carries (the rest of a new user is written with PATCH afterwards).
CREATE_FIELDS: tuple[str, ...] = ("given_name", "family_name", "work_email")
DEFAULT_CONTRACT_TYPE = "Permanent"  # PositionCreateInput requires one; neither system's sync fields hold it
# Crona holds only Swedish salary accounts (clearing + account), so an account written to Huma is national SE.
BANK_ACCOUNT_COUNTRY = "SE"
_POSITION_KEYS = {"start_date": "contractStartDate", "end_date": "contractEndDate"}


def write_call(field_name: str) -> str:
    """`USER_CALL` or `POSITION_CALL`: the request that writes this canonical field to Huma."""
    return POSITION_CALL if BY_NAME[field_name].huma_location == HumaLocation.POSITION else USER_CALL


def bank_account_input(value: str | None) -> dict | None:
    """NationalBankAccountInput for a canonical account ("clearing account"); None clears it."""
    if value is None:
        return None
    clearing, account = norm.bank_account_split(value)
    return {"type": "national", "number": f"{clearing}-{account}", "country": BANK_ACCOUNT_COUNTRY}


def address_input(value: str | None, current: dict | None = None) -> dict | None:
    """AddressUpdateInput (all six keys) for a canonical address; None clears it. ``line2``/``line3`` are
    not synced: they are kept as the user's current address (``current``, a UserDetails) has them."""
    if value is None:
        return None
    parts = norm.address_parts(value)
    held = _value((current or {}).get("homeAddress")) or {}
    return {"line1": parts["line1"], "line2": held.get("line2") or "", "line3": held.get("line3") or "",
            "postalCode": parts["postal_code"], "city": parts["city"], "country": parts["country"]}


def user_details_body(changes: dict[str, str | None], current: dict | None = None) -> dict:
    """`PATCH /users/{id}` body (UserDetailsInput) for canonical field -> new value (None clears).
    ``current`` (the user's UserDetails) is needed to keep the address lines that are not synced."""
    body: dict = {}
    for name, value in changes.items():
        f = BY_NAME[name]
        if f.huma_location == HumaLocation.HOME_ADDRESS:
            body["homeAddress"] = address_input(value, current)
        elif f.huma_location == HumaLocation.BANK_ACCOUNT:
            body["bankAccount"] = bank_account_input(value)
        elif f.huma_location == HumaLocation.USER:
            body[f.huma_columns[0]] = value
        else:
            raise ValueError(f"{f.label} is written to the position, not to the user details")
    return body


def user_create_body(values: dict[str, str | None], group_id: str) -> dict:
    """`POST /users` body (UserInput): names, work email and the group; no invitation is sent (a sync
    must not email people). Raises ValueError naming what Huma requires and the values lack."""
    missing = [BY_NAME[n].label for n in CREATE_FIELDS if not values.get(n)]
    if missing:
        raise ValueError(f"Huma cannot create a user without {', '.join(missing)}")
    return {"givenName": values["given_name"], "familyName": values["family_name"], "email": values["work_email"],
            "groups": [group_id], "invite": False}


def position_patch_body(changes: dict[str, str | None], title_id: str | None = None) -> dict:
    """`PATCH /users/{userId}/positions/{id}` body (PositionUpdateInput) for start date, end date and
    job title (None clears; the title goes as the ``title_id`` it resolved to)."""
    body: dict = {_POSITION_KEYS[n]: v for n, v in changes.items() if n in _POSITION_KEYS}
    if "job_title" in changes:
        body["titleId"] = title_id
    return body


def position_create_body(changes: dict[str, str | None], title_id: str | None,
                         contract_type: str = DEFAULT_CONTRACT_TYPE) -> dict:
    """`POST /users/{userId}/positions` body (PositionCreateInput). Huma requires a start date, a
    contract type and a title: ValueError when the start date or the title is missing."""
    if not changes.get("start_date") or not title_id:
        raise ValueError("Huma needs a start date and a job title to create the user's position")
    body = position_patch_body(changes, title_id)
    body["titleId"] = title_id
    body["contractType"] = contract_type
    return {k: v for k, v in body.items() if v is not None}


def is_not_unique(error: ApiError, field_name: str) -> bool:
    """Whether Huma refused a write because another record already holds ``field_name`` (e.g. "email")."""
    return error.status == 400 and error.code == "field:not-unique" and field_name in error.fields


def _title_key(name: str) -> str:
    """What two job-title names are compared by, whichever system wrote them: the normalised text (NFC, a tab
    or line break a space, whitespace collapsed, trimmed), case-folded. Huma holds names as typed."""
    return (norm.text(name) or "").casefold()


class JobTitles:
    """Job-title name -> id for one run: looked up with `GET /job-titles?search=`, created with
    `POST /job-titles` when missing, and cached, so two employees getting the same new title never
    create it twice (the second waits for the first's lookup). A create is not repeated blindly: after a
    failure whose outcome is unknown, or when Huma says the name is taken, the title is looked up again."""

    CREATE_ATTEMPTS = 3

    def __init__(self, client: HumaClient):
        self._client = client
        self._tasks: dict[str, asyncio.Task] = {}

    async def id_for(self, name: str) -> str:
        key = _title_key(name)
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._resolve(norm.text(name) or name))
            self._tasks[key] = task
            task.add_done_callback(lambda t, k=key: self._forget_failed(k, t))
        return await asyncio.shield(task)

    def _forget_failed(self, key: str, task: asyncio.Task) -> None:
        if (task.cancelled() or task.exception() is not None) and self._tasks.get(key) is task:
            del self._tasks[key]  # a later employee tries again

    async def find(self, name: str) -> dict | None:
        """The title called ``name`` (normalised): the exact name first, else one differing only in case or
        whitespace. Huma's search matches a part of the name as Huma holds it, which may have a tab or a line
        break where ``name`` has a space: so the search is for ``name``'s longest word, and the titles found
        are compared by `_title_key`."""
        titles = await self._client.list_job_titles(search=max(name.split(), key=len, default=name))
        exact = [t for t in titles if norm.text(str(t.get("name") or "")) == name]
        loose = [t for t in titles if _title_key(str(t.get("name") or "")) == _title_key(name)]
        found = exact or loose
        return found[0] if found else None

    async def _resolve(self, name: str) -> str:
        found = await self.find(name)
        if found is not None:
            return found["id"]
        retry = self._client.session.retry
        for attempt in range(1, self.CREATE_ATTEMPTS + 1):
            try:
                return (await self._client.create_job_title(name))["id"]
            except ApiError as exc:
                taken = is_not_unique(exc, "name")
                if not (taken or exc.outcome_unknown):
                    raise
                found = await self.find(name)
                if found is not None:
                    return found["id"]
                if taken or attempt == self.CREATE_ATTEMPTS:
                    raise
                await retry.sleep(retry.backoff_s(attempt))
        raise AssertionError("unreachable")


def extract_huma(client: HumaClient, unreadable: list[dict] | None = None) -> list[dict]:
    """Synchronous entry point: open the client, read every row, close it (``unreadable``: see `fetch_rows`)."""

    async def run() -> list[dict]:
        async with client:
            return await client.fetch_rows(unreadable)

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
