"""The write-back engine: a sync plan's operations for one system, written through its client and read
back to verify them. Only orchestration lives here; what Huma's and Crona's requests look like is in
`connectors.huma` and `connectors.crona`.

    outcomes = apply_plan(crona_client, "crona", plan.operations)            # synchronous
    outcomes = await write_crona(crona, ops); outcomes = await verify_crona(crona, outcomes)

Input: rows of `SyncPlan.operations` (`core.plan.PLAN_COLUMNS`) for one target, canonical values.
Output: `core.outcomes.OUTCOME_COLUMNS`, one row per input row, in input order.

How each employee is written (one employee's failure never stops the others):

- Crona, update: one ``PATCH /anstallda/{AnstNr}`` with every changed column of the employee.
- Crona, create: one ``POST /anstallda`` with everything (AnstNr = the employment ID). 409 (the AnstNr
  exists) or a failure whose outcome is unknown (5xx, dropped connection) is answered by reading the
  AnstNr: if the employee exists, and is the same person (work email), the run continues with it and
  patches whatever it lacks; only if it does not exist is the POST repeated (a few times, with back-off).
- Huma, update: one ``PATCH /users/{id}`` for names, emails, phone, employment ID, home address (all
  six keys, address lines 2 and 3 kept from the user) and bank account; then the current position
  (`huma.current_position`) is patched with start date, end date and ``titleId``, or a position is
  created when the user has none. Titles are looked up by name and created once per run (`huma.JobTitles`).
- Huma, create: the user is looked up by work email first; if absent ``POST /users`` (names, email,
  the group, no invitation), then the details PATCH, then the position. The group is ``group_id`` when
  given, else the organisation's only company group (`HumaClient.company_group_id`). A failed POST is
  handled as in Crona: look the user up by email and continue with it, or repeat the POST.
- ``held`` operations are not written: ``skipped``, with how to approve them.

Statuses: ``applied``; ``failed`` (``error``: the API's answer); ``skipped`` (``error``: why not tried);
verification turns an ``applied`` whose read-back differs into ``unverified``. No error text ever holds
a full bank account: every message is scrubbed of the accounts in the operations, and values are shown
through `core.display`.

``before_write`` is called with each employee's operations that are about to be written (not the held
ones) before the first request for that employee, and ``on_outcome`` with the employee's finished rows
(before verification) as soon as that employee is done, both from the event loop thread: the audit ledger
records the first as ``pending`` and completes them with the second, so a run killed between a request and
its record still leaves a trace. An exception either raises stops the run (writing on without an audit
record is worse than stopping).

``journal(pending, finished)`` is the same record in batches, for a ledger where one transaction per
employee is the bottleneck (group commit): called from one worker thread, one call at a time, with the
pending rows of any number of employees about to be written (a list per employee) and the finished rows of
others; an employee's first request waits until the call holding its pending rows has returned (the
write-ahead guarantee), its finished rows go in a later call, and the last call has returned before the
writes end (before verification). Pending rows are committed ahead, in chunks of `JOURNAL_LOOKAHEAD` times
the concurrency (`JOURNAL_CHUNK` at least) in the order employees are written, the next chunk while the
writers work on this one, so employees rarely wait; outcomes go with a chunk, or once a chunk's worth has
finished. A run that stops leaves the rows of employees it did not reach ``pending`` (and those whose outcome
was not written yet), which the next run reads back and concludes, as it does any interrupted write.
Employees a reviewed plan's ``check`` refuses are concluded by their finished rows. An exception it raises
stops the run, as the callbacks' do.

``check`` (a reviewed plan's `drift.DriftCheck`) is awaited before ``before_write``: an employee it refuses
is not written, its rows ending ``drifted`` (changed since the review) or ``skipped`` (could not be read).
"""

from __future__ import annotations

