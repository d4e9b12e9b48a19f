"""The audit ledger: every operation a sync attempted, what it changed and how it ended.

One row per attempted operation (`LEDGER_COLUMNS`): the run, the system written (`system`, the outcome's
`target`), the action, the employee (work email), the record, the field, the value before and after, the
status and error, the policy rule and the time. `record` appends one employee's operations as soon as its
writes end (one short transaction), `mark_verification` amends them once they are read back. Salary bank
accounts are stored masked (last four digits), in the values and in any error text; no secret is stored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

import pandas as pd
import sqlalchemy as sa

from ..core.bank_accounts import mask
from ..core.display import present, scrub
from ..core.fields import BY_NAME
from ..core.outcomes import STATUSES
from . import db

LEDGER_COLUMNS = ("id", "run_id", "system", "action", "employee", "record_id", "field", "value_before",
                  "value_after", "status", "error", "rule", "at")
# The outcome's columns a stored row is made from (the rest are the run id and the id the database gives).
VERIFICATION_KEY = ("system", "employee", "field", "action")
RUN_COLUMNS = ("run_id", "started", "ended", "operations", *STATUSES)

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
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _when(value: object) -> str:
    """The operation's time as UTC ISO text (now when the row has none)."""
    if not present(value):
        return _now()
    if isinstance(value, datetime):  # pandas Timestamps too
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return str(value)


def _rows(rows: pd.DataFrame | Iterable[Mapping]) -> list[Mapping]:
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")
    return list(rows)


def ledger_row(run_id: str, outcome: Mapping) -> dict:
    """One outcome row (`core.outcomes.OUTCOME_COLUMNS`) as the ledger stores it. A create's `record_id` is
    the id the record got (`created_id`)."""
    field_name = outcome.get("field")
    record_id = _text(outcome.get("record_id")) or _text(outcome.get("created_id"))
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
        "error": scrub(outcome.get("error"), field_name),
        "rule": _text(outcome.get("rule")),
        "at": _when(outcome.get("at")),
    }


class Ledger:
    """The audit ledger in the state database (`state.db`); instances in several processes share it."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or db.state_url()

    def __repr__(self) -> str:  # the URL may hold a database password
        return f"Ledger({sa.make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> sa.Engine:
        return db.engine(self.url)

    def record(self, run_id: str, rows: pd.DataFrame | list[dict]) -> None:
        """Append attempted operations (outcome rows) of one run, in one transaction."""
        values = [ledger_row(run_id, row) for row in _rows(rows)]
        if not values:
            return
        with db.write_transaction(self.engine) as conn:
            conn.execute(sa.insert(operations_table), values)

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
                .where(t.c.run_id == str(run_id))).all()
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
        """Stored operations (`LEDGER_COLUMNS`), of one run or of all, in the order they were recorded."""
        t = operations_table
        query = sa.select(*(t.c[c] for c in LEDGER_COLUMNS)).order_by(t.c.id)
        if run_id is not None:
            query = query.where(t.c.run_id == str(run_id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(LEDGER_COLUMNS), dtype=object)
        if not frame.empty:
            frame["id"] = frame["id"].astype("int64")
        return frame

    def runs(self) -> pd.DataFrame:
        """One row per run (`RUN_COLUMNS`): first and last operation time, operations, and counts by status;
        the latest run first."""
        t = operations_table
        counts = [sa.func.sum(sa.case((t.c.status == s, 1), else_=0)).label(s) for s in STATUSES]
        query = (sa.select(t.c.run_id, sa.func.min(t.c.at).label("started"), sa.func.max(t.c.at).label("ended"),
                           sa.func.count().label("operations"), *counts)
                 .group_by(t.c.run_id).order_by(sa.func.min(t.c.at).desc(), t.c.run_id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
        for column in ("operations", *STATUSES):
            frame[column] = frame[column].astype("int64")
        return frame
