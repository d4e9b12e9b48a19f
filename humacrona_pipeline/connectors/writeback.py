"""The write-back engine: a sync plan's operations for one system, written through its client and read
back to verify them. This module is its entry point; the parts are in `connectors.writing` (one employee's
rows, the journal, each system's writer, the read-back), and what Huma's and Crona's requests look like is
in `connectors.huma_wire` and `connectors.crona_wire`.

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
  (`huma_wire.current_position`) is patched with start date, end date and ``titleId``, or a position is
  created when the user has none. Titles are looked up by name and created once per run
  (`huma_titles.JobTitles`).
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
writes end (before verification). Pending rows are committed ahead, in chunks of `writing.journal.JOURNAL_LOOKAHEAD`
times the concurrency (`JOURNAL_CHUNK` at least) in the order employees are written, the next chunk while the
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
from contextlib import AsyncExitStack

import pandas as pd

from ..core.fields import CRONA, HUMA
from ..core.outcomes import empty_outcomes
from .crona import CronaClient
from .crona_wire import employee_row
from .drift import DriftCheck
from .huma import HumaClient
from .huma_wire import DEFAULT_CONTRACT_TYPE
from .writing.crona_writer import CronaWriter
from .writing.huma_writer import HumaWriter
from .writing.journal import JournalCommit
from .writing.verify import verify_outcomes
from .writing.writer import CREATE_ATTEMPTS, EmployeeCheck, OutcomeCallback

# -------------------------------------------------------------------------------------- public API


async def write_crona(client: CronaClient, operations: pd.DataFrame, *, concurrency: int = 4,
                      on_outcome: OutcomeCallback | None = None, before_write: OutcomeCallback | None = None,
                      check: EmployeeCheck | None = None, journal: JournalCommit | None = None) -> pd.DataFrame:
    """Write Crona's operations through an open client; the outcomes (`OUTCOME_COLUMNS`), unverified."""
    return await CronaWriter(client, concurrency, on_outcome, before_write, check, journal).run(operations)


async def write_huma(client: HumaClient, operations: pd.DataFrame, *, concurrency: int = 8,
                     on_outcome: OutcomeCallback | None = None, group_id: str | None = None,
                     contract_type: str = DEFAULT_CONTRACT_TYPE,
                     before_write: OutcomeCallback | None = None, check: EmployeeCheck | None = None,
                     journal: JournalCommit | None = None) -> pd.DataFrame:
    """Write Huma's operations through an open client; the outcomes (`OUTCOME_COLUMNS`), unverified.

    ``group_id``: the group new users join (default: the organisation's only company group).
    ``contract_type``: of a position created for a user who has none (Huma requires one)."""
    return await HumaWriter(client, concurrency, on_outcome, group_id, contract_type, before_write,
                             check, journal).run(operations)


# ---------------------------------------------------------------------------------- verification


async def verify_crona(client: CronaClient, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Read back every employee with an applied operation (`GET /anstallda/{AnstNr}`); an operation whose
    field reads back other than its new value becomes ``unverified``. Answers a new frame."""

    async def read(anstnr: str) -> dict:
        return employee_row(await client.get_employee(anstnr))

    return await verify_outcomes(outcomes, CRONA, read, client.concurrency)


async def verify_huma(client: HumaClient, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Read back every user with an applied operation (`GET /users/{id}` and its positions); an operation
    whose field reads back other than its new value becomes ``unverified``. Answers a new frame."""

    return await verify_outcomes(outcomes, HUMA, client.fetch_row, client.concurrency)


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