import asyncio
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from ..core.bank_accounts import mask
from ..core.canonical import to_canonical
from ..core.display import display_value, present
from ..core.fields import BY_NAME, CRONA, HUMA, SYSTEM_NAMES
from ..core.normalise import bank_account_split
from ..core.outcomes import APPLIED, FAILED, OUTCOME_COLUMNS, SKIPPED, UNVERIFIED, empty_outcomes
from ..core.plan import CREATE, HELD, PLAN_COLUMNS, UPDATE
from . import crona as crona_api
from . import huma as huma_api
from .crona import CronaClient
from .drift import DriftCheck
from .http import ApiError, ConflictError, run_bounded
from .huma import HumaClient

log = logging.getLogger("humacrona.connectors")

OutcomeCallback = Callable[[list[dict]], None]
# ``journal(pending, finished)``: one transaction recording employees' pending rows and others' finished ones.
JournalCommit = Callable[[list[list[dict]], list[list[dict]]], None]
# ``await check(email, rows)`` before an employee's first write: None to write it, else (status, reason) for
# every row (`connectors.drift.DriftCheck`, when a reviewed plan is applied).
EmployeeCheck = Callable[[str, list[dict]], Awaitable[tuple[str, str] | None]]

# With a ``journal``: pending rows are committed this many writers' worth of employees ahead of the writers.
JOURNAL_LOOKAHEAD = 4
JOURNAL_CHUNK = 32  # employees, at least
CREATE_ATTEMPTS = 3  # POSTs of one record at most, each only after checking that it does not exist yet
HOLD_HINT = ("held: a changed salary account of an existing Crona employee is not written until it is approved;"
             " to approve it, add `approve_bank_account_change: true` for {email} under `employees:` in the"
             " policy (an entry `- email: {email}`) and run the sync again")


# ----------------------------------------------------------------------------------------- helpers


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean(value: object) -> object:
    """None for pandas' blanks (NaN, NA); the value otherwise."""
    return value if present(value) else None


class _Scrubber:
    """Removes every bank account of the operations from a text (an API's error message may echo it)."""

    def __init__(self, rows: Iterable[dict]):
        patterns = set()
        for row in rows:
            if row["field"] != "bank_account":
                continue
            for value in (row["current_value"], row["new_value"]):
                if isinstance(value, str) and value.strip():
                    _, account = bank_account_split(value.strip())
                    digits = re.sub(r"\D", "", account or value)
                    if len(digits) >= 4:
                        patterns.add(digits)
        # Digits in any grouping ("630 414 670-4"): each digit may be followed by a separator.
        self._patterns = [re.compile(r"[\s.,-]?".join(map(re.escape, d))) for d in
                          sorted(patterns, key=len, reverse=True)]

    def __call__(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(lambda m: mask(m.group(0)), text)
        return text


@dataclass
class _Employee:
    email: str
    rows: list[dict]
    scrub: _Scrubber = field(init=False)

    def __post_init__(self) -> None:
        self.scrub = _Scrubber(self.rows)

    def pending(self, *actions: str) -> list[dict]:
        return [r for r in self.rows if r["status"] is None and (not actions or r["action"] in actions)]

    def finish(self, rows: Iterable[dict], status: str, error: str | None = None,
               created_id: str | None = None) -> None:
        at = _now()
        text = self.scrub(error) if error else None
        for row in rows:
            row.update(status=status, error=text, at=at)
            if created_id is not None:
                row["created_id"] = created_id

    def fail(self, rows: Iterable[dict], exc: BaseException | str) -> None:
        self.finish(rows, FAILED, _error_text(exc))

    def skip(self, rows: Iterable[dict], reason: str) -> None:
        self.finish(rows, SKIPPED, reason)


def _error_text(exc: BaseException | str) -> str:
    if isinstance(exc, str):
        return exc
    text = " ".join(str(exc).split())
    if isinstance(exc, ApiError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _rows(operations: pd.DataFrame, target: str) -> list[dict]:
    missing = [c for c in PLAN_COLUMNS if c not in operations.columns]
    if missing:
        raise ValueError(f"the operations lack the plan columns {missing}")
    rows = []
    for record in operations[list(PLAN_COLUMNS)].to_dict("records"):
        row = {c: _clean(record[c]) for c in PLAN_COLUMNS}
        if row["target"] != target:
            raise ValueError(f"an operation for {row['target']!r} was given to the {SYSTEM_NAMES[target]} "
                             f"write-back; pass each target's operations separately (apply_plan selects them)")
        if row["action"] not in (CREATE, UPDATE, HELD):
            raise ValueError(f"unknown action {row['action']!r}")
        row.update(status=None, error=None, at=None, created_id=None)
        rows.append(row)
    return rows


def _employees(rows: list[dict]) -> list[_Employee]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["employee"], []).append(row)
    return [_Employee(email, group) for email, group in groups.items()]


def _frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_outcomes()
    return pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS), dtype=object)


