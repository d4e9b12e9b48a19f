"""One inbox per connection in one state database: each connection's events, cursor, claims and counts stay its
own, the same body delivered for two connections is two events, and an inbox from before connections keeps its
events (and knows their redeliveries) as the `default` connection's."""

from __future__ import annotations

import json
import sqlite3

import pytest

from humacrona_pipeline.state import db
from humacrona_pipeline.state.inbox import PENDING, Inbox


@pytest.fixture(autouse=True)
def _fresh_state():
    yield
    db.dispose_all()


def _event(topic: str, *users: dict) -> tuple[str, list[dict], bytes]:
    return topic, list(users), json.dumps({"topic": topic, "users": list(users)}).encode()


ANNA = _event("users-update", {"id": "u1", "email": "anna@x.se"})
BO = _event("users-create", {"id": "u2", "email": "bo@x.se"})


def test_the_same_body_for_two_connections_is_two_events_each_stored_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    north, south = Inbox(url, connection="north"), Inbox(url, connection="south")
    first, second = north.add(*ANNA), south.add(*ANNA)
    assert first is not None and second is not None and first != second
    assert north.add(*ANNA) is None and Inbox(url, connection="south").add(*ANNA) is None  # redeliveries
    assert (north.count(), south.count(), Inbox(url).count()) == (1, 1, 0)
    assert [e.id for e in north.after(0)] == [first] and [e.id for e in south.after(0)] == [second]


def test_reads_claims_and_cursors_are_each_connections_own(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    north, south = Inbox(url, connection="north"), Inbox(url, connection="south")
    n1 = north.add(*ANNA)
    s1 = south.add(*BO, claimed_by=PENDING)
    n2 = north.add(*BO)
    assert north.last_id() == n2 and south.last_id() == s1
    assert [e.id for e in north.after(n1)] == [n2]
    assert [e.id for e in north.unclaimed()] == [n1, n2] and south.unclaimed() == []
    assert [e.id for e in south.unclaimed(held=PENDING)] == [s1] and north.unclaimed(held=PENDING) == []
    # a claim naming another connection's event takes nothing, not even its own events in the same call
    assert north.claim([n1, s1], "run-x") is False
    assert north.claim([s1], "run-x", held=PENDING) is False
    assert [e.id for e in north.unclaimed()] == [n1, n2] and [e.id for e in south.unclaimed(held=PENDING)] == [s1]
    assert north.claim([n1, n2], "push:north") and south.claim([s1], "push:south", held=PENDING)
    assert [e.id for e in north.claimed("push:north")] == [n1, n2] and south.claimed("push:north") == []
    # the same claim text in two connections is released only where it is given back
    assert south.claim([south.add(*ANNA)], "push:north")
    assert north.release("push:north") == 2
    assert [e.id for e in north.unclaimed()] == [n1, n2]
    assert len(south.claimed("push:north")) == 1


# The inbox table as the version before connections made it: the fingerprint unique, no connection column.
BEFORE_CONNECTIONS = """CREATE TABLE inbox_events (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    fingerprint VARCHAR(64) NOT NULL UNIQUE, topic VARCHAR(32) NOT NULL, user_ids TEXT NOT NULL,
    emails TEXT NOT NULL, body TEXT NOT NULL, received_at VARCHAR(40) NOT NULL, delivered_at VARCHAR(40),
    claimed_by VARCHAR(160), claimed_at VARCHAR(40));
INSERT INTO inbox_events (fingerprint, topic, user_ids, emails, body, received_at)
    VALUES (:fingerprint, 'users-update', '["u1"]', '["anna@x.se"]', '[]', '2025-01-01T00:00:00+00:00');"""


def test_an_inbox_from_before_connections_keeps_its_events_as_the_default_connections(tmp_path):
    import hashlib

    path = tmp_path / "old.sqlite"
    topic, _users, body = ANNA
    old_fingerprint = hashlib.sha256(topic.encode() + b"\n" + body).hexdigest()  # as that version stored it
    with sqlite3.connect(path) as conn:
        script, insert = BEFORE_CONNECTIONS.split(";\nINSERT")
        conn.executescript(script + ";")
        conn.execute("INSERT" + insert.rstrip(";"), {"fingerprint": old_fingerprint})
    url = f"sqlite:///{path}"
    default, north = Inbox(url), Inbox(url, connection="north")
    assert [e.user_ids for e in default.unclaimed()] == [("u1",)]  # still waiting for the default's push
    assert north.count() == 0 and north.last_id() == 0
    assert default.add(*ANNA) is None  # redelivered after the upgrade: known, not pushed twice
    assert north.add(*ANNA) is not None  # the same body for another connection: its own event
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT connection FROM inbox_events ORDER BY id").fetchall() == [("default",), ("north",)]
        columns = {r[1]: r for r in conn.execute("PRAGMA table_info(inbox_events)")}
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(inbox_events)")}
    assert columns["connection"][3] == 1  # NOT NULL
    assert "ix_inbox_events_connection_claim" in indexes


def test_processes_that_find_an_old_inbox_at_once_migrate_it_once(tmp_path):
    """Several processes (a receiver, run workers) opening an inbox from before connections at the same moment:
    each adds its events; none fails on a column or index another one added."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(BEFORE_CONNECTIONS.split(";\nINSERT")[0] + ";")
    url = f"sqlite:///{path}"
    script = textwrap.dedent("""
        import json, sys
        from humacrona_pipeline.state.inbox import Inbox
        users = [{"id": "u1", "email": "a@x.se"}]
        Inbox(sys.argv[1], connection=sys.argv[2]).add("users-update", users, json.dumps(users).encode())
    """)
    workers = [subprocess.Popen([sys.executable, "-c", script, url, f"c{i}"], stderr=subprocess.PIPE, text=True)
               for i in range(4)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    assert [Inbox(url, connection=f"c{i}").count() for i in range(4)] == [1, 1, 1, 1]
    assert [len(Inbox(url, connection=f"c{i}").unclaimed()) for i in range(4)] == [1, 1, 1, 1]
