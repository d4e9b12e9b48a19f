"""The PAXml channel's write-back: a sync plan's Crona operations as one import file for the administrator to
import in Crona Lön, instead of API requests. Same outcome rows as `connectors.writeback`, one per operation:

- written to the file: ``awaiting import``, with the file and what to do (the next sync reads Crona's new export
  and marks each ``applied`` or ``not applied``: `connectors.resolve`);
- ``skipped`` with the reason: a held salary-account change (as on the API), a changed AnstNr (immutable in
  Crona), a cleared date (PAXml 2.0 has no empty date: cleared by hand in Crona Lön), a create without what
  Crona requires, or a value the file cannot hold. One employee's refusal never stops the others.

The whole document is built and validated against the schema before anything is recorded or written (when it
cannot be, each employee is checked alone to find who cannot be written); a document that does not validate is
never written (PaxmlError: the run fails saying why). Then the audit journal records the
operations ``pending``, the file is written atomically (a temporary file renamed: never half a file), and the
rows are completed. A run killed in between leaves ``pending`` rows, which the next run resolves from Crona's
export like any interrupted write."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ...connection.crona_channel import CONCLUDED_FOLDER, import_file_name, run_of_import_file
from ...core.fields import BY_NAME, CRONA, FIELDS, MATCH_KEY, Kind
from ...core.outcomes import AWAITING_IMPORT, SKIPPED
from ...core.plan import CREATE, HELD, UPDATE
from ...core.validators import field_problem
from .. import crona_wire
from ..writing.crona_writer import IMMUTABLE, NO_ANSTNR
from ..writing.employees import Employee, by_employee, new_values, outcome_frame, plan_rows
from ..writing.writer import HOLD_HINT
from .write import import_document

# journal(pending, finished): the write-back's group-commit callback (`state.ledger.Ledger.write_ahead`).
Journal = Callable[[list[list[dict]], list[list[dict]]], None]

NOT_PUSHED = ("not pushed: Crona Lön is reached through PAXml files here, which an administrator imports; the next"
              " sync writes this change into its import file")
_DATES = frozenset(f.name for f in FIELDS if f.kind == Kind.DATE)


def awaiting_note(path: Path) -> str:
    return (f"awaiting import: import {path.name} (in {path.parent}) in Crona Lön, then export the employees "
            "again; the next sync marks it applied or not applied")


def _cleared_date(row: dict) -> bool:
    return row["field"] in _DATES and row["new_value"] is None


def _refused(row: dict) -> str | None:
    """Why a value may not go into the file, by the field's own rules (`core.validators`: valid Swedish account,
    ISO country, dates, emails, lengths), which the plan has applied already: checked again where nothing else
    would (an import's own checks are unpublished). A required field is never emptied."""
    f = BY_NAME[row["field"]]
    if row["new_value"] is None:
        return "Crona Lön requires it, so a file never empties it" if f.required_in_crona else None
    return field_problem(f, row["new_value"])


def _change(employee: Employee) -> tuple[dict, bool] | None:
    """({Crona column: value, AnstNr}, whether it is a create) for the employee's writable rows; the rows the
    file cannot carry are skipped with their reason. None when nothing is left to write."""
    employee.skip(employee.pending(HELD), HOLD_HINT.format(email=employee.email))
    employee.skip([r for r in employee.pending(UPDATE) if r["field"] in crona_wire.IMMUTABLE_FIELDS], IMMUTABLE)
    for row in [r for r in employee.pending() if _cleared_date(r)]:
        employee.skip([row], f"not in the PAXml file: PAXml 2.0 cannot clear a date; clear the "
                             f"{BY_NAME[row['field']].label.lower()} in Crona Lön by hand")
    for row in employee.pending():  # the last line before payroll: the schema types these as plain strings
        reason = _refused(row)
        if reason is not None:
            employee.skip([row], f"not in the PAXml file: {BY_NAME[row['field']].label}: {reason}")
    creates, updates = employee.pending(CREATE), employee.pending(UPDATE)
    if creates:
        values = new_values(creates)
        values.setdefault(MATCH_KEY.name, employee.email)
        try:
            body = crona_wire.create_body(values)
        except ValueError as exc:
            employee.skip(creates + updates, f"not created: {exc}")
            return None
        return {**body, **crona_wire.patch_body(new_values(updates))}, True
    if not updates:
        return None
    anstnr = updates[0]["record_id"]
    if not anstnr:
        employee.skip(updates, NO_ANSTNR)
        return None
    return {crona_wire.KEY_FIELD: str(anstnr), **crona_wire.patch_body(new_values(updates))}, False


Planned = tuple[Employee, dict, bool]  # the employee, its change ({Crona column: value, AnstNr}), a create?


def _document(writing: list[Planned]) -> bytes:
    changes = [change for _, change, _ in writing]
    created = [change[crona_wire.KEY_FIELD] for _, change, is_create in writing if is_create]
    return import_document(changes, created=created)


def _alone(planned: Planned) -> bool:
    """Whether a document of this employee alone can be written; else its rows skipped with the reason."""
    employee = planned[0]
    try:
        _document([planned])
    except ValueError as exc:  # UnwritableValueError and PaxmlError are ValueErrors too
        employee.skip(employee.pending(), employee.scrub(f"not written to the PAXml file: {exc}"))
        return False
    return True


def _one_each(writing: list[Planned]) -> list[Planned]:
    """Employees whose AnstNr no other employee of the file has; the others skipped (one person, one change)."""
    count = Counter(change[crona_wire.KEY_FIELD] for _, change, _ in writing)
    for employee, change, _ in writing:
        if count[change[crona_wire.KEY_FIELD]] > 1:
            employee.skip(employee.pending(), f"not written to the PAXml file: another employee of this sync has "
                                              f"{crona_wire.KEY_FIELD} {change[crona_wire.KEY_FIELD]}")
    return [planned for planned in writing if count[planned[1][crona_wire.KEY_FIELD]] == 1]


def _validated(writing: list[Planned]) -> tuple[list[Planned], bytes | None]:
    """The employees written and their document: all of them in one document when it can be written (one
    validation); else each employee checked alone, the ones that cannot be written skipped with the reason,
    and the rest's document (PaxmlError if even that does not validate: a bug, never written)."""
    try:
        return writing, _document(writing) if writing else None
    except ValueError:
        kept = _one_each([planned for planned in writing if _alone(planned)])
        return kept, _document(kept) if kept else None


TEMPORARY_PREFIX = ".humacrona-import-"


def _write_atomically(path: Path, data: bytes) -> None:
    """Never half a file (a temporary one renamed), readable by its owner only: it holds full salary accounts.
    The temporary file is a new one of its own (O_EXCL, mode 0600: never a link planted in a shared folder), and
    one a killed run left is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{TEMPORARY_PREFIX}*.tmp"):
        stale.unlink(missing_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=".tmp")
    try:
        with open(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


AWAITED_PREFIX = "not written: the import file "  # how `still_awaited` begins (the CLI's summary finds it)


def settle_folder(folder: Path, open_runs: set[str], known: Callable[[set[str]], set[str]],
                  run_id: str) -> tuple[list[str], list[Path]]:
    """Before a sync writes its file: (runs whose import files in ``folder`` still await import, the files moved
    to `CONCLUDED_FOLDER`). A file still awaits while its run has open rows in the ledger (``open_runs``:
    ``awaiting import``, or ``pending`` after a run killed around its file); a file of a run the ledger knows
    (``known_runs``) with no open row is concluded (applied or not applied) and moved aside, so that the import
    folder holds only what is still to import, and an old file is never imported after a newer one.
    ``known(runs)``: those of ``runs`` the ledger has rows of (a file of another ledger's run is left alone)."""
    files = {run: path for path in sorted(Path(folder).glob(import_file_name("*")))
             if (run := run_of_import_file(path.name)) is not None and run != run_id}
    known_runs = known(set(files) - open_runs) if set(files) - open_runs else set()
    awaited, moved = [], []
    for run, path in files.items():
        if run in open_runs:
            awaited.append(run)
        elif run in known_runs:
            aside = path.parent / CONCLUDED_FOLDER / path.name
            aside.parent.mkdir(exist_ok=True)
            os.replace(path, aside)
            moved.append(aside)
    return awaited, moved


def still_awaited(runs: list[str]) -> str:
    files = ", ".join(import_file_name(run) for run in runs)
    return (f"{AWAITED_PREFIX}{files} still awaits import (Crona's newest export is older than it); "
            "import it in Crona Lön, export the employees again, then sync: a second file with the same changes "
            "is not written")


def write_import_file(operations: pd.DataFrame, folder: Path, run_id: str, *, journal: Journal | None = None,
                      awaited: list[str] = ()) -> tuple[pd.DataFrame, Path | None]:
    """(outcomes, the file written or None when nothing was to be written) for Crona's operations. ``awaited``:
    runs whose import files still await import (as far as Crona's export shows): then nothing is written, every
    operation ``skipped`` saying so, so that no change travels in two files at once."""
    rows = plan_rows(operations[operations["target"] == CRONA] if "target" in operations.columns else operations,
                     CRONA)
    employees = by_employee(rows)
    if awaited:
        for employee in employees:
            employee.skip(employee.pending(), still_awaited(list(awaited)))
    writing, document = _validated([(e, *planned) for e in employees if (planned := _change(e)) is not None])
    path = None
    if document is not None:
        if journal is not None:
            journal([[dict(r) for r in employee.pending()] for employee, _, _ in writing], [])
        path = Path(folder) / import_file_name(run_id)
        _write_atomically(path, document)
        for employee, change, is_create in writing:
            employee.finish(employee.pending(), AWAITING_IMPORT, awaiting_note(path),
                            created_id=change[crona_wire.KEY_FIELD] if is_create else None)
    if journal is not None:
        journal([], [[dict(r) for r in e.rows] for e in employees])
    return outcome_frame(rows), path


def not_pushed(operations: pd.DataFrame) -> pd.DataFrame:
    """The real-time push's Crona operations on the PAXml channel, each ``skipped`` with the reason: a file per
    webhook would leave the administrator a queue of imports, so the next sync's one file carries them."""
    rows = plan_rows(operations, CRONA)
    for employee in by_employee(rows):
        employee.finish(employee.rows, SKIPPED, NOT_PUSHED)
    return outcome_frame(rows)
