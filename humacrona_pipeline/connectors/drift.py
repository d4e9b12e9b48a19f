"""The last check of a reviewed plan: right before an employee's first write, read the employee again from
both systems and compare it with what the plan was made from (`core.review`). An employee that changed in
between is not written (``drifted``); one that cannot be read is not written either (``skipped``).

Used by the write-back (`writeback.apply_plan(check=...)`) when `sync_users` applies a reviewed plan; the
default plan-and-apply has no such check (it reads both systems at its start and plans from that)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pandas as pd

from ..core.canonical import to_canonical
from ..core.fields import CRONA, HUMA, SYSTEM_NAMES
from ..core.outcomes import DRIFTED, SKIPPED
from ..core.plan import CREATE
from ..core.review import Basis, Record, changes
from . import crona as crona_api
from .crona import CronaClient
from .http import ApiError, NotFoundError
from .huma import HumaClient
from .huma_wire import USER_ID

REVIEW_PREFIX = "changed since the plan was reviewed (read again right before writing): "


class DriftCheck:
    """``await check(email, rows)`` -> None (write it) or (status, reason). Opens its own clients of both
    systems (``async with check:``), so it does not depend on which system the write-back writes."""

    def __init__(self, huma: HumaClient, crona: CronaClient, basis: Basis, key: bytes, *,
                 map_country_names: bool = False) -> None:
        self.huma, self.crona = huma, crona
        self.basis = basis
        self.key = key
        self.map_country_names = map_country_names
        self._stack: AsyncExitStack | None = None

    def __repr__(self) -> str:  # never the key
        return f"DriftCheck(employees={len(self.basis)})"

    async def __aenter__(self) -> DriftCheck:
        self._stack = AsyncExitStack()
        await self._stack.enter_async_context(self.huma)
        await self._stack.enter_async_context(self.crona)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._stack is not None:
            await self._stack.aclose()

    async def __call__(self, email: str, rows: list[dict]) -> tuple[str, str] | None:
        before = self.basis.get(email)
        if before is None:
            return DRIFTED, "not written: the reviewed plan holds no basis for this employee"
        try:
            found = await asyncio.gather(self._changes(HUMA, before[HUMA], email, rows),
                                         self._changes(CRONA, before[CRONA], email, rows))
        except ApiError as exc:
            return SKIPPED, f"not written: could not be read to check it against the reviewed plan: {exc}"
        reasons = [r for side in found for r in side]
        return (DRIFTED, REVIEW_PREFIX + "; ".join(reasons)) if reasons else None

    async def _changes(self, side: str, record: Record, email: str, rows: list[dict]) -> list[str]:
        if record.record_id is None:
            return await self._absent(side, email, rows)
        raw = await self._read(side, record.record_id)
        if raw is None:
            return changes(side, record, None, self.key)
        frame, _ = to_canonical(pd.DataFrame([raw]), side, map_country_names=self.map_country_names)
        return changes(side, record, frame.iloc[0].to_dict(), self.key)

    async def _read(self, side: str, record_id: str) -> dict | None:
        try:
            if side == CRONA:
                return crona_api.employee_row(await self.crona.get_employee(record_id))
            return await self.huma.fetch_row(record_id)
        except NotFoundError:
            return None

    async def _absent(self, side: str, email: str, rows: list[dict]) -> list[str]:
        """The employee was absent from ``side`` at review time (it is to be created there): still absent?"""
        system = SYSTEM_NAMES[side]
        if side == HUMA:
            user = await self.huma.find_user_by_email(email)
            return [f"now in {system} (user {user.get(USER_ID)}), absent when the plan was reviewed"] if user else []
        numbers = {str(r["new_value"]) for r in rows if r["action"] == CREATE and r["field"] == "employment_id"
                   and r["new_value"] is not None}
        taken = [n for n in sorted(numbers) if await self.crona.find_employee(n) is not None]
        return [f"{system} AnstNr {n} is now taken, free when the plan was reviewed" for n in taken]


__all__ = ["REVIEW_PREFIX", "DriftCheck"]
