"""The per-connection ledger and inbox on a real PostgreSQL server (the deployment's state database): tables made
by the version before connections gain the connection column, NOT NULL with their rows the `default` connection's,
and the indexes; the same body delivered for two connections is two events under the fingerprint's unique index."""

from __future__ import annotations

import hashlib
import json
from contextlib import closing

import pytest

from humacrona_pipeline.state import Ledger, db
from humacrona_pipeline.state.inbox import Inbox
from humacrona_pipeline.state.ledger import ADDED_INDEXES
from tests.postgres_server import running_postgres

pytestmark = pytest.mark.timeout(120)

BEFORE_CONNECTIONS = [
    """CREATE TABLE ledger_operations (id SERIAL PRIMARY KEY, run_id VARCHAR(64) NOT NULL,
       system VARCHAR(16) NOT NULL, action VARCHAR(16) NOT NULL, employee VARCHAR(320) NOT NULL,
       record_id VARCHAR(128), field VARCHAR(64), value_before TEXT, value_after TEXT, status VARCHAR(16) NOT NULL,
       error TEXT, rule TEXT, at VARCHAR(40) NOT NULL, resolved_at VARCHAR(40))""",
    "CREATE INDEX ix_ledger_operations_run ON ledger_operations (run_id, system, employee, field, action)",
    "CREATE INDEX ix_ledger_operations_at ON ledger_operations (at)",
    """INSERT INTO ledger_operations (run_id, system, action, employee, field, value_after, status, at)
       VALUES ('old-run', 'crona', 'update', 'a@x.se', 'given_name', 'Anna', 'pending', '2025-01-01')""",
    """CREATE TABLE inbox_events (id SERIAL PRIMARY KEY, fingerprint VARCHAR(64) NOT NULL UNIQUE,
       topic VARCHAR(32) NOT NULL, user_ids TEXT NOT NULL, emails TEXT NOT NULL, body TEXT NOT NULL,
       received_at VARCHAR(40) NOT NULL, delivered_at VARCHAR(40), claimed_by VARCHAR(160), claimed_at VARCHAR(40))""",
]
USERS = [{"id": "u1", "email": "anna@x.se"}]
BODY = json.dumps({"topic": "users-update", "users": USERS}).encode()


@pytest.fixture(scope="module")
def postgres():
    with running_postgres() as server:
        server.create_database("state")
        yield server
        db.dispose_all()


def test_tables_from_before_connections_are_migrated_on_postgresql(postgres):
    url = postgres.url("state")
    with closing(postgres.connect("state")) as conn, conn.cursor() as cursor:
        for statement in BEFORE_CONNECTIONS:
            cursor.execute(statement)
        cursor.execute("INSERT INTO inbox_events (fingerprint, topic, user_ids, emails, body, received_at) "
                       "VALUES (%s, 'users-update', '[\"u1\"]', '[\"anna@x.se\"]', '[]', '2025-01-01')",
                       (hashlib.sha256(b"users-update\n" + BODY).hexdigest(),))
        conn.commit()
    default, north = Ledger(url), Ledger(url, connection="north")
    assert default.pending()["run_id"].tolist() == ["old-run"] and north.pending().empty
    north.record_pending("run-n", [{"target": "crona", "action": "update", "employee": "b@x.se", "record_id": "7",
                                    "field": "given_name", "current_value": None, "new_value": "Bo", "rule": "r",
                                    "status": None, "error": None, "at": None, "created_id": None}])
    north.resolve([{"id": int(default.pending().loc[0, "id"]), "status": "applied"}])  # not north's: untouched
    assert default.pending()["run_id"].tolist() == ["old-run"] and north.pending()["run_id"].tolist() == ["run-n"]

    old, other = Inbox(url), Inbox(url, connection="north")
    assert [e.user_ids for e in old.unclaimed()] == [("u1",)] and other.count() == 0
    assert old.add("users-update", USERS, BODY) is None  # stored before the upgrade: a redelivery
    assert other.add("users-update", USERS, BODY) is not None and other.add("users-update", USERS, BODY) is None
    assert [len(old.unclaimed()), len(other.unclaimed())] == [1, 1]

    for table, index in (("ledger_operations", "ix_ledger_operations_connection_status"),
                         ("inbox_events", "ix_inbox_events_connection_claim")):
        (nullable, default_text), = postgres.query(
            "state", "SELECT is_nullable, column_default FROM information_schema.columns "
                     "WHERE table_name = %s AND column_name = 'connection'", (table,))
        assert nullable == "NO" and "'default'" in default_text
        names = {name for (name,) in postgres.query("state", "SELECT indexname FROM pg_indexes WHERE tablename = %s",
                                                    (table,))}
        assert index in names
    assert set(ADDED_INDEXES) <= {n for (n,) in postgres.query(
        "state", "SELECT indexname FROM pg_indexes WHERE tablename = 'ledger_operations'")}
    assert postgres.query("state", "SELECT connection, count(*) FROM ledger_operations GROUP BY connection "
                                   "ORDER BY connection") == [("default", 1), ("north", 1)]
