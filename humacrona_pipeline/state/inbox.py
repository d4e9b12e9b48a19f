"""The webhook inbox: every accepted Huma event, stored before the receiver answers 2xx, read in order by the
`huma_changes_sensor`. A repeated delivery of the same event (same topic and body) is stored once.

Huma's webhooks are a signal, not the truth: the push job reads the named users' current details from the
Huma API. So the inbox keeps what it needs to find them (user ids and emails, the topic) and the raw body
for diagnosis — with bank-account numbers removed, as everywhere else in the state database.

Each event is pushed by one run: whoever asks Dagster for that run first — the receiver right after storing
(`defs.realtime.trigger`) or the sensor's tick — *claims* the event with the run key (`claim`, atomic, only
while nobody holds it), so the other one leaves it alone. A receiver that pushes stores its events already
claimed as `PENDING` (its own, not yet in a run), so the sensor does not race it. The inbox stays the durable
record: a claim whose run never came into being is taken over by the sensor (see `defs.realtime.sensors`).

One inbox per connection (issue 14): the receiver stores each connection's deliveries (its own path, its own
secret) with the connection's name, and an `Inbox` made for a connection reads, claims and releases only that
connection's events, so each connection's push runs see their own events and cursor. Every connection shares
the table; the events of an inbox from before connections are the `default` connection's."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ..connection.connections import DEFAULT_NAME as DEFAULT_CONNECTION
from ..core.fields import BY_NAME, HUMA, MATCH_KEY, RECORD_ID_COLUMN
from ..core.webhook_topics import TOPICS
from . import db

# The Huma property holding a salary account: a delivery's users are kept without it (never at rest in clear).
_BANK_ACCOUNT_PROPERTY = BY_NAME["bank_account"].columns(HUMA)[0].split(".")[0]
# A delivered user's id and work email, as Huma names them (the field table's record id and match key); the
# receiver checks each delivery has them (`webhook.parse_event`).
USER_ID_PROPERTY = RECORD_ID_COLUMN[HUMA]
WORK_EMAIL_PROPERTY = MATCH_KEY.columns(HUMA)[0]
PENDING = "receiver:pending"  # stored by a receiver that asks for its run itself, which has not done so yet

inbox_events = sa.Table(
    "inbox_events", db.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),  # sha256 of topic and raw body
    sa.Column("topic", sa.String(32), nullable=False),
    sa.Column("user_ids", sa.Text, nullable=False),  # JSON list, in the body's order
    sa.Column("emails", sa.Text, nullable=False),  # JSON list, lower-cased, same order
    sa.Column("body", sa.Text, nullable=False),  # the users without bankAccount, as JSON
    sa.Column("received_at", sa.String(40), nullable=False),  # when it was stored
    sa.Column("delivered_at", sa.String(40)),  # when the receiver began to read the delivery
    sa.Column("claimed_by", sa.String(160)),  # who asks for its run and the run key (see `claim`); none: nobody
    sa.Column("claimed_at", sa.String(40)),
    sa.Column("connection", sa.String(64), nullable=False, server_default=DEFAULT_CONNECTION),
)
# Columns added since the table first shipped: an older state database gets them on first use (`connection`
# NOT NULL with its default: the events already stored are the `default` connection's).
_ADDED_COLUMNS = ("delivered_at", "claimed_by", "claimed_at", "connection")
# Indexes on added columns, made once their columns exist (see `state.ledger.ADDED_INDEXES`): every read is
# one connection's, in id order, most of them by who holds the events.
_ADDED_INDEXES = {"ix_inbox_events_connection_claim": ("connection", "claimed_by", "id")}
_migrated: set[tuple[int, str]] = set()


@dataclass(frozen=True)
class InboxEvent:
    id: int
    topic: str
    user_ids: tuple[str, ...]
    emails: tuple[str, ...]
    received_at: str
    claimed_by: str | None = None
    claimed_at: str | None = None
    delivered_at: str | None = None


def fingerprint(topic: str, raw_body: bytes, connection: str = DEFAULT_CONNECTION) -> str:
    """What makes two deliveries the same event: the connection they came for, the topic and the exact body Huma
    signed. The same body delivered to two connections' paths is two events, one for each.

    The connection is part of the hashed text rather than a second column of a unique constraint: the column's
    unique index stays as it is (SQLite cannot change a table's constraint without copying the table), and the
    `default` connection's fingerprint is the one of before connections, so an event stored before an upgrade
    and delivered again after it is still known. Another connection's text begins with ``connection <name>``,
    which no `default` text does (those begin with a topic of `TOPICS`), so no two events share a text."""
    prefix = b"" if connection == DEFAULT_CONNECTION else b"connection " + connection.encode() + b"\n"
    return hashlib.sha256(prefix + topic.encode() + b"\n" + raw_body).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _without_bank_accounts(users: Iterable[Mapping]) -> list[dict]:
    return [{k: v for k, v in user.items() if k != _BANK_ACCOUNT_PROPERTY} for user in users]


def _migrate(eng: sa.Engine) -> None:
    """Add the columns and indexes an older inbox lacks (`_ADDED_COLUMNS`, `_ADDED_INDEXES`); one another process
    added at the same moment is no error."""
    db.add_columns(eng, inbox_events, _ADDED_COLUMNS)
    db.add_indexes(eng, inbox_events, _ADDED_INDEXES)


class Inbox(db.StateStore):
    """One connection's events in the inbox table of the state database: `add` stores them as its, every read,
    claim and release sees only its."""

    def __init__(self, url: str | None = None, connection: str = DEFAULT_CONNECTION) -> None:
        super().__init__(url)
        self.connection = str(connection)

    def __repr__(self) -> str:
        return f"Inbox(connection={self.connection!r})"

    @property
    def engine(self) -> sa.Engine:
        eng = db.engine(self.url)
        key = (os.getpid(), str(eng.url))
        if key not in _migrated:
            _migrate(eng)
            _migrated.add(key)
        return eng

    def _mine(self):
        return inbox_events.c.connection == self.connection

    def add(self, topic: str, users: list[Mapping], raw_body: bytes, delivered_at: datetime | None = None,
            claimed_by: str | None = None) -> int | None:
        """Store one accepted event; its id, or None when the same event was stored before (a redelivery).
        ``delivered_at``: when the receiver began to read it (for the real-time breakdown); ``claimed_by``:
        stored already claimed (`PENDING`: by the receiver, which asks for its run itself)."""
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}; Huma sends {', '.join(TOPICS)}")
        row = {
            "fingerprint": fingerprint(topic, raw_body, self.connection),
            "connection": self.connection,
            "topic": topic,
            "user_ids": json.dumps([str(u[USER_ID_PROPERTY]) for u in users]),
            "emails": json.dumps([str(u.get(WORK_EMAIL_PROPERTY) or "").strip().lower() for u in users]),
            "body": json.dumps(_without_bank_accounts(users), ensure_ascii=False, default=str),
            "received_at": _now(),
            "delivered_at": delivered_at.astimezone(UTC).isoformat(timespec="milliseconds")
            if delivered_at else None,
            "claimed_by": claimed_by,
            "claimed_at": _now() if claimed_by else None,
        }
        with db.write_transaction(self.engine) as conn:
            seen = conn.execute(sa.select(inbox_events.c.id).where(
                inbox_events.c.fingerprint == row["fingerprint"])).scalar()
            if seen is not None:
                return None
            return int(conn.execute(inbox_events.insert().values(**row)).inserted_primary_key[0])

    def _events(self, where, limit: int | None = None) -> list[InboxEvent]:
        c = inbox_events.c
        query = (sa.select(c.id, c.topic, c.user_ids, c.emails, c.received_at, c.claimed_by, c.claimed_at,
                           c.delivered_at).where(self._mine(), where).order_by(c.id).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [InboxEvent(r.id, r.topic, tuple(json.loads(r.user_ids)), tuple(json.loads(r.emails)), r.received_at,
                           r.claimed_by, r.claimed_at, r.delivered_at) for r in rows]

    def after(self, cursor: int, limit: int = 1000) -> list[InboxEvent]:
        """This connection's events stored after ``cursor`` (an event id; 0 for all), oldest first, at most
        ``limit``."""
        return self._events(inbox_events.c.id > cursor, limit)

    def unclaimed(self, limit: int = 1000, held: str | None = None) -> list[InboxEvent]:
        """This connection's events nobody claimed yet (with ``held``: those claimed so, e.g. `PENDING`), oldest
        first, at most ``limit``."""
        claimed_by = inbox_events.c.claimed_by
        return self._events(claimed_by.is_(None) if held is None else claimed_by == held, limit)

    def claimed(self, claim: str) -> list[InboxEvent]:
        """This connection's events held by ``claim``, oldest first."""
        return self._events(inbox_events.c.claimed_by == claim)

    def claim(self, event_ids: Iterable[int], claim: str, held: str | None = None) -> bool:
        """Claim every one of ``event_ids`` for ``claim`` (a run key, with who asks for it), atomically: all of
        them when none is claimed yet (or each is claimed ``held``, e.g. `PENDING`) and each is this
        connection's (True), else none (False: somebody else pushes them, or one is not this connection's)."""
        ids = sorted(set(event_ids))
        if not ids:
            return False
        claimed_by = inbox_events.c.claimed_by
        with db.write_transaction(self.engine) as conn:
            free = conn.execute(sa.select(sa.func.count()).select_from(inbox_events).where(
                self._mine(), inbox_events.c.id.in_(ids),
                claimed_by.is_(None) if held is None else claimed_by == held)).scalar()
            if free != len(ids):
                return False
            conn.execute(inbox_events.update().where(self._mine(), inbox_events.c.id.in_(ids))
                         .values(claimed_by=claim, claimed_at=_now()))
        return True

    def release(self, claim: str) -> int:
        """Give up ``claim`` (its run could not be asked for): its events (this connection's) are nobody's again,
        for the sensor's next tick. The number of events released."""
        with db.write_transaction(self.engine) as conn:
            return conn.execute(inbox_events.update().where(self._mine(), inbox_events.c.claimed_by == claim)
                                .values(claimed_by=None, claimed_at=None)).rowcount

    def last_id(self) -> int:
        """This connection's newest event's id (0 when it has none): a cursor that skips everything stored so
        far."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(inbox_events.c.id)).where(self._mine())).scalar() or 0)

    def count(self) -> int:
        """How many events this connection has."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(inbox_events).where(self._mine()))
                       .scalar())
