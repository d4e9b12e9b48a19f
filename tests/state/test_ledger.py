"""The audit ledger: SQLite under DAGSTER_HOME by default or any URL in HUMACRONA_STATE_URL, shared by
several processes, bank accounts stored masked, verification amending stored rows."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from humacrona_pipeline.core.outcomes import OUTCOME_COLUMNS
from humacrona_pipeline.state import LEDGER_COLUMNS, RUN_COLUMNS, Ledger, db, state_url

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
