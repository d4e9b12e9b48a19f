"""The real-time push's look-ups: the current Huma details of the users a batch of webhooks named, and their
Crona employees, read for `core.push.plan_push` (as `core.push.HumaChanges`).

Each user is read from the Huma API (`GET /users/{id}` and the positions, flattened as the extract does),
whatever the webhook body said; a user whose latest event is `users-delete` is not read (`core.push`). For a
connection limited to some of Huma's companies, locations or teams (the client's scope), a user whose details put
them outside it is not pushed, with the reason (``outside_reason``): a connection never writes anybody else's
employee.

Crona employees are found the way the field table matches them, by work email: `GET /anstallda/{AnstNr}`
with the Huma employment ID when that employee has the same work email; else (no employment ID, no such
AnstNr, or another person holds it) the Crona listing is read once and searched by work email. A Crona
employee holding a pushed user's employment ID is kept even when it is somebody else (see `core.push`). A push
of more than `core.push.SMALL_PUSH` users reads the whole listing at once: cheaper than one GET each by then,
and it gives the number of Crona employees the share guard counts against (`core.push.push_guard_violations`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pandas as pd

from ..core import normalise as norm
from ..core.fields import CRONA, MATCH_KEY, RECORD_ID_COLUMN, field
from ..core.push import SMALL_PUSH, ChangedUser, HumaChanges, collect_changes, users_to_read
from .crona import CRONA_COLUMNS, CronaClient, employee_row
from .crona_wire import is_same_employee
from .http import ApiError, NotFoundError, run_bounded
from .huma import HUMA_COLUMNS, HumaClient, unreadable_reason

# The raw columns the look-ups read, from the field table.
_HUMA_EMPLOYMENT_ID = field("employment_id").huma_columns[0]
_HUMA_WORK_EMAIL = MATCH_KEY.huma_columns[0]
_CRONA_WORK_EMAIL = MATCH_KEY.crona_columns[0]
_CRONA_KEY = RECORD_ID_COLUMN[CRONA]


async def _current_huma_rows(huma: HumaClient, ids: Sequence[str], outside_reason: str = "") -> list[dict | str | None]:
    """The current flattened row of every user (None for one Huma answers 404; for one that cannot be read after
    the retries, the reason "unreadable in Huma: …", so the rest of the batch is still pushed; for one whose
    details are outside the client's scope, ``outside_reason``)."""

    async def one(user_id: str) -> dict | str | None:
        try:
            row = await huma.fetch_row(user_id, scoped=huma.scope is not None)
            return outside_reason if row is None else row
        except NotFoundError:
            return None
        except ApiError as error:
            reason = unreadable_reason(error)
            if reason is None:  # not about this user (a refused key, rate limiting): the read fails
                raise
            return reason

    return await run_bounded(ids, one, huma.concurrency)


async def _crona_counterparts(crona: CronaClient, rows: list[dict], *, list_all: bool
                              ) -> tuple[list[dict], int | None]:
    """The Crona employees of the Huma rows (see the module docstring) and, when the listing was read, how
    many employees Crona has."""
    found: dict[str, dict] = {}
    search = rows
    listing = await crona.list_employees() if list_all else None
    if listing is None:
        async def by_employment_id(row: dict) -> dict | None:
            anstnr = norm.text(row.get(_HUMA_EMPLOYMENT_ID))
            return await crona.find_employee(anstnr) if anstnr else None

        search = []
        for row, employee in zip(rows, await run_bounded(rows, by_employment_id, crona.concurrency)):
            if employee is not None:
                found[str(employee.get(_CRONA_KEY))] = employee
            if employee is None or not is_same_employee(employee, row.get(_HUMA_WORK_EMAIL) or ""):
                search.append(row)
        if search:
            listing = await crona.list_employees()
    if listing is not None and search:
        emails = {norm.email(r.get(_HUMA_WORK_EMAIL)) for r in search} - {None}
        ids = {norm.text(r.get(_HUMA_EMPLOYMENT_ID)) for r in search} - {None}
        for employee in listing:
            if norm.email(employee.get(_CRONA_WORK_EMAIL)) in emails or norm.text(employee.get(_CRONA_KEY)) in ids:
                found[str(employee.get(_CRONA_KEY))] = employee
    return [employee_row(e) for e in found.values()], (len(listing) if listing is not None else None)


def read_changes(huma: HumaClient, crona: CronaClient, users: Sequence[ChangedUser],
                 outside_reason: str = "") -> HumaChanges:
    """Open both clients, read the batch's users from Huma and their employees from Crona (synchronous: ops).
    With a scoped Huma client, users whose details are outside its scope are not pushed, for ``outside_reason``."""
    wanted = users_to_read(users)

    async def run() -> tuple[list[dict | str | None], list[dict], int | None]:
        async with huma, crona:
            current = await _current_huma_rows(huma, [u.id for u in wanted], outside_reason)
            present = [r for r in current if isinstance(r, dict)]
            counterparts, total = ([], None)
            if present:
                counterparts, total = await _crona_counterparts(crona, present, list_all=len(present) > SMALL_PUSH)
            return current, counterparts, total

    current, counterparts, total = asyncio.run(run()) if wanted else ([], [], None)
    return collect_changes(
        users, current,
        huma_rows=pd.DataFrame([r for r in current if isinstance(r, dict)], columns=list(HUMA_COLUMNS)),
        crona_rows=pd.DataFrame(counterparts, columns=list(CRONA_COLUMNS)),
        crona_employees=total,
    )


__all__ = ["read_changes"]
