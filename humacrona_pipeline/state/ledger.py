"""The audit ledger: every operation a sync attempted, what it changed and how it ended.

One row per attempted operation (`LEDGER_COLUMNS`): the run, the system written (`system`, the outcome's
`target`), the action, the employee (work email), the record, the field, the value before and after, the
status and error, the policy rule, the time and, for a row an interrupted run left, when it was resolved.

Rows are written ahead: `record_pending` stores an employee's operations as ``pending`` in one short
transaction *before* the first request that writes them, `complete` turns those same rows into ``applied``,
``failed``, ``skipped`` or ``unverified`` once the employee's writes end (another short transaction), and
`mark_verification` amends them once they are read back. `write_ahead` does both for several employees in
one transaction (the write-back's group commit: a commit per employee was its bottleneck). A run killed in
between leaves ``pending`` rows; the next run reads those employees back (`connectors.resolve`) and `resolve`
marks each ``applied`` or ``not applied`` with `resolved_at` (or leaves it ``pending`` with a note when it
could not be read).
Salary bank accounts are stored masked (last four digits), in the values and in any error text; no secret
is stored. `migrate` adds columns newer versions need to an older ledger (`ALTER TABLE ... ADD COLUMN`).

One ledger per connection (issue 14): every row carries the `connection` its `Ledger` was made for, and a
`Ledger` reads, resolves and amends only its own connection's rows, so one connection's interrupted run is never
concluded by another's (which reads a different Huma scope and Crona company). The connections share one table
(one state database, on PostgreSQL one server), so a ledger from before connections keeps its rows, as the
`default` connection's. `LEDGER_COLUMNS` leaves the connection out: it is the `Ledger`'s, the same on each row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from ..connection.connections import DEFAULT_NAME as DEFAULT_CONNECTION
from ..core.bank_accounts import mask
from ..core.display import present, scrub
from ..core.fields import BY_NAME, CRONA
from ..core.outcomes import APPLIED, AWAITING_IMPORT, STATUSES
from . import db

PENDING = "pending"  # recorded before its request; a run killed before the answer leaves it so
NOT_APPLIED = "not applied"  # a pending row the next run read back: the system does not hold the new value
# What the next run reads back and concludes: rows a killed run left, and PAXml writes awaiting their import.
OPEN_STATUSES = (PENDING, AWAITING_IMPORT)
LEDGER_STATUSES = (PENDING, *STATUSES, NOT_APPLIED)
LEDGER_COLUMNS = ("id", "run_id", "system", "action", "employee", "record_id", "field", "value_before",
                  "value_after", "status", "error", "rule", "at", "resolved_at")
# The outcome's columns a stored row is made from (the rest are the run id and the id the database gives).
VERIFICATION_KEY = ("system", "employee", "field", "action")
RUN_COLUMNS = ("run_id", "started", "ended", "operations", *LEDGER_STATUSES)

operations_table = sa.Table(
    "ledger_operations",
    db.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("employee", sa.String(320), nullable=False),
    sa.Column("record_id", sa.String(128)),
    sa.Column("field", sa.String(64)),
    sa.Column("value_before", sa.Text),
    sa.Column("value_after", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("rule", sa.Text),
    sa.Column("at", sa.String(40), nullable=False),  # UTC ISO 8601, sortable as text
    sa.Column("resolved_at", sa.String(40)),  # when a pending row of an interrupted run was read back (UTC ISO)
    sa.Column("connection", sa.String(64), nullable=False, server_default=DEFAULT_CONNECTION),
    sa.Index("ix_ledger_operations_run", "run_id", "system", "employee", "field", "action"),
    sa.Index("ix_ledger_operations_at", "at"),
)

def _text(value: object) -> str | None:
    return str(value) if present(value) else None


def _masked_field(field_name: object) -> bool:
    f = BY_NAME.get(field_name) if isinstance(field_name, str) else None
    return f is not None and f.masked


def stored_value(field_name: object, value: object) -> str | None:
    """A value as the ledger stores it: full text, except a masked field's (bank account): last four digits."""
    if not present(value):
        return None
    return mask(str(value)) if _masked_field(field_name) else str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _when(value: object) -> str:
    """The operation's time as UTC ISO text (now when the row has none)."""
    if not present(value):
        return _now()
    if isinstance(value, datetime):  # pandas Timestamps too
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    return str(value)


