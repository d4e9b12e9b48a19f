"""The audit ledger: SQLite under DAGSTER_HOME by default or any URL in HUMACRONA_STATE_URL, shared by
several processes, bank accounts stored masked, verification amending stored rows, rows written ahead as
`pending` and completed in place, pending rows of a killed run resolved once, older ledger files migrated."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from humacrona_pipeline.core.outcomes import OUTCOME_COLUMNS
from humacrona_pipeline.state import (
    LEDGER_COLUMNS,
    NOT_APPLIED,
    PENDING,
    RUN_COLUMNS,
    Ledger,
    db,
    state_url,
)
from humacrona_pipeline.state.ledger import migrate

# A valid Swedbank account (8327-9, 123 456 789-7) in stored form, and its digits as they could leak.
ACCOUNT = "83279 1234567897"
OLD_ACCOUNT = "5000 1000004"
LEAKS = ("1234567897", "123456789", "83279 1234", "1000004")


def outcome(employee: str, field: str = "given_name", *, target: str = "huma", action: str = "update",
            status: str = "applied", current=None, new="Anna", error=None, record_id="h1", created_id=None,
            at="2025-03-01T10:00:00+00:00") -> dict:
    return {"target": target, "action": action, "employee": employee, "record_id": record_id, "field": field,
            "current_value": current, "new_value": new, "rule": "default_winner", "status": status,
            "error": error, "at": at, "created_id": created_id}


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    monkeypatch.delenv(db.STATE_URL_ENV, raising=False)
    yield
    db.dispose_all()


def _files(path: Path) -> list[Path]:
    return [p for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists()]


def test_default_is_sqlite_under_dagster_home_in_wal_mode(tmp_path, monkeypatch):
    home = tmp_path / "home"  # not there yet: created
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    url = state_url()
    assert url == f"sqlite:///{(home / 'humacrona_state.sqlite').resolve()}"
    ledger = Ledger()
    ledger.record("run-1", [outcome("anna@nordljus.se"), outcome("bo@nordljus.se", "family_name", new="Ek")])
    assert (home / "humacrona_state.sqlite").is_file()
    ops = ledger.operations()
    assert list(ops.columns) == list(LEDGER_COLUMNS)
    assert ops["employee"].tolist() == ["anna@nordljus.se", "bo@nordljus.se"]
    assert ops.loc[0, "system"] == "huma" and ops.loc[0, "value_after"] == "Anna" and ops.loc[0, "value_before"] is None
    with db.engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_state_url_env_names_another_database(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    other = tmp_path / "elsewhere" / "state.db"
    monkeypatch.setenv("HUMACRONA_STATE_URL", f"sqlite:///{other}")
    ledger = Ledger()
    ledger.record("run-1", pd.DataFrame([outcome("anna@nordljus.se")], columns=list(OUTCOME_COLUMNS)))
    assert other.is_file()
    assert not (tmp_path / "home" / "humacrona_state.sqlite").exists()
    assert len(Ledger(f"sqlite:///{other}").operations("run-1")) == 1
    assert Ledger(f"sqlite:///{tmp_path / 'third.db'}").operations().empty  # an explicit URL wins


def test_two_ledgers_see_each_others_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = Ledger(url), Ledger(url)
    first.record("run-a", [outcome("anna@nordljus.se")])
    second.record("run-b", [outcome("bo@nordljus.se")])
    assert set(first.operations()["run_id"]) == {"run-a", "run-b"}
    assert second.operations("run-a")["employee"].tolist() == ["anna@nordljus.se"]


def test_processes_write_concurrently(tmp_path):
    """Several OS processes append at once (as Dagster run workers do); nothing is lost or locked out."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    script = textwrap.dedent("""
        import sys
        from humacrona_pipeline.state import Ledger
        url, worker = sys.argv[1], sys.argv[2]
        ledger = Ledger(url)
        for i in range(25):
            ledger.record(f"run-{worker}", [{"target": "crona", "action": "update", "employee": f"e{i}@x.se",
                "record_id": str(i), "field": "job_title", "current_value": "a", "new_value": "b", "rule": "r",
                "status": "applied", "error": None, "at": None, "created_id": None}])
            ledger.mark_verification(f"run-{worker}", __import__("pandas").DataFrame([{"target": "crona",
                "action": "update", "employee": f"e{i}@x.se", "field": "job_title", "status": "unverified",
                "error": "read back a"}]))
    """)
    workers = [subprocess.Popen([sys.executable, "-c", script, url, str(w)], stderr=subprocess.PIPE, text=True)
               for w in range(4)]
    for w in workers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    ops = Ledger(url).operations()
    assert len(ops) == 100
    assert set(ops["status"]) == {"unverified"}
    runs = Ledger(url).runs()
    assert sorted(runs["run_id"]) == [f"run-{w}" for w in range(4)]
    assert runs["operations"].tolist() == [25] * 4


def test_bank_accounts_are_stored_masked(tmp_path):
    path = tmp_path / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    ledger.record("run-1", [
        outcome("anna@nordljus.se", "bank_account", target="crona", action="update", record_id="1001",
                current=OLD_ACCOUNT, new=ACCOUNT, status="failed",
                error=f"422: UtbetKontoNr {ACCOUNT} rejected (8327-9, 123 456 789-7)"),
        outcome("bo@nordljus.se", "bank_account", target="crona", action="held", record_id="1002",
                current=OLD_ACCOUNT, new=ACCOUNT, status="skipped", error="held"),
        outcome("cy@nordljus.se", "bank_account", target="huma", action="create", record_id=None,
                created_id="77", new=ACCOUNT),
    ])
    ledger.mark_verification("run-1", pd.DataFrame([outcome(
        "anna@nordljus.se", "bank_account", target="crona", status="unverified",
        error=f"read back {ACCOUNT}")]))
    ops = ledger.operations()
    assert ops["value_after"].tolist() == ["•••• 7897"] * 3
    assert ops["value_before"].tolist() == ["•••• 0004", "•••• 0004", None]
    assert ops.loc[2, "record_id"] == "77"  # a create is stored under the id it got
    assert ops.loc[0, "error"] == "read back •••• 7897"
    db.dispose_all()  # close connections; the WAL may still hold the rows: read every file
    with sqlite3.connect(path) as conn:
        cells = [str(v) for row in conn.execute("SELECT * FROM ledger_operations") for v in row]
    for leak in LEAKS:
        assert not any(leak in cell for cell in cells), leak
    for file in _files(path):
        raw = file.read_bytes()
        for leak in LEAKS:
            assert leak.encode() not in raw, (file.name, leak)


def test_mark_verification_updates_changed_rows_of_that_run_only(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    rows = [outcome("anna@nordljus.se"), outcome("bo@nordljus.se"),
            outcome("cy@nordljus.se", "job_title", target="crona", record_id="1003", new="Chef")]
    ledger.record("run-1", rows)
    ledger.record("run-2", [outcome("anna@nordljus.se")])
    verified = pd.DataFrame([
        {**rows[0], "status": "unverified", "error": "read back 'Ann'"},
        {**rows[1]},  # unchanged
        {**rows[2], "status": "applied"},  # unchanged
        {**outcome("nobody@nordljus.se"), "status": "failed"},  # not stored: ignored
    ], columns=list(OUTCOME_COLUMNS))
    assert ledger.mark_verification("run-1", verified) == 1
    assert ledger.mark_verification("run-1", verified) == 0
    assert ledger.mark_verification("run-1", verified.iloc[0:0]) == 0
    ops = ledger.operations("run-1").set_index("employee")
    assert ops.loc["anna@nordljus.se", "status"] == "unverified"
    assert ops.loc["anna@nordljus.se", "error"] == "read back 'Ann'"
    assert ops.loc["bo@nordljus.se", "status"] == "applied"
    assert ledger.operations("run-2")["status"].tolist() == ["applied"]
    # the same employee and field, but another system or action, is another row
    other = pd.DataFrame([{**rows[0], "target": "crona", "status": "failed"}])
    assert ledger.mark_verification("run-1", other) == 0


def test_runs_counts_by_status(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.record("run-1", [outcome("a@x.se", at="2025-03-01T10:00:00+00:00"),
                            outcome("b@x.se", status="failed", at="2025-03-01T10:00:05+00:00")])
    ledger.record("run-2", [outcome("a@x.se", status="skipped", at="2025-03-02T09:00:00+00:00")])
    runs = ledger.runs()
    assert list(runs.columns) == list(RUN_COLUMNS)
    assert runs["run_id"].tolist() == ["run-2", "run-1"]  # latest first
    first = runs.set_index("run_id").loc["run-1"]
    assert (first["started"], first["ended"]) == ("2025-03-01T10:00:00+00:00", "2025-03-01T10:00:05+00:00")
    assert (first["operations"], first["applied"], first["failed"], first["unverified"]) == (2, 1, 1, 0)


def test_missing_time_is_filled_and_empty_record_is_a_no_op(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.record("run-1", [])
    ledger.record("run-1", pd.DataFrame(columns=list(OUTCOME_COLUMNS)))
    ledger.record("run-1", [outcome("a@x.se", at=None)])
    at = ledger.operations().loc[0, "at"]
    assert at.endswith("+00:00") and at[:2] == "20"


def test_another_module_can_add_a_table(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(url).record("run-1", [outcome("a@x.se")])  # engine made, ledger table created
    inbox = sa.Table("test_inbox", db.metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("body", sa.Text))
    try:
        with db.write_transaction(db.engine(url)) as conn:  # created on the next engine() call
            conn.execute(sa.insert(inbox), [{"body": "hello"}])
        with db.engine(url).connect() as conn:
            assert conn.execute(sa.select(inbox.c.body)).scalar() == "hello"
    finally:
        db.metadata.remove(inbox)


def test_repr_hides_a_database_password():
    assert "s3cret" not in repr(Ledger("postgresql+psycopg://user:s3cret@db.example/humacrona"))


# ------------------------------------------------------------------------ written ahead: pending rows


def plan_row(employee: str, field: str = "given_name", *, target: str = "huma", action: str = "update",
             record_id="h1", current=None, new="Anna") -> dict:
    """A plan row as the write-back hands it to `record_pending` (no status yet)."""
    return {"target": target, "action": action, "employee": employee, "record_id": record_id, "field": field,
            "current_value": current, "new_value": new, "rule": "default_winner", "status": None, "error": None,
            "at": None, "created_id": None}


def test_pending_rows_are_completed_in_place_not_appended(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    first = plan_row("anna@nordljus.se", "bank_account", target="crona", record_id="1001", current=OLD_ACCOUNT,
                     new=ACCOUNT)
    second = plan_row("anna@nordljus.se", "family_name", target="crona", record_id="1001", new="Ek")
    ledger.record_pending("run-1", [first, second])
    pending = ledger.operations()
    assert pending["status"].tolist() == [PENDING, PENDING]
    assert pending["value_after"].tolist() == ["•••• 7897", "Ek"]  # masked before the request, too
    assert pending["value_before"].tolist() == ["•••• 0004", None]
    assert pending["record_id"].tolist() == ["1001", "1001"] and pending["at"].notna().all()
    assert pending["resolved_at"].isna().all()

    held = plan_row("anna@nordljus.se", "job_title", target="crona", action="held", record_id="1001", new="Chef")
    ledger.complete("run-1", [{**first, "status": "failed", "error": f"422: {ACCOUNT} rejected"},
                              {**second, "status": "applied", "at": "2025-03-01T10:00:01+00:00"},
                              {**held, "status": "skipped", "error": "held"}])
    done = ledger.operations()
    assert done["id"].tolist()[:2] == pending["id"].tolist()  # the same rows, now finished
    assert done["status"].tolist() == ["failed", "applied", "skipped"]  # the held one (never pending) appended
    assert done.loc[1, "at"] == "2025-03-01T10:00:01+00:00"
    assert done.loc[0, "error"] == "422: •••• 7897 rejected"
    assert ledger.pending().empty
    # another run's rows of the same employee and field are not touched by this run's completion
    ledger.record_pending("run-2", [second])
    ledger.complete("run-1", [{**second, "status": "applied"}])
    assert ledger.operations("run-2")["status"].tolist() == [PENDING]


def test_a_pending_create_names_the_record_it_will_get(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    crona_create = [plan_row("cy@x.se", name, target="crona", action="create", record_id="huma-9", new=value)
                    for name, value in (("employment_id", "2044"), ("given_name", "Cy"))]
    huma_create = [plan_row("dy@x.se", "given_name", action="create", record_id="2045", new="Dy")]
    ledger.record_pending("run-1", crona_create)
    ledger.record_pending("run-1", huma_create)
    stored = ledger.operations()
    # Crona: the AnstNr planned (the employment ID); Huma: unknown until the user exists (not the source's id)
    assert stored["record_id"].tolist() == ["2044", "2044", None]
    ledger.complete("run-1", [{**huma_create[0], "status": "applied", "created_id": "u-77"}])
    assert ledger.operations().loc[2, "record_id"] == "u-77"


def test_resolution_concludes_pending_rows_once(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.record_pending("killed", [plan_row("a@x.se"), plan_row("b@x.se"), plan_row("c@x.se", record_id=None,
                                                                                          action="create")])
    ledger.record_pending("now", [plan_row("d@x.se")])
    pending = ledger.pending(except_run="now")
    assert pending["employee"].tolist() == ["a@x.se", "b@x.se", "c@x.se"]
    ids = pending["id"].tolist()
    concluded = ledger.resolve([
        {"id": ids[0], "status": "applied", "note": None},
        {"id": ids[1], "status": NOT_APPLIED, "note": "resolved after an interrupted run: Huma does not hold it"},
        {"id": ids[2], "status": PENDING, "note": "still pending: Huma could not be read back (503)"},
    ])
    assert concluded == 2
    rows = ledger.operations("killed").set_index("employee")
    assert rows["status"].to_dict() == {"a@x.se": "applied", "b@x.se": NOT_APPLIED, "c@x.se": PENDING}
    assert rows.loc["a@x.se", "resolved_at"] and rows.loc["b@x.se", "resolved_at"]
    assert rows.loc["c@x.se", "resolved_at"] is None and "could not be read back" in rows.loc["c@x.se", "error"]
    assert rows.loc["a@x.se", "at"] == pending.loc[0, "at"]  # when it was attempted stays
    # a concluded row is not concluded again; the one still pending is, next time, with the id it was found by
    assert ledger.resolve([{"id": ids[0], "status": NOT_APPLIED}, {"id": ids[2], "status": "applied",
                                                                    "record_id": "u-5"}]) == 2
    rows = ledger.operations("killed").set_index("employee")
    assert rows.loc["a@x.se", "status"] == "applied"
    assert (rows.loc["c@x.se", "status"], rows.loc["c@x.se", "record_id"]) == ("applied", "u-5")
    with pytest.raises(ValueError, match="not applied"):
        ledger.resolve([{"id": ids[1], "status": "failed"}])
    counts = ledger.runs().set_index("run_id")
    assert (counts.loc["killed", "applied"], counts.loc["killed", NOT_APPLIED], counts.loc["now", PENDING]) == (2, 1, 1)


def test_the_writer_completing_a_row_overrules_a_resolution_made_meanwhile(tmp_path):
    """A run still writing while another resolves its pending rows: the writer's answer is the record."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    row = plan_row("a@x.se")
    ledger.record_pending("slow", [row])
    ledger.resolve([{"id": int(ledger.pending().loc[0, "id"]), "status": NOT_APPLIED, "note": "not yet"}])
    ledger.complete("slow", [{**row, "status": "applied"}])
    stored = ledger.operations()
    assert len(stored) == 1
    assert (stored.loc[0, "status"], stored.loc[0, "error"], stored.loc[0, "resolved_at"]) == ("applied", None, None)