def _values(rows: Iterable[dict]) -> dict[str, object]:
    return {r["field"]: r["new_value"] for r in rows}


async def _backoff(client, attempt: int) -> None:
    retry = client.session.retry
    await retry.sleep(retry.backoff_s(attempt))


class _GroupCommit:
    """The ``journal`` calls of a run, batched in one worker thread (see the module doc). Pending rows are
    committed ahead in chunks, in the order employees are written: an employee that starts finds its rows
    committed (or waits for the chunk holding them), and the next chunk is committed while it is written."""

    def __init__(self, commit: JournalCommit, employees: list[_Employee], lookahead: int):
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

    async def ahead(self, employee: _Employee) -> None:
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


class _Writer(ABC):
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
        self.journal: _GroupCommit | None = None

    async def run(self, operations: pd.DataFrame) -> pd.DataFrame:
        rows = _rows(operations, self.target)
        employees = _employees(rows)
        self.journal = (None if self.journal_commit is None else
                        _GroupCommit(self.journal_commit, employees,
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
        return _frame(rows)

    async def _one(self, employee: _Employee) -> None:
        held = employee.pending(HELD)
        employee.skip(held, HOLD_HINT.format(email=employee.email))
        if self.check is not None and employee.pending():  # a reviewed plan: unchanged since the review?
            try:
                verdict = await self.check(employee.email, [dict(r) for r in employee.pending()])
            except Exception as exc:  # noqa: BLE001 - not checked, so not written
                verdict = SKIPPED, f"not written: the check against the reviewed plan failed: {_error_text(exc)}"
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
                        employee.scrub(_error_text(exc)))
            employee.fail(employee.pending(), exc)
        unfinished = employee.pending()
        if unfinished:  # a bug rather than an answer: say so instead of leaving a row without status
            employee.fail(unfinished, "not written: the write-back did not reach this operation")
        if self.on_outcome is not None:
            self.on_outcome([dict(r) for r in employee.rows])
        if self.journal is not None:
            self.journal.done([dict(r) for r in employee.rows])

    @abstractmethod
    async def write(self, employee: _Employee) -> None:
        """Write one employee's pending operations, finishing each row (each system's own calls)."""


# ------------------------------------------------------------------------------------------- Crona


class _CronaWriter(_Writer):
    system = "Crona"
    target = CRONA

    async def write(self, employee: _Employee) -> None:
        creates, updates = employee.pending(CREATE), employee.pending(UPDATE)
        anstnr = None
        if creates:
            anstnr = await self.create(employee, creates)
            if anstnr is None:
                employee.skip(updates, "not written: the employee could not be created in Crona")
                return
        if not updates:
            return
        immutable = [r for r in updates if r["field"] == "employment_id"]
        employee.skip(immutable, "the AnstNr of an existing Crona employee cannot be changed")
        updates = [r for r in updates if r["field"] != "employment_id"]
        if not updates:
            return
        anstnr = anstnr or updates[0]["record_id"]
        if not anstnr:
            employee.skip(updates, "not written: the operations name no Crona AnstNr")
            return
        try:
            await self.client.patch_employee(str(anstnr), crona_api.patch_body(_values(updates)))
        except ApiError as exc:
            employee.fail(updates, exc)
            return
        employee.finish(updates, APPLIED)

    async def create(self, employee: _Employee, rows: list[dict]) -> str | None:
        """POST the employee (or continue with the one that exists): its AnstNr, or None when it failed."""
        values = _values(rows)
        values.setdefault("work_email", employee.email)
        try:
            body = crona_api.create_body(values)
        except ValueError as exc:
            employee.skip(rows, f"not created: {exc}")
            return None
        anstnr = body[crona_api.KEY_FIELD]
        try:
            existing = await self._post(anstnr, body)
            if existing is not None:
                if not crona_api.is_same_employee(existing, employee.email):
                    employee.fail(rows, f"not created: Crona AnstNr {anstnr} already belongs to another employee"
                                        f" ({existing.get('EpostArb')})")
                    return None
                rest = crona_api.remaining_changes(existing, body)
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
                await _backoff(self.client, attempt)
        raise AssertionError("unreachable")


# -------------------------------------------------------------------------------------------- Huma


class _HumaWriter(_Writer):
    system = "Huma"
    target = HUMA

    def __init__(self, client: HumaClient, concurrency: int, on_outcome: OutcomeCallback | None,
                 group_id: str | None, contract_type: str, before_write: OutcomeCallback | None = None,
                 check: EmployeeCheck | None = None, journal: JournalCommit | None = None):
        super().__init__(client, concurrency, on_outcome, before_write, check, journal)
        self.titles = huma_api.JobTitles(client)
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

    async def write(self, employee: _Employee) -> None:
        creates, updates = employee.pending(CREATE), employee.pending(UPDATE)
        user_id: str | None = None
        carried: list[dict] = []
        if creates:
            user_id, fresh = await self.create(employee, creates)
            if user_id is None:
                return
            if fresh:  # POST /users wrote the names and the email
                carried = [r for r in creates if r["field"] in huma_api.CREATE_FIELDS]
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
        details = [r for r in todo if huma_api.write_call(r["field"]) == huma_api.USER_CALL]
        position = [r for r in todo if huma_api.write_call(r["field"]) == huma_api.POSITION_CALL]
        if details:
            await self.write_details(employee, str(user_id), details)
        if position:
            await self.write_position(employee, str(user_id), position)

    async def create(self, employee: _Employee, rows: list[dict]) -> tuple[str | None, bool]:
        """(user id, whether this run's POST created it) — (None, False) when the user could not be had;
        then the rows `POST /users` carries are failed and the others skipped."""
        values = _values(rows)
        values.setdefault("work_email", employee.email)
        carried = [r for r in rows if r["field"] in huma_api.CREATE_FIELDS]
        others = [r for r in rows if r["field"] not in huma_api.CREATE_FIELDS]
        reason = "not written: the Huma user could not be created"
        try:
            huma_api.user_create_body(values, "")  # what Huma requires is there
        except ValueError as exc:
            employee.skip(rows, f"not created: {exc}")
            return None, False
        try:
            existing = await self.client.find_user_by_email(values["work_email"])
            if existing is not None:
                log.info("Huma: %s already exists; continuing with user %s", employee.email, existing["id"])
                return existing["id"], False
            body = huma_api.user_create_body(values, await self.group_id())
            return await self._post(values["work_email"], body)
        except (ApiError, ValueError) as exc:
            employee.fail(carried, exc)
            employee.skip(others, f"{reason}: {employee.scrub(_error_text(exc))}")
            return None, False

    async def _post(self, email: str, body: dict) -> tuple[str, bool]:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return (await self.client.create_user(body))["id"], True
            except ApiError as exc:
                taken = huma_api.is_not_unique(exc, "email")
                if not (taken or exc.outcome_unknown):
                    raise
                existing = await self.client.find_user_by_email(email, full_scan=taken)
                if existing is not None:
                    why = "the email is taken" if taken else "the create was applied although its answer was lost"
                    log.info("Huma: %s; continuing with user %s", why, existing["id"])
                    return existing["id"], False
                if taken or attempt == CREATE_ATTEMPTS:
                    raise
                await _backoff(self.client, attempt)
        raise AssertionError("unreachable")

    async def write_details(self, employee: _Employee, user_id: str, rows: list[dict]) -> None:
        changes = _values(rows)
        try:
            current = await self.client.get_user(user_id) if "address" in changes else None
            await self.client.patch_user(user_id, huma_api.user_details_body(changes, current))
        except ApiError as exc:
            employee.fail(rows, exc)
            return
        employee.finish(rows, APPLIED)

    async def write_position(self, employee: _Employee, user_id: str, rows: list[dict]) -> None:
        changes = _values(rows)
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
            current = huma_api.current_position(await self.client.list_positions(user_id))
            if current is not None:
                await self.client.patch_position(user_id, current["id"],
                                                 huma_api.position_patch_body(changes, title_id))
                return
            body = huma_api.position_create_body(changes, title_id, self.contract_type)
            try:
                await self.client.create_position(user_id, body)
                return
            except ApiError as exc:
                if not exc.outcome_unknown or attempt == CREATE_ATTEMPTS:
                    raise
                await _backoff(self.client, attempt)  # then list again: the position may exist now
        raise AssertionError("unreachable")


# -------------------------------------------------------------------------------------- public API


async def write_crona(client: CronaClient, operations: pd.DataFrame, *, concurrency: int = 4,
                      on_outcome: OutcomeCallback | None = None, before_write: OutcomeCallback | None = None,
                      check: EmployeeCheck | None = None, journal: JournalCommit | None = None) -> pd.DataFrame:
    """Write Crona's operations through an open client; the outcomes (`OUTCOME_COLUMNS`), unverified."""
    return await _CronaWriter(client, concurrency, on_outcome, before_write, check, journal).run(operations)


async def write_huma(client: HumaClient, operations: pd.DataFrame, *, concurrency: int = 8,
                     on_outcome: OutcomeCallback | None = None, group_id: str | None = None,
                     contract_type: str = huma_api.DEFAULT_CONTRACT_TYPE,
                     before_write: OutcomeCallback | None = None, check: EmployeeCheck | None = None,
                     journal: JournalCommit | None = None) -> pd.DataFrame:
    """Write Huma's operations through an open client; the outcomes (`OUTCOME_COLUMNS`), unverified.

    ``group_id``: the group new users join (default: the organisation's only company group).
    ``contract_type``: of a position created for a user who has none (Huma requires one)."""
    return await _HumaWriter(client, concurrency, on_outcome, group_id, contract_type, before_write,
                             check, journal).run(operations)


# ---------------------------------------------------------------------------------- verification


def _shown(field_name: str, value: object) -> str:
    text = display_value(field_name, value)
    return repr(text) if text else "nothing"


async def _verify(outcomes: pd.DataFrame, side: str, read: Callable, workers: int) -> pd.DataFrame:
    """``read(record_id)`` -> one raw row of ``side``; every applied operation compared with it. The rows read
    are made canonical in one pass (per record, pandas' fixed cost dominated a large run)."""
    frame = outcomes.reset_index(drop=True).astype(object)
    if frame.empty:
        return frame
    rows = frame.to_dict("records")
    applied = [i for i, row in enumerate(rows) if row["status"] == APPLIED]
    record_of = {i: _clean(rows[i]["created_id"]) or _clean(rows[i]["record_id"]) for i in applied}
    records = list(dict.fromkeys(r for r in record_of.values() if r is not None))

    async def fetch(record_id) -> dict | str:
        try:
            return await read(str(record_id))
        except ApiError as exc:
            return f"could not be read back to verify it: {_error_text(exc)}"

    found = dict(zip(records, await run_bounded(records, fetch, workers)))
    readable = [r for r in records if not isinstance(found[r], str)]
    if readable:
        canon, _ = to_canonical(pd.DataFrame([found[r] for r in readable], dtype=object), side)
        for record_id, values in zip(readable, canon.to_dict("records")):
            found[record_id] = {k: _clean(v) for k, v in values.items()}
    by_email: dict[str, list[dict]] = {}
    for row in rows:
        by_email.setdefault(row["employee"], []).append(row)
    scrubbers: dict[str, _Scrubber] = {}
    for i in applied:
        record_id, name, email = record_of[i], rows[i]["field"], rows[i]["employee"]
        if email not in scrubbers:
            scrubbers[email] = _Scrubber(by_email[email])
        if record_id is None:
            error = "could not be read back to verify it: no record id"
        elif isinstance(found[record_id], str):
            error = found[record_id]
        else:
            expected, got = _clean(rows[i]["new_value"]), found[record_id].get(name)
            if expected == got:
                continue
            error = (f"{BY_NAME[name].label}: expected {_shown(name, expected)}, found {_shown(name, got)}"
                     f" when read back")
        frame.at[i, "status"] = UNVERIFIED
        frame.at[i, "error"] = scrubbers[email](error)
    return frame


async def verify_crona(client: CronaClient, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Read back every employee with an applied operation (`GET /anstallda/{AnstNr}`); an operation whose
    field reads back other than its new value becomes ``unverified``. Answers a new frame."""

    async def read(anstnr: str) -> dict:
        return crona_api.employee_row(await client.get_employee(anstnr))

    return await _verify(outcomes, CRONA, read, client.concurrency)


async def verify_huma(client: HumaClient, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Read back every user with an applied operation (`GET /users/{id}` and its positions); an operation
    whose field reads back other than its new value becomes ``unverified``. Answers a new frame."""

    return await _verify(outcomes, HUMA, client.fetch_row, client.concurrency)


def apply_plan(client: HumaClient | CronaClient, target: str, operations: pd.DataFrame, *,
               on_outcome: OutcomeCallback | None = None, concurrency: int | None = None,
               huma_group_id: str | None = None, before_write: OutcomeCallback | None = None,
               check: DriftCheck | None = None, journal: JournalCommit | None = None) -> pd.DataFrame:
    """Synchronous entry point (Dagster assets): open the client, write the operations of ``target``
    (rows for the other system are left out), verify them, close it; answers the verified outcomes.

    ``huma_group_id``: the group users created in Huma join (default: the organisation's company group).
    ``check``: a reviewed plan's last check of each employee before its first write (opened here).
    ``journal``: the write-ahead record in group commits (see the module doc), instead of or besides the
    per-employee ``before_write`` / ``on_outcome``."""
    if target not in (HUMA, CRONA):
        raise ValueError(f"target must be {HUMA!r} or {CRONA!r}, got {target!r}")
    expected = HumaClient if target == HUMA else CronaClient
    if not isinstance(client, expected):
        raise TypeError(f"apply_plan to {target!r} needs a {expected.__name__}, got {type(client).__name__}")
    ops = operations[operations["target"] == target] if "target" in operations.columns else operations
    if ops.empty:
        return empty_outcomes()

    async def run() -> pd.DataFrame:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(client)
            if check is not None:
                await stack.enter_async_context(check)
            if target == HUMA:
                written = await write_huma(client, ops, concurrency=concurrency or 8, on_outcome=on_outcome,
                                           group_id=huma_group_id, before_write=before_write, check=check,
                                           journal=journal)
                return await verify_huma(client, written)
            written = await write_crona(client, ops, concurrency=concurrency or 4, on_outcome=on_outcome,
                                        before_write=before_write, check=check, journal=journal)
            return await verify_crona(client, written)

    return asyncio.run(run())


__all__ = ["CREATE_ATTEMPTS", "EmployeeCheck", "JournalCommit", "OutcomeCallback", "apply_plan", "verify_crona",
           "verify_huma", "write_crona", "write_huma"]