def _rows(rows: pd.DataFrame | Iterable[Mapping]) -> list[Mapping]:
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")
    return list(rows)


# Columns a newer version added, for `migrate` (the table's other columns are as old as it).
ADDED_COLUMNS = ("resolved_at", "connection")
# Indexes on added columns: made by `migrate` once their columns exist (declared on the table, they would be
# created before it, and fail on an older ledger). Reads filter by connection first, then status or run.
ADDED_INDEXES = {"ix_ledger_operations_connection_status": ("connection", "status", "id"),
                 "ix_ledger_operations_connection_run": ("connection", "run_id")}
_migrated: dict[str, sa.Engine] = {}  # URL -> the engine it was checked through


def migrate(engine: sa.Engine) -> list[str]:
    """Add the columns of `ADDED_COLUMNS` an older ledger lacks (SQLite and PostgreSQL alike: ``ALTER TABLE
    ... ADD COLUMN``; `resolved_at` nullable, `connection` NOT NULL with its default: the rows of a ledger from
    before connections are the `default` connection's), then the indexes of `ADDED_INDEXES`. Safe when several
    processes do it at once: a column or index another one added meanwhile is not an error. Answers the columns
    added."""
    added = db.add_columns(engine, operations_table, ADDED_COLUMNS)
    db.add_indexes(engine, operations_table, ADDED_INDEXES)
    return added


def _key(row: Mapping) -> tuple:
    """What identifies one operation within a run (`VERIFICATION_KEY`)."""
    return tuple(row[c] for c in VERIFICATION_KEY)


def _stored(conn: sa.Connection, connection: str, run_id: str, rows: list[dict]) -> dict[tuple, sa.Row]:
    """The run's stored rows (of ``connection``) of the employees of ``rows``, by `_key` (id and record id)."""
    t = operations_table
    found = conn.execute(sa.select(t.c.id, t.c.record_id, *(t.c[c] for c in VERIFICATION_KEY)).where(
        t.c.connection == connection, t.c.run_id == run_id, t.c.employee.in_({r["employee"] for r in rows}))).all()
    return {tuple(getattr(r, c) for c in VERIFICATION_KEY): r for r in found}


def _record_id(outcome: Mapping) -> str | None:
    """The id of the record written: a create's is the id it got (`created_id`); a pending Crona create's is
    the AnstNr it will get (`planned_id`); an update's the plan's `record_id`. A create's plan `record_id` is
    the *source* system's id, not the written one, so it is not stored."""
    if str(outcome.get("action")) == "create":
        return _text(outcome.get("created_id")) or _text(outcome.get("planned_id"))
    return _text(outcome.get("record_id")) or _text(outcome.get("created_id"))


def planned_ids(rows: list[Mapping]) -> list[dict]:
    """One employee's rows with `planned_id` set on Crona creates: the AnstNr the employee will get, which is
    the employment ID (Crona's key) the create carries; Huma gives a new user its id only when created."""
    anstnr = next((r.get("new_value") for r in rows if r.get("action") == "create"
                   and r.get("field") == "employment_id" and str(r.get("target")) == CRONA), None)
    return [{**r, "planned_id": anstnr if r.get("action") == "create" and str(r.get("target")) == CRONA
             else None} for r in rows]


