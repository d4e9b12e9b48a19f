"""Huma's write-back: the user (looked up by work email, else created), its details in one PATCH, then its
current position (patched, or created when it has none); job titles looked up or created once per run."""

from __future__ import annotations

import asyncio
import logging

from ...core.fields import HUMA
from ...core.outcomes import APPLIED
from ...core.plan import CREATE, UPDATE
from .. import huma_wire
from ..http import ApiError
from ..huma import HumaClient
from ..huma_errors import is_not_unique
from ..huma_titles import JobTitles
from ..huma_wire import USER_ID
from .employees import Employee, error_text, new_values
from .journal import JournalCommit
from .writer import CREATE_ATTEMPTS, EmployeeCheck, OutcomeCallback, Writer, backoff

log = logging.getLogger("humacrona.connectors")


class OutsideScope(Exception):
    """A create found its work email on a Huma user outside the connection's scope."""


class HumaWriter(Writer):
    system = "Huma"
    target = HUMA

    def __init__(self, client: HumaClient, concurrency: int, on_outcome: OutcomeCallback | None,
                 group_id: str | None, contract_type: str, before_write: OutcomeCallback | None = None,
                 check: EmployeeCheck | None = None, journal: JournalCommit | None = None):
        super().__init__(client, concurrency, on_outcome, before_write, check, journal)
        self.titles = JobTitles(client)
        self.contract_type = contract_type
        self._group_id = group_id
        self._group_task: asyncio.Task | None = None

    async def group_id(self) -> str:
        if self._group_id is not None:
            return self._group_id
        task = self._group_task
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            self._group_task = task = asyncio.ensure_future(self.client.company_group_id())  # (again)
        return await asyncio.shield(task)

    async def write(self, employee: Employee) -> None:
        creates, updates = employee.pending(CREATE), employee.pending(UPDATE)
        user_id: str | None = None
        carried: list[dict] = []
        if creates:
            user_id, fresh = await self.create(employee, creates)
            if user_id is None:
                return
            if fresh:  # POST /users wrote the names and the email
                carried = [r for r in creates if r["field"] in huma_wire.CREATE_FIELDS]
                employee.finish(carried, APPLIED, created_id=user_id)
            for row in creates:
                row["created_id"] = user_id
        else:
            user_id = updates[0]["record_id"] if updates else None
            if not user_id:
                employee.skip(updates, "not written: the operations name no Huma user id")
                return
        done = {id(r) for r in carried}
        todo = [r for r in creates + updates if id(r) not in done]
        details = [r for r in todo if huma_wire.write_call(r["field"]) == huma_wire.USER_CALL]
        position = [r for r in todo if huma_wire.write_call(r["field"]) == huma_wire.POSITION_CALL]
        if details:
            await self.write_details(employee, str(user_id), details)
        if position:
            await self.write_position(employee, str(user_id), position)

    async def create(self, employee: Employee, rows: list[dict]) -> tuple[str | None, bool]:
        """(user id, whether this run's POST created it) — (None, False) when the user could not be had;
        then the rows `POST /users` carries are failed and the others skipped."""
        values = new_values(rows)
        values.setdefault("work_email", employee.email)
        carried = [r for r in rows if r["field"] in huma_wire.CREATE_FIELDS]
        others = [r for r in rows if r["field"] not in huma_wire.CREATE_FIELDS]
        reason = "not written: the Huma user could not be created"
        try:
            huma_wire.user_create_body(values, "")  # what Huma requires is there
        except ValueError as exc:
            employee.skip(rows, f"not created: {exc}")
            return None, False
        try:
            existing = await self.client.find_user_by_email(values["work_email"])
            if existing is not None:
                self._inside_scope(existing)
                log.info("Huma: %s already exists; continuing with user %s", employee.email, existing[USER_ID])
                return existing[USER_ID], False
            body = huma_wire.user_create_body(values, await self.group_id())
            return await self._post(values["work_email"], body)
        except OutsideScope as exc:
            employee.skip(rows, str(exc))
            return None, False
        except (ApiError, ValueError) as exc:
            employee.fail(carried, exc)
            employee.skip(others, f"{reason}: {employee.scrub(error_text(exc))}")
            return None, False

    def _inside_scope(self, existing: dict) -> None:
        """The guard before a create continues with a Huma user who already has the email: OutsideScope when that
        user is outside the client's scope (another company, location or team): a connection never writes them."""
        if not self.client.in_scope(existing):
            raise OutsideScope("not written: a Huma user outside this connection's scope (another company, location "
                               "or team) has this work email; the connection whose scope holds them syncs them")

    async def _post(self, email: str, body: dict) -> tuple[str, bool]:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return (await self.client.create_user(body))[USER_ID], True
            except ApiError as exc:
                taken = is_not_unique(exc, huma_wire.WORK_EMAIL_PROPERTY)
                if not (taken or exc.outcome_unknown):
                    raise
                existing = await self.client.find_user_by_email(email, full_scan=taken)
                if existing is not None:
                    self._inside_scope(existing)
                    why = "the email is taken" if taken else "the create was applied although its answer was lost"
                    log.info("Huma: %s; continuing with user %s", why, existing[USER_ID])
                    return existing[USER_ID], False
                if taken or attempt == CREATE_ATTEMPTS:
                    raise
                await backoff(self.client, attempt)
        raise AssertionError("unreachable")

    async def write_details(self, employee: Employee, user_id: str, rows: list[dict]) -> None:
        changes = new_values(rows)
        try:
            current = await self.client.get_user(user_id) if "address" in changes else None
            await self.client.patch_user(user_id, huma_wire.user_details_body(changes, current))
        except ApiError as exc:
            employee.fail(rows, exc)
            return
        employee.finish(rows, APPLIED)

    async def write_position(self, employee: Employee, user_id: str, rows: list[dict]) -> None:
        changes = new_values(rows)
        title_id = None
        title_rows = [r for r in rows if r["field"] == "job_title"]
        if title_rows and changes["job_title"] is not None:
            try:
                title_id = await self.titles.id_for(str(changes["job_title"]))
            except ApiError as exc:  # the dates can still be written
                employee.fail(title_rows, exc)
                rows = [r for r in rows if r["field"] != "job_title"]
                changes.pop("job_title")
                if not rows:
                    return
        try:
            await self._position(user_id, changes, title_id)
        except ValueError as exc:  # Huma cannot hold a position without a start date and a title
            employee.skip(rows, f"not written: the user has no position and {exc}")
            return
        except ApiError as exc:
            employee.fail(rows, exc)
            return
        employee.finish(rows, APPLIED)

    async def _position(self, user_id: str, changes: dict, title_id: str | None) -> None:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            current = huma_wire.current_position(await self.client.list_positions(user_id))
            if current is not None:
                await self.client.patch_position(user_id, current["id"],
                                                 huma_wire.position_patch_body(changes, title_id))
                return
            body = huma_wire.position_create_body(changes, title_id, self.contract_type)
            try:
                await self.client.create_position(user_id, body)
                return
            except ApiError as exc:
                if not exc.outcome_unknown or attempt == CREATE_ATTEMPTS:
                    raise
                await backoff(self.client, attempt)  # then list again: the position may exist now
        raise AssertionError("unreachable")
