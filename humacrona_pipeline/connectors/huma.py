"""Client for Huma's Open API (OpenAPI document 1.53.2): the only module that knows Huma's paths. Huma's
property names, rows and write bodies are `connectors.huma_wire`'s, its error shapes `connectors.huma_errors`'s
and the job-title look-ups `connectors.huma_titles`'s; all are re-exported here.

    async with HumaClient(base_url, client_id, client_secret) as huma:
        rows = [flatten_employee(**e) for e in await huma.fetch_employees()]

Authentication is OAuth2 client credentials (`POST /auth/oauth/token`, form body); the token is
fetched on first use and renewed before it expires and after a 401.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from ..connection.scope import ORGANISATION, QUERY_PARAMETER, in_scope, scope_filter, shown_outside
from ..core import normalise as norm
from ..core.unreadable import reason_line
from .http import (
    AccessToken,
    ApiError,
    AuthenticationError,
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
from .huma_errors import parse_huma_error
from .huma_titles import JobTitles  # noqa: F401 - read through the client module by the write-back's tests
from .huma_wire import (  # noqa: F401 - the wire format's names the client's importers read through it
    HUMA_COLUMNS,
    HUMA_MASKED_COLUMNS,
    USER_ID,
    WORK_EMAIL_PROPERTY,
    current_position,
    flatten_employee,
    unreadable_row,
    user_details_body,
)

log = logging.getLogger("humacrona.connectors")

SYSTEM = "Huma"
TOKEN_PATH = "/auth/oauth/token"
USERS_PAGE_SIZE = 50  # `limit` is at most 50 on GET /users
POSITIONS_PAGE_SIZE = 50
GROUPS_PAGE_SIZE = 25  # `limit` is at most 25 on GET /groups


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
        scope: tuple[str, Sequence[str]] | None = None,
    ):
        """``scope``: (kind, group ids) of the one connection this client reads and writes for
        (`connection.scope`): `GET /users` is asked for its users only, a listed user whose own record shows them
        outside it is left out (counted in `out_of_scope`), and `in_scope` is the writers' guard."""
        self._client_id = Secret(client_id)
        self._client_secret = Secret(client_secret)
        super().__init__(
            base_url, parse_error=parse_huma_error, concurrency=concurrency,
            timeout_s=timeout_s, retry=retry, transport=transport,
        )
        self.organization_id: str | None = None  # `organizationId` from the token answer
        self.scope = (scope[0], tuple(scope[1])) if scope is not None and scope[0] != ORGANISATION else None
        self.out_of_scope = 0  # users `list_users` left out: listed by Huma, outside the scope

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
        """Every user of the scope (list items: `User`), each exactly once, in Huma's order."""

        async def page(index: int, size: int) -> Page:
            params = {**(scope_filter(*self.scope) if self.scope else {}), "limit": size, "offset": index * size}
            body = await self._session.request("GET", "/users", params=params)
            return Page(list(body.get("items") or ()), body.get("total"))

        users = await collect_pages(page, page_size=USERS_PAGE_SIZE, key=lambda u: u.get(USER_ID),
                                    workers=self.concurrency, system=SYSTEM, path="/users")
        if self.scope is None:
            return users
        kept = [u for u in users if not shown_outside(u, *self.scope)]
        self.out_of_scope = len(users) - len(kept)
        return kept

    async def unknown_scope_groups(self) -> list[str]:
        """The scope's group ids Huma has no group of that kind for (`GET /groups`): a mistyped id would otherwise
        list nobody, and the sync would take the scope's employees for ones missing in Huma."""
        if self.scope is None:
            return []
        kind, ids = self.scope
        known = {str(g.get(USER_ID) or "").lower() for g in await self.list_groups()
                 if g.get("type") == QUERY_PARAMETER[kind]}
        return [i for i in ids if i.lower() not in known]

    def in_scope(self, user: Mapping) -> bool:
        """Whether a Huma user (a list item or `UserDetails`) is inside this client's scope (fails closed: a record
        without its groups is outside a limited scope); always true without a scope."""
        return self.scope is None or in_scope(user, *self.scope)

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

            users = await collect_pages(page, page_size=USERS_PAGE_SIZE, key=lambda u: u.get(USER_ID),
                                        workers=self.concurrency, system=SYSTEM, path="/users")
        return next((u for u in users if norm.email(u.get(WORK_EMAIL_PROPERTY)) == wanted), None)

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
        ids = [u[USER_ID] for u in users]
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

    async def fetch_row(self, user_id: str, scoped: bool = False) -> dict | None:
        """One user's current row (`HUMA_COLUMNS`): details and positions, read together, flattened; with
        ``scoped``, None when the user's details (`UserDetails`, with their groups) are outside the scope."""
        user, positions = await asyncio.gather(self.get_user(user_id), self.list_positions(user_id))
        if scoped and not self.in_scope(user):
            return None
        return _flattened(user, positions, f"/users/{_segment(user_id)}")

    async def fetch_rows(self, unreadable: list[dict] | None = None) -> list[dict]:
        """Every user flattened into one row (`HUMA_COLUMNS`). With ``unreadable``, a user who cannot be read
        is appended to it as `unreadable_row` (what the list said, and why) instead of failing the read."""
        found: list[dict] | None = [] if unreadable is not None else None
        rows = []
        for employee in await self.fetch_employees(found):
            try:
                rows.append(_flattened(employee["user"], employee["positions"],
                                       f"/users/{_segment(str(employee['user'].get(USER_ID) or '?'))}"))
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


def extract_huma(client: HumaClient, unreadable: list[dict] | None = None) -> list[dict]:
    """Synchronous entry point: open the client, read every row, close it (``unreadable``: see `fetch_rows`)."""

    async def run() -> list[dict]:
        async with client:
            return await client.fetch_rows(unreadable)

    return asyncio.run(run())