def ledger_row(run_id: str, outcome: Mapping) -> dict:
    """One outcome row (`core.outcomes.OUTCOME_COLUMNS`) as the ledger stores it. A create's `record_id` is
    the id the record got (`created_id`), or will get (`planned_id`, see `planned_ids`)."""
    field_name = outcome.get("field")
    record_id = _record_id(outcome)
    return {
        "run_id": str(run_id),
        "system": str(outcome["target"]),
        "action": str(outcome["action"]),
        "employee": str(outcome["employee"]),
        "record_id": record_id,
        "field": _text(field_name),
        "value_before": stored_value(field_name, outcome.get("current_value")),
        "value_after": stored_value(field_name, outcome.get("new_value")),
        "status": str(outcome["status"]),
        # our own note of a PAXml write names a file (a run id's digits are no account to mask); others scrubbed
        "error": _text(outcome.get("error")) if str(outcome["status"]) == AWAITING_IMPORT
        else scrub(outcome.get("error"), field_name),
        "rule": _text(outcome.get("rule")),
        "at": _when(outcome.get("at")),
    }


class Ledger:
    """One connection's audit ledger in the state database (`state.db`); instances in several processes share
    it. Writes store ``connection`` on each row; reads and updates see that connection's rows only."""

    def __init__(self, url: str | None = None, connection: str = DEFAULT_CONNECTION) -> None:
        self.url = url or db.state_url()
        self.connection = str(connection)
        self._fresh_runs: dict[str, bool] = {}  # run id -> whether it had no rows when this instance first wrote
        self._ahead_of: dict[str, set[str]] = {}  # run id -> employees this instance recorded pending

    def __repr__(self) -> str:  # the URL may hold a database password
        return (f"Ledger({sa.make_url(self.url).render_as_string(hide_password=True)!r}, "
                f"connection={self.connection!r})")

    @property
    def engine(self) -> sa.Engine:
        eng = db.engine(self.url)
        if _migrated.get(self.url) is not eng:
            migrate(eng)
            _migrated[self.url] = eng
        return eng

    def _mine(self):
        """The clause that keeps a statement to this ledger's connection."""
        return operations_table.c.connection == self.connection

    def _row(self, run_id: str, outcome: Mapping) -> dict:
        return {**ledger_row(run_id, outcome), "connection": self.connection}

    def record(self, run_id: str, rows: pd.DataFrame | list[dict]) -> None:
        """Append attempted operations (outcome rows) of one run, in one transaction."""
        values = [self._row(run_id, row) for row in _rows(rows)]
        if not values:
            return
        with db.write_transaction(self.engine) as conn:
            conn.execute(sa.insert(operations_table), values)

    def record_pending(self, run_id: str, rows: pd.DataFrame | list[dict]) -> None:
        """Store operations about to be written (plan rows of one employee) as ``pending``, in one transaction
        that commits before the caller sends the first request; `complete` finishes the same rows."""
        self.write_ahead(run_id, [_rows(rows)], [])

    def complete(self, run_id: str, rows: pd.DataFrame | list[dict]) -> None:
        """Record how operations of one run ended (outcome rows), in one transaction: the run's stored row of
        the same system, employee, field and action (its `pending` row) is updated — status, error, time and a
        create's id — and an operation that has no stored row yet (a held one) is appended. An update also
        overwrites what another run's resolution may have concluded meanwhile: the writer knows better."""
        self.write_ahead(run_id, [], [_rows(rows)])

    def write_ahead(self, run_id: str, pending: Iterable[list[Mapping]], finished: Iterable[list[Mapping]]) -> None:
        """`record_pending` for each employee of ``pending`` (one list of plan rows each) and `complete` for
        each of ``finished`` (its outcome rows), in one transaction: the write-back's group commit
        (`connectors.writeback`'s ``journal``), so concurrent employees share one commit (one fsync)."""
        now = _now()
        ahead = [{**self._row(run_id, {**row, "status": PENDING, "error": None, "at": now}), "resolved_at": None}
                 for group in pending for row in planned_ids(list(group))]
        values = [self._row(run_id, row) for group in finished for row in group]
        if not ahead and not values:
            return
        with db.write_transaction(self.engine) as conn:
            if ahead:
                self._ahead(conn, str(run_id), ahead)
            if values:
                self._complete(conn, run_id, values)

    def _ahead(self, conn: sa.Connection, run_id: str, ahead: list[dict]) -> None:
        """Insert the pending rows; a retried step of a run that already has rows (Dagster re-executes a failed
        step in the same run) turns its own earlier rows of the same operation back to pending instead, so
        each operation is recorded once however often its step ran."""
        t = operations_table
        if run_id not in self._fresh_runs:  # asked once per run and instance: a first attempt looks nothing up
            self._fresh_runs[run_id] = conn.execute(
                sa.select(t.c.id).where(self._mine(), t.c.run_id == run_id).limit(1)).first() is None
        seen = self._ahead_of.setdefault(run_id, set())
        employees = {v["employee"] for v in ahead}
        repeated = not seen.isdisjoint(employees)  # the same instance writing an employee again: a retry
        seen |= employees
        if self._fresh_runs[run_id] and not repeated:
            conn.execute(sa.insert(t), ahead)
            return
        ids = {key: row.id for key, row in _stored(conn, self.connection, run_id, ahead).items()}
        again = [{**v, "row_id": ids[key]} for v in ahead if (key := _key(v)) in ids]
        if again:
            columns = ("record_id", "value_before", "value_after", "status", "error", "rule", "at")
            conn.execute(sa.update(t).where(t.c.id == sa.bindparam("row_id")).values(
                resolved_at=None, **{c: sa.bindparam(f"new_{c}") for c in columns}),
                [{"row_id": v["row_id"], **{f"new_{c}": v[c] for c in columns}} for v in again])
        fresh = [v for v in ahead if _key(v) not in ids]
        if fresh:
            conn.execute(sa.insert(t), fresh)

    def _complete(self, conn: sa.Connection, run_id: str, values: list[dict]) -> None:
        """`complete`'s update-or-append, inside the caller's transaction."""
        t = operations_table
        ids = {key: (row.id, row.record_id) for key, row in _stored(conn, self.connection, str(run_id), values).items()}
        updates, inserts = [], []
        for v in values:
            found = ids.get(_key(v))
            if found is None:
                inserts.append(v)
            else:
                updates.append({"row_id": found[0], "new_status": v["status"], "new_error": v["error"],
                                "new_at": v["at"], "new_record_id": v["record_id"] or found[1]})
        if updates:
            conn.execute(sa.update(t).where(t.c.id == sa.bindparam("row_id")).values(
                status=sa.bindparam("new_status"), error=sa.bindparam("new_error"), at=sa.bindparam("new_at"),
                record_id=sa.bindparam("new_record_id"), resolved_at=None), updates)
        if inserts:
            conn.execute(sa.insert(t), inserts)

    def pending(self, *, except_run: str | None = None) -> pd.DataFrame:
        """The open rows (`OPEN_STATUSES`: ``pending``, ``awaiting import``) this connection's runs left, oldest
        first (`LEDGER_COLUMNS`); ``except_run``'s left out."""
        t = operations_table
        query = (sa.select(*(t.c[c] for c in LEDGER_COLUMNS)).where(self._mine(), t.c.status.in_(OPEN_STATUSES))
                 .order_by(t.c.id))
        if except_run is not None:
            query = query.where(t.c.run_id != str(except_run))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS), dtype=object)

    def resolve(self, resolutions: Iterable[Mapping]) -> int:
        """Conclude open rows (pending, awaiting import) from a read-back, in one transaction. Each resolution:
        ``id``, ``status`` (``applied`` or ``not applied``; ``pending`` or ``awaiting import`` keeps it open),
        ``note`` (why; stored as the error, scrubbed) and optionally ``record_id`` (a create's id, found by
        reading). A concluded row gets `resolved_at`; only open rows of this connection are touched (another
        connection's id is left alone). Answers how many rows were concluded."""
        now = _now()
        changes = []
        for r in resolutions:
            status = str(r["status"])
            if status not in (*OPEN_STATUSES, APPLIED, NOT_APPLIED):
                raise ValueError(f"an open row resolves to applied, {NOT_APPLIED!r} or stays open, not {status!r}")
            changes.append({"row_id": int(r["id"]), "new_status": status, "new_error": scrub(r.get("note"), None),
                            "new_resolved": None if status in OPEN_STATUSES else now,
                            "new_record_id": _text(r.get("record_id"))})
        if not changes:
            return 0
        t = operations_table
        with db.write_transaction(self.engine) as conn:
            still_open = sa.or_(*(t.c.status == s for s in OPEN_STATUSES))  # `in_` cannot be used in executemany
            conn.execute(sa.update(t).where(t.c.id == sa.bindparam("row_id"), self._mine(), still_open).values(
                status=sa.bindparam("new_status"), error=sa.bindparam("new_error"),
                resolved_at=sa.bindparam("new_resolved"),
                record_id=sa.func.coalesce(sa.bindparam("new_record_id"), t.c.record_id)), changes)
        return sum(1 for c in changes if c["new_status"] not in OPEN_STATUSES)

    def mark_verification(self, run_id: str, outcomes: pd.DataFrame) -> int:
        """Set status and error of the run's stored rows to what verification found, matching on run_id,
        system, employee, field and action; only rows whose status or error changed are written. Returns
        how many stored rows changed."""
        if outcomes is None or outcomes.empty:
            return 0
        wanted: dict[tuple, tuple] = {}
        for row in _rows(outcomes):
            key = (str(row["target"]), str(row["employee"]), _text(row.get("field")), str(row["action"]))
            wanted[key] = (str(row["status"]), scrub(row.get("error"), row.get("field")))
        t = operations_table
        with db.write_transaction(self.engine) as conn:
            stored = conn.execute(
                sa.select(t.c.id, t.c.system, t.c.employee, t.c.field, t.c.action, t.c.status, t.c.error)
                .where(self._mine(), t.c.run_id == str(run_id))).all()
            changes = []
            for r in stored:
                target = wanted.get((r.system, r.employee, r.field, r.action))
                if target is not None and (r.status, r.error) != target:
                    changes.append({"row_id": r.id, "new_status": target[0], "new_error": target[1]})
            if changes:
                conn.execute(
                    sa.update(t).where(t.c.id == sa.bindparam("row_id"))
                    .values(status=sa.bindparam("new_status"), error=sa.bindparam("new_error")),
                    changes)
        return len(changes)

    def operations(self, run_id: str | None = None) -> pd.DataFrame:
        """This connection's stored operations (`LEDGER_COLUMNS`), of one run or of all, in the order they were
        recorded."""
        t = operations_table
        query = sa.select(*(t.c[c] for c in LEDGER_COLUMNS)).where(self._mine()).order_by(t.c.id)
        if run_id is not None:
            query = query.where(t.c.run_id == str(run_id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(LEDGER_COLUMNS), dtype=object)
        if not frame.empty:
            frame["id"] = frame["id"].astype("int64")
        return frame

    def known_runs(self, run_ids: Iterable[str]) -> set[str]:
        """Those of ``run_ids`` this connection's ledger holds operations of."""
        t = operations_table
        wanted = sorted({str(r) for r in run_ids})
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            return {r for (r,) in conn.execute(
                sa.select(t.c.run_id).where(self._mine(), t.c.run_id.in_(wanted)).distinct())}

    def runs(self) -> pd.DataFrame:
        """One row per run of this connection (`RUN_COLUMNS`): first and last operation time, operations, and
        counts by status; the latest run first."""
        t = operations_table
        counts = [sa.func.sum(sa.case((t.c.status == s, 1), else_=0)).label(s) for s in LEDGER_STATUSES]
        query = (sa.select(t.c.run_id, sa.func.min(t.c.at).label("started"), sa.func.max(t.c.at).label("ended"),
                           sa.func.count().label("operations"), *counts)
                 .where(self._mine()).group_by(t.c.run_id).order_by(sa.func.min(t.c.at).desc(), t.c.run_id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
        for column in ("operations", *LEDGER_STATUSES):
            frame[column] = frame[column].astype("int64")
        return frame
