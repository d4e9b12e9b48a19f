"""The webhook inbox: every accepted Huma event, stored before the receiver answers 2xx, read in order by the
`huma_changes_sensor`. A repeated delivery of the same event (same topic and body) is stored once.

Huma's webhooks are a signal, not the truth: the push job reads the named users' current details from the
Huma API. So the inbox keeps what it needs to find them (user ids and emails, the topic) and the raw body
for diagnosis — with bank-account numbers removed, as everywhere else in the state database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from . import db

TOPICS = ("users-create", "users-update", "users-delete", "users-export")

inbox_events = sa.Table(
    "inbox_events", db.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),  # sha256 of topic and raw body
    sa.Column("topic", sa.String(32), nullable=False),
    sa.Column("user_ids", sa.Text, nullable=False),  # JSON list, in the body's order
    sa.Column("emails", sa.Text, nullable=False),  # JSON list, lower-cased, same order
    sa.Column("body", sa.Text, nullable=False),  # the users without bankAccount, as JSON
    sa.Column("received_at", sa.String(40), nullable=False),
)


@dataclass(frozen=True)
class InboxEvent:
    id: int
    topic: str
    user_ids: tuple[str, ...]
    emails: tuple[str, ...]
    received_at: str


def fingerprint(topic: str, raw_body: bytes) -> str:
    """What makes two deliveries the same event: the topic and the exact body Huma signed."""
    return hashlib.sha256(topic.encode() + b"\n" + raw_body).hexdigest()


def _without_bank_accounts(users: Iterable[Mapping]) -> list[dict]:
    return [{k: v for k, v in user.items() if k != "bankAccount"} for user in users]


class Inbox(db.StateStore):
    """The inbox table in the state database."""

    def add(self, topic: str, users: list[Mapping], raw_body: bytes) -> int | None:
        """Store one accepted event; its id, or None when the same event was stored before (a redelivery)."""
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}; Huma sends {', '.join(TOPICS)}")
        row = {
            "fingerprint": fingerprint(topic, raw_body),
            "topic": topic,
            "user_ids": json.dumps([str(u["id"]) for u in users]),
            "emails": json.dumps([str(u.get("email") or "").strip().lower() for u in users]),
            "body": json.dumps(_without_bank_accounts(users), ensure_ascii=False, default=str),
            "received_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        with db.write_transaction(self.engine) as conn:
            seen = conn.execute(sa.select(inbox_events.c.id).where(
                inbox_events.c.fingerprint == row["fingerprint"])).scalar()
            if seen is not None:
                return None
            return int(conn.execute(inbox_events.insert().values(**row)).inserted_primary_key[0])

    def after(self, cursor: int, limit: int = 1000) -> list[InboxEvent]:
        """Events stored after ``cursor`` (an event id; 0 for all), oldest first, at most ``limit``."""
        query = (sa.select(inbox_events.c.id, inbox_events.c.topic, inbox_events.c.user_ids, inbox_events.c.emails,
                           inbox_events.c.received_at)
                 .where(inbox_events.c.id > cursor).order_by(inbox_events.c.id).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [InboxEvent(r.id, r.topic, tuple(json.loads(r.user_ids)), tuple(json.loads(r.emails)), r.received_at)
                for r in rows]

    def last_id(self) -> int:
        """The newest event's id (0 for an empty inbox): a cursor that skips everything stored so far."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(inbox_events.c.id))).scalar() or 0)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(inbox_events)).scalar())
