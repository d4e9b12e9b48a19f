"""What both systems' write-backs share: per-employee isolation, bounded concurrency, the held operations,
the reviewed plan's check and the audit callbacks around each employee's writes."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import suppress

import pandas as pd

from ...core.outcomes import SKIPPED
from ...core.plan import HELD
from ..http import run_bounded
from .employees import Employee, by_employee, error_text, outcome_frame, plan_rows
from .journal import JOURNAL_CHUNK, JOURNAL_LOOKAHEAD, GroupCommit, JournalCommit

log = logging.getLogger("humacrona.connectors")

OutcomeCallback = Callable[[list[dict]], None]
# ``await check(email, rows)`` before an employee's first write: None to write it, else (status, reason) for
# every row (`connectors.drift.DriftCheck`, when a reviewed plan is applied).
EmployeeCheck = Callable[[str, list[dict]], Awaitable[tuple[str, str] | None]]

CREATE_ATTEMPTS = 3  # POSTs of one record at most, each only after checking that it does not exist yet
HOLD_HINT = ("held: a changed salary account of an existing Crona employee is not written until it is approved;"
             " to approve it, add `approve_bank_account_change: true` for {email} under `employees:` in the"
             " policy (an entry `- email: {email}`) and run the sync again")


async def backoff(client, attempt: int) -> None:
    retry = client.session.retry
    await retry.sleep(retry.backoff_s(attempt))


class Writer(ABC):
    """What both systems' write-backs share: per-employee isolation, bounded concurrency, the callback."""

    system: str
    target: str

    def __init__(self, client, concurrency: int, on_outcome: OutcomeCallback | None,
                 before_write: OutcomeCallback | None = None, check: EmployeeCheck | None = None,
                 journal: JournalCommit | None = None):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.concurrency = concurrency
        self.on_outcome = on_outcome
        self.before_write = before_write
        self.check = check
        self.journal_commit = journal
        self.journal: GroupCommit | None = None

    async def run(self, operations: pd.DataFrame) -> pd.DataFrame:
        rows = plan_rows(operations, self.target)
        employees = by_employee(rows)
        self.journal = (None if self.journal_commit is None else
                        GroupCommit(self.journal_commit, employees,
                                     max(JOURNAL_CHUNK, JOURNAL_LOOKAHEAD * self.concurrency)))
        try:
            await run_bounded(employees, self._one, self.concurrency)
        except BaseException:
            if self.journal is not None:  # what is finished still gets its record; the first error wins
                with suppress(Exception):
                    await self.journal.close()
            raise
        if self.journal is not None:
            await self.journal.close()
        return outcome_frame(rows)

    async def _one(self, employee: Employee) -> None:
        held = employee.pending(HELD)
        employee.skip(held, HOLD_HINT.format(email=employee.email))
        if self.check is not None and employee.pending():  # a reviewed plan: unchanged since the review?
            try:
                verdict = await self.check(employee.email, [dict(r) for r in employee.pending()])
            except Exception as exc:  # noqa: BLE001 - not checked, so not written
                verdict = SKIPPED, f"not written: the check against the reviewed plan failed: {error_text(exc)}"
            if verdict is not None:
                employee.finish(employee.pending(), verdict[0], verdict[1])
        if self.before_write is not None and employee.pending():  # outside the try: no write without a record
            self.before_write([dict(r) for r in employee.pending()])
        if self.journal is not None and employee.pending():  # committed before the first request
            await self.journal.ahead(employee)
        try:
            if employee.pending():
                await self.write(employee)
        except Exception as exc:  # one failing employee never stops the others
            log.warning("%s: writing %s failed: %s", self.system, employee.email,
                        employee.scrub(error_text(exc)))
            employee.fail(employee.pending(), exc)
        unfinished = employee.pending()
        if unfinished:  # a bug rather than an answer: say so instead of leaving a row without status
            employee.fail(unfinished, "not written: the write-back did not reach this operation")
        if self.on_outcome is not None:
            self.on_outcome([dict(r) for r in employee.rows])
        if self.journal is not None:
            self.journal.done([dict(r) for r in employee.rows])

    @abstractmethod
    async def write(self, employee: Employee) -> None:
        """Write one employee's pending operations, finishing each row (each system's own calls)."""
