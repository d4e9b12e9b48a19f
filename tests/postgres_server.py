"""A real PostgreSQL server for tests: pgserver's binaries (a dev dependency, so nothing is installed by hand) on
127.0.0.1 at a free port, password required, stopped and deleted at the end.

Why not `pgserver.get_server()`: it serves only a Unix socket (Dagster's `postgres_db` settings name a host and a
port), and run as root — CI containers are — it adds a system user `pgserver` (useradd) and opens every parent
folder of its data and binaries to all users. PostgreSQL itself refuses to run as root, so as root the server runs
as `nobody`, an account every Linux system has; otherwise as the current user."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

HOST = "127.0.0.1"
USER = "humacrona"
UNPRIVILEGED = "nobody"
START_ATTEMPTS = 3
# Durability is not under test: skipping fsync makes the server start and write several times faster.
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                 "unix_socket_directories": "''", "listen_addresses": f"'{HOST}'"}


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        """A SQLAlchemy URL of ``database`` on this server."""
        return f"{driver}://{quote(self.user)}:{quote(self.password)}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                dbname=database)

    def create_database(self, name: str) -> None:
        conn = self.connect()
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def query(self, database: str, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self.connect(database)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            conn.close()


def _binaries() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        pytest.skip("pgserver (a dev dependency) is not installed: `uv run --locked pytest` installs it")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _run_as() -> dict:
    """subprocess options that drop root to `nobody` (PostgreSQL will not run as root); none otherwise."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        account = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        pytest.skip(f"running as root and there is no user {UNPRIVILEGED!r} for PostgreSQL to run as")
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _run(command: list, workdir: Path, run_as: dict) -> None:
    # Output to a file, not a pipe: the server pg_ctl starts would inherit the pipe and keep it open.
    with open(workdir / "commands.log", "a") as out:
        subprocess.run([str(c) for c in command], check=True, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
                       env={**os.environ, "LC_ALL": "C"}, timeout=120, **run_as)


def _owned(path: Path, run_as: dict) -> None:
    if run_as:
        os.chown(path, run_as["user"], run_as["group"])


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A fresh server (initdb, start); stopped and its files removed on exit."""
    binaries, run_as = _binaries(), _run_as()
    workdir = Path(tempfile.mkdtemp(prefix="humacrona-pg-"))
    password = secrets.token_urlsafe(16)
    data = workdir / "data"
    started = False
    try:
        _owned(workdir, run_as)
        (workdir / "password").write_text(password + "\n")
        _owned(workdir / "password", run_as)
        try:
            _run([binaries / "initdb", "-D", data, "-U", USER, "--pwfile", workdir / "password",
                  "--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-sync"], workdir, run_as)
        except (OSError, subprocess.CalledProcessError) as error:
            log = (workdir / "commands.log").read_text() if (workdir / "commands.log").exists() else ""
            pytest.skip(f"PostgreSQL from pgserver ({binaries}) could not initialise a database: {error}\n{log}")
        (workdir / "password").unlink()
        base_conf = (data / "postgresql.conf").read_text()
        for attempt in range(START_ATTEMPTS):  # a free port may be taken by someone else before the server binds it
            port = _free_port()
            settings = {**TEST_SETTINGS, "port": str(port)}
            (data / "postgresql.conf").write_text(base_conf + "".join(f"\n{k} = {v}" for k, v in settings.items()))
            try:
                _run([binaries / "pg_ctl", "-D", data, "-l", workdir / "server.log", "-w", "-t", "60", "start"],
                     workdir, run_as)
                started = True
                break
            except subprocess.CalledProcessError as error:
                if attempt == START_ATTEMPTS - 1:
                    log = (workdir / "server.log").read_text()
                    raise RuntimeError("PostgreSQL did not start:\n" + log) from error
        yield PostgresServer(host=HOST, port=port, user=USER, password=password)
    finally:
        if started:
            _stop(binaries, data, workdir, run_as)
        shutil.rmtree(workdir, ignore_errors=True)


def _stop(binaries: Path, data: Path, workdir: Path, run_as: dict) -> None:
    try:
        _run([binaries / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"], workdir, run_as)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):  # never leave a server behind
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


DAGSTER_DB, STATE_DB = "dagster", "humacrona_state"  # a deployment's two databases on its one server (deploy/)


@contextmanager
def running_deployment_databases() -> Iterator[PostgresServer]:
    """A fresh server holding Dagster's database and the state database, as deploy/dagster-postgres.yaml and
    HUMACRONA_STATE_URL name them; the state database's pooled connections closed before the server stops."""
    from humacrona_pipeline.state import db

    with running_postgres() as server:
        server.create_database(DAGSTER_DB)
        server.create_database(STATE_DB)
        yield server
        db.dispose_all()