OLD_SCHEMA = """CREATE TABLE ledger_operations (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_id VARCHAR(64) NOT NULL, system VARCHAR(16) NOT NULL, action VARCHAR(16) NOT NULL,
    employee VARCHAR(320) NOT NULL, record_id VARCHAR(128),
    field VARCHAR(64), value_before TEXT, value_after TEXT, status VARCHAR(16) NOT NULL, error TEXT, rule TEXT,
    at VARCHAR(40) NOT NULL);
CREATE INDEX ix_ledger_operations_run ON ledger_operations (run_id, system, employee, field, action);
CREATE INDEX ix_ledger_operations_at ON ledger_operations (at);
INSERT INTO ledger_operations (run_id, system, action, employee, field, value_after, status, at)
    VALUES ('old-run', 'crona', 'update', 'a@x.se', 'given_name', 'Anna', 'applied', '2025-01-01T00:00:00+00:00');"""


def test_an_older_ledger_file_gains_the_new_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    ledger = Ledger(f"sqlite:///{path}")
    old = ledger.operations()
    assert list(old.columns) == list(LEDGER_COLUMNS)
    assert old["status"].tolist() == ["applied"] and old.loc[0, "resolved_at"] is None
    ledger.record_pending("new-run", [plan_row("b@x.se")])
    ledger.resolve([{"id": int(ledger.pending().loc[0, "id"]), "status": "applied"}])
    assert ledger.operations("new-run").loc[0, "resolved_at"]
    db.dispose_all()
    assert migrate(db.engine(f"sqlite:///{path}")) == []  # done once; a second process finds nothing to add
    with sqlite3.connect(path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(ledger_operations)")]
    assert columns.count("resolved_at") == 1
