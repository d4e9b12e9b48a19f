"""Issue 9 §3: `humacrona check` verifies both connections and records the administrator's confirmation (who,
when, never a secret); a sync that writes refuses a connection nobody confirmed, before any write; a dry run
only warns."""

from __future__ import annotations

import os
import pty
import re
import select
import sqlite3
import subprocess
import time

import httpx
import pytest

from humacrona_pipeline.state.confirmations import STATEMENT, Confirmations, ConnectionIdentity
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.test_cli import _humacrona
from tests.test_cli_errors import POLICY, WRONG_SECRET, assert_one_line, run_humacrona

STATE_FILE = "humacrona_state.sqlite"  # state.db.SQLITE_FILE under DAGSTER_HOME


@pytest.fixture
def fresh_sandboxes():
    """Sandboxes of this test's own (it writes, or counts the writes)."""
    with start_sandboxes(SandboxOptions(employees=20, seed=11, huma_port=0, crona_port=0)) as running:
        yield running


def _connection(env: dict) -> ConnectionIdentity:
    return ConnectionIdentity(env["HUMA_BASE_URL"], env["HUMA_CLIENT_ID"], env["CRONA_BASE_URL"])


def _confirmations(home) -> Confirmations:
    return Confirmations(f"sqlite:///{home / STATE_FILE}")


def _writes(env: dict) -> int:
    """Every write the sandboxes' APIs answered (POST, PATCH, DELETE, token requests left out)."""
    total = 0
    for url in (env["HUMA_BASE_URL"], env["CRONA_BASE_URL"]):
        requests = httpx.get(url + "/_sandbox/stats", timeout=10).json()["requests"]
        total += sum(n for route, n in requests.items()
                     if route.split()[0] in ("POST", "PATCH", "DELETE") and "auth" not in route)
    return total


