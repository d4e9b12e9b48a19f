"""The `humacrona` command as a user runs it: sandbox serving (with persistence) and sync (the demo: test_demo.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from humacrona_sandbox.seed import generate

REPO_ROOT = Path(__file__).resolve().parent.parent


def _humacrona() -> list[str]:
    exe = shutil.which("humacrona")
    assert exe, "the `humacrona` console script is not installed (pyproject [project.scripts])"
    return [exe]


class SandboxProcess:
    """`humacrona sandbox` in a subprocess; parses the environment lines it prints."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [*_humacrona(), "sandbox", "--huma-port", "0", "--crona-port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.env: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            line = line.rstrip("\n")
            self.lines.append(line)
            if line == "READY":
                return
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                self.env[key] = value
        self.stop()
        raise AssertionError("sandbox did not print READY:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _huma_token(env: dict) -> str:
    r = httpx.post(
        env["HUMA_BASE_URL"] + "/auth/oauth/token",
        data={"grant_type": "client_credentials", "client_id": env["HUMA_CLIENT_ID"],
              "client_secret": env["HUMA_CLIENT_SECRET"]},
    )
    r.raise_for_status()
    return r.json()["access_token"]


def _crona_token(env: dict) -> str:
    r = httpx.post(env["CRONA_BASE_URL"] + "/api/v1/auth/token", json={"aktiveringskod": env["CRONA_ACTIVATION_CODE"]})
    r.raise_for_status()
    return r.json()["access_token"]


def test_sandbox_prints_the_environment_that_points_the_pipeline_at_it():
    sandbox = SandboxProcess("--employees", "12", "--seed", "3")
    try:
        assert set(sandbox.env) == {
            "HUMA_BASE_URL", "HUMA_CLIENT_ID", "HUMA_CLIENT_SECRET", "CRONA_BASE_URL", "CRONA_ACTIVATION_CODE"
        }
        assert sandbox.env["HUMA_BASE_URL"].startswith("http://127.0.0.1:")
        seeded = generate(12, seed=3)
        token = _huma_token(sandbox.env)
        users = httpx.get(sandbox.env["HUMA_BASE_URL"] + "/users", params={"limit": 50},
                          headers={"Authorization": f"Bearer {token}"}).json()
        assert users["total"] == len(seeded.huma_users)
        token = _crona_token(sandbox.env)
        page = httpx.get(sandbox.env["CRONA_BASE_URL"] + "/api/v1/anstallda", params={"antal": 200},
                         headers={"Authorization": f"Bearer {token}"}).json()
        assert page["totalt"] == len(seeded.crona_employees)
    finally:
        assert sandbox.stop() == 0


def test_sandbox_custom_credentials_are_enforced():
    sandbox = SandboxProcess("--employees", "3", "--huma-client-id", "11111111-1111-4111-8111-111111111111",
                             "--huma-client-secret", "22222222-2222-4222-8222-222222222222",
                             "--crona-activation-code", "MY-OWN-CODE")
    try:
        assert sandbox.env["CRONA_ACTIVATION_CODE"] == "MY-OWN-CODE"
        _huma_token(sandbox.env)
        _crona_token(sandbox.env)
        wrong = httpx.post(sandbox.env["CRONA_BASE_URL"] + "/api/v1/auth/token",
                           json={"aktiveringskod": "CRONA-SANDBOX-7K4M-2Q9X"})
        assert wrong.status_code == 401
    finally:
        sandbox.stop()


def test_sandbox_state_persists_across_restarts_with_a_data_dir(tmp_path):
    data_dir = tmp_path / "state"
    first = SandboxProcess("--employees", "10", "--data-dir", str(data_dir))
    try:
        env = first.env
        token = _crona_token(env)
        headers = {"Authorization": f"Bearer {token}"}
        employees = httpx.get(env["CRONA_BASE_URL"] + "/api/v1/anstallda", params={"antal": 200},
                              headers=headers).json()
        anstnr = employees["anstallda"][0]["AnstNr"]
        r = httpx.patch(f"{env['CRONA_BASE_URL']}/api/v1/anstallda/{anstnr}", json={"Befattning": "Persisted title"},
                        headers=headers)
        assert r.status_code == 200, r.text
    finally:
        first.stop()

    second = SandboxProcess("--employees", "999", "--data-dir", str(data_dir))  # --employees ignored: state exists
    try:
        assert any(line.startswith("# resumed state") for line in second.lines), second.lines
        env = second.env
        headers = {"Authorization": f"Bearer {_crona_token(env)}"}
        again = httpx.get(env["CRONA_BASE_URL"] + "/api/v1/anstallda", params={"antal": 200}, headers=headers).json()
        assert again["totalt"] == employees["totalt"]
        one = httpx.get(f"{env['CRONA_BASE_URL']}/api/v1/anstallda/{anstnr}", headers=headers).json()
        assert one["Befattning"] == "Persisted title"
    finally:
        second.stop()


def test_sandbox_on_a_port_in_use_is_one_line_and_exit_code_2():
    """`humacrona sandbox` comes from the development package (humacrona_sandbox.commands) and keeps the CLI's
    manners: a misconfiguration is one line on stderr, exit code 2."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([*_humacrona(), "sandbox", "--employees", "3", "--huma-port", str(port),
                                 "--crona-port", "0"], capture_output=True, text=True, timeout=120,
                                stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("humacrona sandbox: ") and "Traceback" not in result.stderr, result.stderr


def test_sync_refuses_a_misspelt_policy_before_touching_anything(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("default_winer: huma\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "HUMA_BASE_URL": "http://127.0.0.1:9",
           "CRONA_BASE_URL": "http://127.0.0.1:9"}
    result = subprocess.run([*_humacrona(), "sync", "--policy", str(policy)], capture_output=True, text=True,
                            timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown policy option(s) default_winer" in result.stderr  # errors go to stderr


def test_sync_dry_run_plans_against_a_running_sandbox_and_writes_nothing(tmp_path):
    sandbox = SandboxProcess("--employees", "20", "--seed", "4")
    try:
        policy = tmp_path / "policy.yaml"
        policy.write_text("default_winner: huma\napprove_mass_change: true\n")
        env = {**os.environ, **sandbox.env, "DAGSTER_HOME": str(tmp_path / "home")}
        result = subprocess.run([*_humacrona(), "sync", "--policy", str(policy), "--dry-run"],
                                capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Plan operations" in result.stdout and "update" in result.stdout
        stats = httpx.get(sandbox.env["CRONA_BASE_URL"] + "/_sandbox/stats").json()["requests"]
        assert not [route for route in stats if route.startswith(("PATCH", "POST /api/v1/anstallda"))]
    finally:
        sandbox.stop()


def test_sync_plan_applies_the_dry_run_it_printed(tmp_path, monkeypatch, capsys):
    """`humacrona sync --dry-run` prints the command that applies exactly that plan; running it does so."""
    from humacrona_pipeline.cli import main
    from humacrona_pipeline.connection.check import confirm_connection
    from humacrona_sandbox.runner import SandboxOptions, start_sandboxes

    policy = tmp_path / "policy.yaml"
    policy.write_text("default_winner: huma\napprove_mass_change: true\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HUMACRONA_STATE_URL", raising=False)
    with start_sandboxes(SandboxOptions(employees=20, seed=4, huma_port=0, crona_port=0)) as running:
        for name, value in running.env.items():
            monkeypatch.setenv(name, value)
        assert main(["sync", "--policy", str(policy), "--dry-run"]) == 0
        printed = capsys.readouterr().out
        (command,) = [line for line in printed.splitlines() if "To apply it" in line]
        run_id = command.split("--plan ")[1].split()[0]
        confirm_connection(running.env, "pytest")
        assert main(["sync", "--policy", str(policy), "--plan", run_id]) == 0
        out = capsys.readouterr().out
        assert f"applying the plan reviewed in run {run_id}" in out and "updated" in out

        assert main(["sync", "--policy", str(policy), "--plan", run_id, "--dry-run"]) == 2
        assert "give one of them" in capsys.readouterr().err
        assert main(["sync", "--policy", str(policy), "--plan", "0000-gone"]) == 1
        err = capsys.readouterr().err
        assert "no plan is kept for run 0000-gone" in err and "Traceback" not in err
        with pytest.raises(SystemExit):
            main(["sync", "--policy", str(policy), "--plan", "../etc; rm"])
        assert "not a run id" in capsys.readouterr().err


def test_sync_detailed_exitcode_tells_a_script_whether_anything_was_left_to_write(tmp_path, monkeypatch, capsys):
    """`--detailed-exitcode`, as `terraform plan -detailed-exitcode`: 3 when a dry run plans writes or a sync sends
    some (not when every planned write drifted), 0 once there is nothing left to write; without it a successful
    sync exits 0."""
    from humacrona_pipeline.cli import main
    from humacrona_pipeline.connection.check import confirm_connection
    from humacrona_sandbox.runner import SandboxOptions, start_sandboxes

    policy = tmp_path / "policy.yaml"
    policy.write_text("default_winner: huma\napprove_mass_change: true\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HUMACRONA_STATE_URL", raising=False)
    with start_sandboxes(SandboxOptions(employees=20, seed=4, huma_port=0, crona_port=0)) as running:
        for name, value in running.env.items():
            monkeypatch.setenv(name, value)
        confirm_connection(running.env, "pytest")
        sync = ["sync", "--policy", str(policy), "--detailed-exitcode"]
        assert main([*sync, "--dry-run"]) == 3
        out = capsys.readouterr().out
        assert "Plan operations" in out
        # Applying that plan once every employee changed since (drifted) sends nothing: 0.
        (command,) = [line for line in out.splitlines() if "To apply it" in line]
        _change_everyone(running)
        assert main([*sync, "--plan", command.split("--plan ")[1].split()[0]]) == 0
        out = capsys.readouterr().out
        assert "drifted" in out and "updated" not in out and "created" not in out, out
        assert main(sync) == 3
        assert "updated" in capsys.readouterr().out
        assert main(sync) == 0
        assert "Huma             nothing to write" in capsys.readouterr().out
        assert main([*sync, "--dry-run"]) == 0
        assert "nothing to write" in capsys.readouterr().out
        assert main(sync[:3]) == 0


def _change_everyone(sandboxes) -> None:
    """Every employee changed in both systems, as people might between the review of a plan and its apply."""
    from humacrona_pipeline.connectors import crona as crona_api
    from humacrona_pipeline.connectors import huma as huma_api
    from humacrona_pipeline.connectors.crona import CronaClient
    from humacrona_pipeline.connectors.huma import HumaClient
    from humacrona_pipeline.core.fields import CRONA, HUMA, RECORD_ID_COLUMN
    from tests.defs.sync_testkit import read_both

    huma_rows, crona_rows = read_both(sandboxes)
    env = sandboxes.env
    huma = HumaClient(env["HUMA_BASE_URL"], env["HUMA_CLIENT_ID"], env["HUMA_CLIENT_SECRET"])
    crona = CronaClient(env["CRONA_BASE_URL"], env["CRONA_ACTIVATION_CODE"])

    async def go():
        async with huma, crona:
            for user_id in huma_rows[RECORD_ID_COLUMN[HUMA]]:
                await huma.patch_user(user_id, huma_api.user_details_body({"family_name": "Efterhand-Ändrad"}, None))
            for anstnr in crona_rows[RECORD_ID_COLUMN[CRONA]]:
                await crona.patch_employee(anstnr, crona_api.patch_body({"job_title": "Ändrad i Crona"}))

    asyncio.run(go())


def test_only_writes_sent_count_as_made():
    """What `sync --detailed-exitcode` counts: applied, unverified and failed writes were sent; drifted ones (also
    those the last check before a write caught) and skipped ones (held, or after a failed create) were not."""
    import pandas as pd

    from humacrona_pipeline.core.outcomes import APPLIED, DRIFTED, FAILED, SKIPPED, UNVERIFIED
    from humacrona_pipeline.core.plan import CREATE, HELD, UPDATE
    from humacrona_pipeline.launch import sent_writes

    rows = [(UPDATE, APPLIED), (UPDATE, UNVERIFIED), (CREATE, FAILED), (UPDATE, SKIPPED), (HELD, SKIPPED),
            (UPDATE, DRIFTED), (CREATE, DRIFTED)]
    outcomes = pd.DataFrame(rows, columns=["action", "status"])
    assert sent_writes(outcomes) == 3
    assert sent_writes(outcomes[outcomes["status"].isin([DRIFTED, SKIPPED])]) == 0
