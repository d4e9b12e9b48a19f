"""The write-ahead record in group commits (``journal``, see `connectors.writeback`): pending rows committed
ahead of the writers in chunks, finished rows batched with them, all from one worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ...core.plan import HELD
from .employees import Employee

# ``journal(pending, finished)``: one transaction recording employees' pending rows and others' finished ones.
JournalCommit = Callable[[list[list[dict]], list[list[dict]]], None]

# With a ``journal``: pending rows are committed this many writers' worth of employees ahead of the writers.
JOURNAL_LOOKAHEAD = 4
JOURNAL_CHUNK = 32  # employees, at least


class GroupCommit:
    """The ``journal`` calls of a run, batched in one worker thread (see the module doc). Pending rows are
    committed ahead in chunks, in the order employees are written: an employee that starts finds its rows
    committed (or waits for the chunk holding them), and the next chunk is committed while it is written."""

    def __init__(self, commit: JournalCommit, employees: list[Employee], lookahead: int):
        self.commit = commit
        self.employees = employees
        self.position = {id(e): i for i, e in enumerate(employees)}
        self.lookahead = max(1, lookahead)
        self.queued = 0  # employees[:queued] have their pending rows committed or in a queued chunk
        self.chunk: list[asyncio.Future | None] = [None] * len(employees)  # each employee's chunk
        self.pending: list[tuple[list[list[dict]], asyncio.Future]] = []
        self.finished: list[list[dict]] = []
        self.task: asyncio.Task | None = None
        self.failure: BaseException | None = None
        self.closing = False

    def _queue_through(self, last: int) -> None:
        end = min(last + 1, len(self.employees))
        if end <= self.queued:
            return
        ready = asyncio.get_running_loop().create_future()
        groups = []
        for i in range(self.queued, end):
            rows = [dict(r) for r in self.employees[i].pending() if r["action"] != HELD]
            if rows:
                groups.append(rows)
            self.chunk[i] = ready
        self.queued = end
        self.pending.append((groups, ready))
        self._kick()

    async def ahead(self, employee: Employee) -> None:
        """Returns once the employee's pending rows are committed (raises when they could not be)."""
        if self.failure is not None:
            raise self.failure
        i = self.position[id(employee)]
        if i >= self.queued - self.lookahead // 2:  # the next chunk, before the writers reach it
            self._queue_through(max(i, self.queued - 1) + self.lookahead)
        ready = self.chunk[i]
        if not ready.done():
            await asyncio.shield(ready)  # shared with the chunk's other employees: never cancel it
        elif ready.exception() is not None:
            raise ready.exception()

    def done(self, rows: list[dict]) -> None:
        """Queues the employee's outcome; written with the next chunk, or once a chunk's worth is waiting
        (fewer, larger transactions: the thread competes with the event loop for the interpreter)."""
        if self.failure is None:
            self.finished.append(rows)
            if len(self.finished) >= self.lookahead:
                self._kick()

    def _kick(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._drain())

    def _due(self) -> bool:
        return bool(self.pending or len(self.finished) >= self.lookahead or (self.closing and self.finished))

    async def _drain(self) -> None:
        while self._due() and self.failure is None:
            batch, self.pending = self.pending, []
            finished, self.finished = self.finished, []
            try:
                await asyncio.to_thread(self.commit, [g for groups, _ in batch for g in groups], finished)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter and to close()
                self.failure = exc
                for _, ready in batch + self.pending:
                    if not ready.done():
                        ready.set_exception(exc)
                        ready.exception()  # retrieved: a chunk nobody awaited is not an "unhandled" error
                self.pending = []
                return
            for _, ready in batch:
                if not ready.done():
                    ready.set_result(None)

    async def close(self) -> None:
        """Every queued record committed (or the failure that stopped them raised)."""
        self.closing = True
        while True:
            if self.task is not None and not self.task.done():
                await asyncio.shield(self.task)
            elif self._due() and self.failure is None:
                self._kick()
            else:
                break
        if self.failure is not None:
            raise self.failure