def test_check_prints_what_holds_and_records_the_confirmation_with_who_and_when(tmp_path, sandboxes):
    home = tmp_path / "home"
    before = time.time()
    result = run_humacrona(["check", "--confirm", "--by", "Ada Admin"], sandboxes.env, home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    cells = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]
    table = {(c[0], c[1]): c[2] for c in cells if c[0] in ("Huma", "Crona Lön") and len(c) == 4}
    assert table == {(system, check): status for system in ("Huma", "Crona Lön")
                     for check, status in (("token", "ok"), ("read employees", "ok"), ("write", "not checked"))}
    assert sandboxes.env["HUMA_CLIENT_SECRET"] not in result.stdout
    assert sandboxes.env["CRONA_ACTIVATION_CODE"] not in result.stdout

    found = _confirmations(home).latest(_connection(sandboxes.env))
    assert found is not None and found.confirmed_by == "Ada Admin" and found.statement == STATEMENT
    moment = time.mktime(time.strptime(found.confirmed_at[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert found.confirmed_at.endswith("+00:00") and before - 5 <= moment <= time.time() + 5
    assert found.crona_company and found.huma_organisation
    # Nothing secret is stored: not the client secret, not the Aktiveringskod, in any column.
    dump = "\n".join(sqlite3.connect(home / STATE_FILE).iterdump())
    assert sandboxes.env["HUMA_CLIENT_SECRET"] not in dump and sandboxes.env["CRONA_ACTIVATION_CODE"] not in dump

    # Run again without --confirm: it says who confirmed, and records nothing new.
    again = run_humacrona(["check"], sandboxes.env, home)
    assert again.returncode == 0 and "Confirmed by Ada Admin" in again.stdout, again.stdout + again.stderr


def test_check_without_confirm_and_without_a_terminal_says_how_and_records_nothing(tmp_path, sandboxes):
    home = tmp_path / "home"
    result = run_humacrona(["check"], sandboxes.env, home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "humacrona check --confirm" in result.stdout
    assert _confirmations(home).latest(_connection(sandboxes.env)) is None


def test_a_failed_check_never_records_a_confirmation(tmp_path, sandboxes):
    home = tmp_path / "home"
    env = {**sandboxes.env, "HUMA_CLIENT_SECRET": WRONG_SECRET}
    result = run_humacrona(["check", "--confirm", "--by", "Ada Admin"], env, home)
    assert_one_line(result, "Huma: the client credentials were refused", secrets=(WRONG_SECRET,))
    assert "FAILED" in result.stdout and "Confirmed" not in result.stdout
    assert _confirmations(home).latest(_connection(env)) is None


def test_check_asks_at_a_terminal_and_records_only_a_yes(tmp_path, sandboxes):
    home = tmp_path / "home"
    home.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("HUMA_", "CRONA_", "HUMACRONA_"))},
           **sandboxes.env, "DAGSTER_HOME": str(home)}

    def answer(reply: str) -> str:
        main, secondary = pty.openpty()
        proc = subprocess.Popen([*_humacrona(), "check", "--by", "Ada Admin"], stdin=secondary, stdout=secondary,
                                stderr=secondary, env=env, cwd=home, close_fds=True)
        os.close(secondary)
        seen, deadline = b"", time.monotonic() + 120
        while b"Type yes" not in seen and time.monotonic() < deadline:
            if select.select([main], [], [], 1)[0]:
                seen += os.read(main, 4096)
        os.write(main, reply.encode() + b"\n")
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([main], [], [], 0.2)[0]:
                try:
                    seen += os.read(main, 4096)
                except OSError:
                    break
        proc.wait(timeout=30)
        os.close(main)
        return seen.decode(errors="replace")

    shown = answer("no")
    assert STATEMENT in shown and "nothing recorded" in shown, shown
    assert _confirmations(home).latest(_connection(sandboxes.env)) is None
    shown = answer("yes")
    assert "Confirmed by Ada Admin" in shown, shown
    assert _confirmations(home).latest(_connection(sandboxes.env)).confirmed_by == "Ada Admin"


def test_a_sync_refuses_an_unconfirmed_connection_before_any_write_and_proceeds_once_confirmed(tmp_path,
                                                                                               fresh_sandboxes):
    env, home = fresh_sandboxes.env, tmp_path / "home"
    policy = tmp_path / "policy.yaml"
    policy.write_text("default_winner: huma\napprove_mass_change: true\n")
    writes = _writes(env)
    refused = run_humacrona(["sync", "--policy", str(policy)], env, home)
    line = assert_one_line(refused, f"this connection (Huma {env['HUMA_BASE_URL']}, Crona {env['CRONA_BASE_URL']}) "
                           "has not been confirmed: run `humacrona check --confirm` as the administrator")
    assert _writes(env) == writes, line

    # A dry run only warns, and writes nothing either.
    planned = run_humacrona(["sync", "--policy", str(policy), "--dry-run"], env, home)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "has not been confirmed" in planned.stdout and _writes(env) == writes

    confirmed = run_humacrona(["check", "--confirm", "--by", "Ada Admin"], env, home)
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    synced = run_humacrona(["sync", "--policy", str(policy)], env, home)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert _writes(env) > writes


def test_a_confirmation_names_one_connection_only(tmp_path, sandboxes):
    """Another Huma API key (client id) is another connection: it needs its own confirmation."""
    home = tmp_path / "home"
    assert run_humacrona(["check", "--confirm"], sandboxes.env, home).returncode == 0
    key = sandboxes.huma.create_api_key(["users:read", "positions:read", "groups:read", "job-titles:read"])
    other = {**sandboxes.env, "HUMA_CLIENT_ID": key["clientId"], "HUMA_CLIENT_SECRET": key["clientSecret"]}
    result = run_humacrona(["sync", "--policy", str(POLICY)], other, home)
    assert_one_line(result, "has not been confirmed", secrets=(key["clientSecret"],))
