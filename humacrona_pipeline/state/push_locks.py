"""Which push run is pushing which employee right now, so that two pushes of the same employee never overlap.

Pushes are launched by the webhook receiver and by the sensor, several at a time; a user created in Huma and
changed a second later gets two runs. Were they to overlap, the second would read Crona before the first had
created the employee there and report the change "not pushed". So a push takes every one of its users here
before it reads anything (all at once or none, so two pushes never wait for each other in a circle) and gives
them back when it is done; a push that finds one taken waits for it. A lock of a run that is over (finished,
failed, or gone) or older than `STALE_S` is free: a killed worker never blocks an employee for long."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from . import db

STALE_S = 600.0  # a push takes seconds; a lock this old belongs to a run that died without saying so
WAIT_S = 900.0  # a push waits this long at most for another one (then fails, its events still in the inbox)
POLL_S = 0.1

push_locks = sa.Table(
    "push_locks", db.metadata,
    sa.Column("subject", sa.String(400), primary_key=True),  # what is locked, e.g. "huma-user:<id>"
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("taken_at", sa.String(40), nullable=False),  # UTC ISO 8601
)


class PushLocked(TimeoutError):
    """Another push held one of the employees for longer than the wait allows."""


class PushLocks(db.StateStore):
    """The push locks table in the state database."""

    def try_take(self, subjects: Iterable[str], run_id: str, is_over: Callable[[str], bool]) -> list[str]:
        """Take every subject for ``run_id``, or none: the runs still holding some (empty: all taken)."""
        subjects = sorted(set(subjects))
        now = datetime.now(UTC)
        with db.write_transaction(self.engine) as conn:
            held = conn.execute(sa.select(push_locks.c.run_id, push_locks.c.taken_at).where(
                push_locks.c.subject.in_(subjects), push_locks.c.run_id != run_id)).all()
            stale = now - timedelta(seconds=STALE_S)
            busy = sorted({r.run_id for r in held
                           if datetime.fromisoformat(r.taken_at) > stale and not is_over(r.run_id)})
            if busy:
                return busy
            conn.execute(push_locks.delete().where(push_locks.c.subject.in_(subjects)))
            if subjects:
                conn.execute(push_locks.insert(), [{"subject": s, "run_id": run_id, "taken_at": now.isoformat()}
                                                   for s in subjects])
        return []

    def take(self, subjects: Iterable[str], run_id: str, is_over: Callable[[str], bool],
             wait_s: float = WAIT_S) -> tuple[float, list[str]]:
        """Wait until every subject can be taken for ``run_id``, then take them; the seconds waited and the runs
        waited for. `PushLocked` after ``wait_s``."""
        subjects = list(subjects)
        started = time.monotonic()
        waited_for: list[str] = []
        while True:
            busy = self.try_take(subjects, run_id, is_over)
            if not busy:
                return time.monotonic() - started, waited_for
            waited_for = sorted(set(waited_for) | set(busy))
            if time.monotonic() - started > wait_s:
                raise PushLocked(f"run(s) {', '.join(busy)} still push some of these employees after {wait_s:g} s")
            time.sleep(POLL_S)

    def release(self, run_id: str) -> int:
        """Give back every lock of ``run_id``; how many there were."""
        with db.write_transaction(self.engine) as conn:
            return conn.execute(push_locks.delete().where(push_locks.c.run_id == run_id)).rowcount

    def holders(self) -> dict[str, str]:
        """subject -> run id, of every lock taken."""
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(push_locks.c.subject, push_locks.c.run_id)).all())
