"""The webhook inbox: stored once per event, read in order after a cursor, without bank accounts."""

from __future__ import annotations

import json

import pytest

from humacrona_pipeline.state.inbox import Inbox


@pytest.fixture
def inbox(tmp_path):
    return Inbox(f"sqlite:///{tmp_path / 'state.sqlite'}")


def _event(topic: str, *users: dict) -> tuple[str, list[dict], bytes]:
    body = {"topic": topic, "users": list(users)}
    return topic, list(users), json.dumps(body).encode()


def test_events_are_read_in_order_after_the_cursor(inbox):
    first = inbox.add(*_event("users-update", {"id": "u1", "email": "A@x.se"}))
    second = inbox.add(*_event("users-create", {"id": "u2", "email": "b@x.se"}, {"id": "u3", "email": "c@x.se"}))
    assert first < second
    events = inbox.after(0)
    assert [(e.topic, e.user_ids, e.emails) for e in events] == [
        ("users-update", ("u1",), ("a@x.se",)), ("users-create", ("u2", "u3"), ("b@x.se", "c@x.se"))]
    assert [e.id for e in inbox.after(first)] == [second]
    assert inbox.after(second) == []
    assert inbox.last_id() == second


def test_a_redelivered_event_is_stored_once_and_another_body_is_a_new_event(inbox, tmp_path):
    event = _event("users-update", {"id": "u1", "email": "a@x.se", "phone": "+46701234567"})
    assert inbox.add(*event) is not None
    assert Inbox(f"sqlite:///{tmp_path / 'state.sqlite'}").add(*event) is None  # another process, same event
    changed = _event("users-update", {"id": "u1", "email": "a@x.se", "phone": "+46709999999"})
    assert inbox.add(*changed) is not None
    assert inbox.count() == 2


def test_bank_accounts_are_not_kept_and_unknown_topics_are_refused(inbox, tmp_path):
    account = "8327-9, 123 456 789-7"
    inbox.add(*_event("users-update", {"id": "u1", "email": "a@x.se",
                                       "bankAccount": {"type": "national", "number": account}}))
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("state.sqlite*"))  # the WAL holds fresh writes
    assert b"u1" in raw
    assert account.encode() not in raw and b"123 456 789" not in raw
    with pytest.raises(ValueError, match="unknown topic"):
        inbox.add(*_event("users-rename", {"id": "u1", "email": "a@x.se"}))
