"""Crona's write-back: one ``PATCH /anstallda/{AnstNr}`` per employee, or a ``POST /anstallda`` that is never
repeated blindly (see `connectors.writeback`)."""

from __future__ import annotations

import logging

from ...core.fields import CRONA
from ...core.outcomes import APPLIED
from ...core.plan import CREATE, UPDATE
from .. import crona_wire
from ..http import ApiError, ConflictError
from .employees import Employee, new_values
from .writer import CREATE_ATTEMPTS, Writer, backoff

log = logging.getLogger("humacrona.connectors")

# Why an operation is not written, on either channel (the API's PATCH, or the PAXml import file).
IMMUTABLE = f"the {crona_wire.KEY_FIELD} of an existing Crona employee cannot be changed"
NO_ANSTNR = f"not written: the operations name no Crona {crona_wire.KEY_FIELD}"


class CronaWriter(Writer):
    system = "Crona"
    target = CRONA

    async def write(self, employee: Employee) -> None:
        creates, updates = employee.pending(CREATE), employee.pending(UPDATE)
        anstnr = None
        if creates:
            anstnr = await self.create(employee, creates)
            if anstnr is None:
                employee.skip(updates, "not written: the employee could not be created in Crona")
                return
        if not updates:
            return
        employee.skip([r for r in updates if r["field"] in crona_wire.IMMUTABLE_FIELDS], IMMUTABLE)
        updates = [r for r in updates if r["field"] not in crona_wire.IMMUTABLE_FIELDS]
        if not updates:
            return
        anstnr = anstnr or updates[0]["record_id"]
        if not anstnr:
            employee.skip(updates, NO_ANSTNR)
            return
        try:
            await self.client.patch_employee(str(anstnr), crona_wire.patch_body(new_values(updates)))
        except ApiError as exc:
            employee.fail(updates, exc)
            return
        employee.finish(updates, APPLIED)

    async def create(self, employee: Employee, rows: list[dict]) -> str | None:
        """POST the employee (or continue with the one that exists): its AnstNr, or None when it failed."""
        values = new_values(rows)
        values.setdefault("work_email", employee.email)
        try:
            body = crona_wire.create_body(values)
        except ValueError as exc:
            employee.skip(rows, f"not created: {exc}")
            return None
        anstnr = body[crona_wire.KEY_FIELD]
        try:
            existing = await self._post(anstnr, body)
            if existing is not None:
                if not crona_wire.is_same_employee(existing, employee.email):
                    employee.fail(rows, f"not created: Crona AnstNr {anstnr} already belongs to another employee"
                                        f" ({existing.get(crona_wire.WORK_EMAIL_COLUMN)})")
                    return None
                rest = crona_wire.remaining_changes(existing, body)
                if rest:
                    await self.client.patch_employee(anstnr, rest)
        except ApiError as exc:
            employee.fail(rows, exc)
            return None
        employee.finish(rows, APPLIED, created_id=anstnr)
        return anstnr

    async def _post(self, anstnr: str, body: dict) -> dict | None:
        """None when this call created the employee; the stored employee when it already existed."""
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                await self.client.create_employee(body)
                return None
            except ConflictError:
                existing = await self.client.find_employee(anstnr)
                if existing is None:
                    raise
                return existing
            except ApiError as exc:
                if not exc.outcome_unknown:
                    raise
                existing = await self.client.find_employee(anstnr)
                if existing is not None:
                    log.info("Crona: the create of AnstNr %s was applied although its answer was lost", anstnr)
                    return existing
                if attempt == CREATE_ATTEMPTS:
                    raise
                await backoff(self.client, attempt)
        raise AssertionError("unreachable")
