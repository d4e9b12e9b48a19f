"""The state database: one SQLAlchemy engine per URL and one `MetaData` every state table joins.

`HUMACRONA_STATE_URL` names it (any SQLAlchemy URL, e.g. ``postgresql+psycopg2://user@host/humacrona``);
unset, it is ``sqlite:///<DAGSTER_HOME>/humacrona_state.sqlite``. Several processes write to it at once
(Dagster run workers, a webhook receiver), so SQLite runs in WAL mode with a busy timeout, and writers
take the write lock when their transaction begins (`write_transaction`) instead of upgrading a read lock
halfway, which SQLite answers with "database is locked" without waiting.

A module adds its table by declaring it on `metadata` (``sa.Table("inbox", metadata, ...)``) and reaching the
database through `engine()`: tables declared since the engine was made are created on the next call. A column
added after its table first shipped reaches an older database through `add_columns` (and an index on it through
`add_indexes`, which `engine()` cannot make before the column exists), called by the table's module on first use."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateIndex, CreateTable

from .files import PRIVATE_MODE, make_private
from .home import STATE_URL_ENV, dagster_home

SQLITE_FILE = "humacrona_state.sqlite"
BUSY_TIMEOUT_S = 30.0
_WRITE_OPTION = "humacrona_write"

metadata = sa.MetaData()

_lock = threading.Lock()
_engines: dict[tuple[int, str], sa.Engine] = {}
_created: dict[tuple[int, str], set[str]] = {}


def state_url() -> str:
    """`HUMACRONA_STATE_URL` when set, else the SQLite file in the Dagster home folder."""
    url = os.environ.get(STATE_URL_ENV, "").strip()
    if url:
        return url
    return f"sqlite:///{(dagster_home() / SQLITE_FILE).resolve()}"


def _is_memory(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _make_engine(url: str) -> sa.Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if _is_memory(parsed):  # one shared connection, or every connection would see its own empty database
        eng = sa.create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        database = Path(parsed.database).expanduser()
        database.parent.mkdir(parents=True, exist_ok=True)
        database.touch(mode=PRIVATE_MODE)  # the ledger and inbox hold employee data: owner only, from the start
        if database.stat().st_uid == os.getuid():  # and an older, world-readable file is closed now
            make_private(database)
        eng = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})
    memory = _is_memory(parsed)

    @event.listens_for(eng, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see `_begin`)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")  # a committed audit row survives a power cut
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(eng, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "BEGIN")

    return eng


def _create_tables(eng: sa.Engine, names: set[str]) -> None:
    tables = [t for t in metadata.sorted_tables if t.name in names]
    for attempt in range(2):
        try:
            with write_transaction(eng) as conn:
                for table in tables:
                    conn.execute(CreateTable(table, if_not_exists=True))
                    for index in table.indexes:
                        conn.execute(CreateIndex(index, if_not_exists=True))
            return
        except sa.exc.DBAPIError:  # another process created them at the same moment (PostgreSQL catalog race)
            if attempt:
                raise


def engine(url: str | None = None) -> sa.Engine:
    """The engine for ``url`` (default `state_url()`), one per URL and process, with every table declared on
    `metadata` created."""
    url = url or state_url()
    key = (os.getpid(), url)  # a forked worker makes its own connections
    with _lock:
        eng = _engines.get(key)
        if eng is None:
            eng = _engines[key] = _make_engine(url)
            _created[key] = set()
        missing = set(metadata.tables) - _created[key]
        if missing:
            _create_tables(eng, missing)
            _created[key] |= missing
    return eng


@contextmanager
def write_transaction(eng: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction that writes: committed on success, rolled back on error. On SQLite it holds the write
    lock from its start (BEGIN IMMEDIATE), so a read-then-write cannot deadlock with another writer."""
    with eng.connect().execution_options(**{_WRITE_OPTION: True}) as conn, conn.begin():
        yield conn


def add_column_ddl(table: sa.Table, name: str, dialect: sa.Dialect) -> str:
    """``ALTER TABLE ... ADD COLUMN`` for one column of ``table`` as declared, on SQLite and PostgreSQL alike: a
    NOT NULL column has a server default, which the existing rows get."""
    column = table.c[name]
    ddl = f"ALTER TABLE {table.name} ADD COLUMN {name} {column.type.compile(dialect=dialect)}"
    if column.server_default is not None:
        default = column.server_default.arg
        ddl += f" DEFAULT {sa.literal(default).compile(dialect=dialect, compile_kwargs={'literal_binds': True})}"
    return ddl if column.nullable else ddl + " NOT NULL"


def add_columns(engine: sa.Engine, table: sa.Table, names: tuple[str, ...]) -> list[str]:
    """Add those of the columns ``names`` (declared on ``table``) the table lacks, each as `add_column_ddl` says;
    one another process added meanwhile is no error. Answers the columns added."""
    def have() -> set[str]:
        return {col["name"] for col in sa.inspect(engine).get_columns(table.name)}

    added = []
    for name in [n for n in names if n not in have()]:
        try:
            with write_transaction(engine) as conn:
                conn.exec_driver_sql(add_column_ddl(table, name, engine.dialect))
            added.append(name)
        except sa.exc.DBAPIError:
            if name not in have():
                raise
    return added


def add_indexes(engine: sa.Engine, table: sa.Table, indexes: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Create those of ``indexes`` (name: columns) the table lacks; one another process made meanwhile is no
    error. Answers the indexes created."""
    have = {i["name"] for i in sa.inspect(engine).get_indexes(table.name)}
    made = []
    for name, columns in indexes.items():
        if name in have:
            continue
        try:
            with write_transaction(engine) as conn:
                conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table.name} ({', '.join(columns)})")
            made.append(name)
        except sa.exc.DBAPIError:  # PostgreSQL: another process created it at the same moment
            if name not in {i["name"] for i in sa.inspect(engine).get_indexes(table.name)}:
                raise
    return made


def dispose_all() -> None:
    """Close every pooled connection (tests, and processes that are about to exit)."""
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()
        _created.clear()


_columns_added: set[tuple[int, str, str]] = set()  # (process, URL, table) whose `added_columns` were checked


class StateStore:
    """A table of the state database (`state_url()` unless ``url`` is given); instances in several processes
    share it. The repr never shows the URL, which may hold a database password. ``added_columns``: the table and
    the columns newer versions added to it, added to an older table once per process and database."""

    added_columns: tuple[sa.Table, tuple[str, ...]] | None = None

    def __init__(self, url: str | None = None) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def engine(self) -> sa.Engine:
        eng = engine(self.url)
        if self.added_columns is not None:
            table, names = self.added_columns
            key = (os.getpid(), str(eng.url), table.name)
            if key not in _columns_added:
                add_columns(eng, table, names)
                _columns_added.add(key)
        return eng
