"""One ledger per connection in one state database: each connection's rows, open rows, resolutions, run history
and known runs stay its own, and a ledger from before connections keeps its rows as the `default` connection's."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from humacrona_pipeline.state import LEDGER_COLUMNS, NOT_APPLIED, PENDING, Ledger, db
from humacrona_pipeline.state.ledger import ADDED_INDEXES, migrate


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    monkeypatch.delenv(db.STATE_URL_ENV, raising=False)
    yield
    db.dispose_all()


def row(employee: str, field: str = "given_name", *, target: str = "crona", status: str | None = "applied",
        new="Anna") -> dict:
    return {"target": target, "action": "update", "employee": employee, "record_id": "1001", "field": field,
            "current_value": "Ann", "new_value": new, "rule": "default_winner", "status": status, "error": None,
            "at": "2025-03-01T10:00:00+00:00", "created_id": None}


def test_two_connections_on_one_database_never_see_each_others_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    north, south = Ledger(url, connection="north"), Ledger(url, connection="south")
    north.record("run-n", [row("anna@x.se")])
    south.record("run-s", [row("bo@x.se"), row("cy@x.se")])
    assert north.operations()["employee"].tolist() == ["anna@x.se"]
    assert south.operations()["employee"].tolist() == ["bo@x.se", "cy@x.se"]
    assert list(north.operations().columns) == list(LEDGER_COLUMNS)
    assert north.operations("run-s").empty  # the other connection's run, by id: not there for this one
    assert north.runs()["run_id"].tolist() == ["run-n"] and south.runs()["run_id"].tolist() == ["run-s"]
    assert north.known_runs(["run-n", "run-s"]) == {"run-n"}
    assert south.known_runs(["run-n", "run-s"]) == {"run-s"}
    assert Ledger(url).operations().empty  # the default connection has none of them
    assert Ledger(url, connection="north").operations()["employee"].tolist() == ["anna@x.se"]  # another instance


def test_open_rows_are_resolved_only_by_their_own_connection(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    north, south = Ledger(url, connection="north"), Ledger(url, connection="south")
    north.record_pending("killed-n", [row("anna@x.se", status=None)])
    south.record_pending("killed-s", [row("bo@x.se", status=None)])
    north_open, south_open = north.pending(), south.pending()
    assert north_open["employee"].tolist() == ["anna@x.se"] and south_open["employee"].tolist() == ["bo@x.se"]
    south_id = int(south_open.loc[0, "id"])
    # north's run, handed south's row id (its read-back found nothing of it), leaves that row as it was
    north.resolve([{"id": south_id, "status": NOT_APPLIED, "note": "not in north's Crona company"}])
    assert (south.operations().loc[0, "status"], south.operations().loc[0, "resolved_at"]) == (PENDING, None)
    assert south.pending()["id"].tolist() == [south_id]
    assert south.resolve([{"id": south_id, "status": "applied"}]) == 1
    assert south.operations().loc[0, "status"] == "applied" and south.pending().empty
    assert north.pending()["employee"].tolist() == ["anna@x.se"]  # still north's to resolve


def test_the_same_run_id_written_by_two_connections_is_completed_and_verified_apart(tmp_path):
    """Write-ahead completion and verification match rows by run, employee and field: within a connection."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    north, south = Ledger(url, connection="north"), Ledger(url, connection="south")
    for book in (north, south):
        book.record_pending("run-1", [row("anna@x.se", status=None)])
    north.complete("run-1", [row("anna@x.se", status="failed")])
    assert north.operations("run-1")["status"].tolist() == ["failed"]
    assert south.operations("run-1")["status"].tolist() == [PENDING]
    changed = south.mark_verification("run-1", pd.DataFrame([{**row("anna@x.se"), "status": "unverified",
                                                              "error": "read back Ann"}]))
    assert changed == 1
    assert north.operations("run-1")["status"].tolist() == ["failed"]
    assert south.operations("run-1")["status"].tolist() == ["unverified"]


# The ledger table as the version before connections made it (resolved_at already there).
BEFORE_CONNECTIONS = """CREATE TABLE ledger_operations (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_id VARCHAR(64) NOT NULL, system VARCHAR(16) NOT NULL, action VARCHAR(16) NOT NULL,
    employee VARCHAR(320) NOT NULL, record_id VARCHAR(128), field VARCHAR(64), value_before TEXT, value_after TEXT,
    status VARCHAR(16) NOT NULL, error TEXT, rule TEXT, at VARCHAR(40) NOT NULL, resolved_at VARCHAR(40));
CREATE INDEX ix_ledger_operations_run ON ledger_operations (run_id, system, employee, field, action);
CREATE INDEX ix_ledger_operations_at ON ledger_operations (at);
INSERT INTO ledger_operations (run_id, system, action, employee, field, value_after, status, at)
    VALUES ('old-run', 'crona', 'update', 'a@x.se', 'given_name', 'Anna', 'pending', '2025-01-01T00:00:00+00:00');"""


def test_a_ledger_from_before_connections_keeps_its_rows_as_the_default_connections(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(BEFORE_CONNECTIONS)
    url = f"sqlite:///{path}"
    other = Ledger(url, connection="north")
    assert other.operations().empty and other.pending().empty and other.known_runs(["old-run"]) == set()
    default = Ledger(url)
    assert default.operations()["run_id"].tolist() == ["old-run"]
    assert default.pending()["employee"].tolist() == ["a@x.se"]  # its interrupted write is still the next run's
    assert default.known_runs(["old-run"]) == {"old-run"}
    other.record("run-n", [row("bo@x.se")])
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT run_id, connection FROM ledger_operations ORDER BY id").fetchall() == [
            ("old-run", "default"), ("run-n", "north")]
        columns = {r[1]: r for r in conn.execute("PRAGMA table_info(ledger_operations)")}
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(ledger_operations)")}
        # a row written without naming its connection (an older process still running) is the default's
        conn.execute("INSERT INTO ledger_operations (run_id, system, action, employee, status, at) "
                     "VALUES ('older-process', 'huma', 'update', 'c@x.se', 'applied', '2025-01-02')")
    assert columns["connection"][3] == 1  # NOT NULL
    assert set(ADDED_INDEXES) <= indexes
    assert "older-process" in set(default.operations()["run_id"])
    db.dispose_all()
    assert migrate(db.engine(url)) == []  # done once; a second process finds nothing to add


def test_a_new_ledger_has_the_connection_indexes(tmp_path):
    path = tmp_path / "new.sqlite"
    Ledger(f"sqlite:///{path}", connection="north").record("run-1", [row("a@x.se")])
    with sqlite3.connect(path) as conn:
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(ledger_operations)")}
        plan = " ".join(str(r) for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM ledger_operations WHERE connection = 'north' AND status = 'pending'"))
    assert set(ADDED_INDEXES) <= indexes
    assert "ix_ledger_operations_connection_status" in plan  # the next run's open rows: no scan of the others'
