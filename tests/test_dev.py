"""`humacrona dev` as a newcomer runs it: the sandboxes and the Dagster UI on them, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import httpx

from humacrona_pipeline.core.policy import load_policy
from humacrona_pipeline.defs.policy import POLICY_FILE_ENV, SyncPolicy
from humacrona_pipeline.defs.storage import STORAGE_KEY_ENV
from humacrona_sandbox.dev import dagster_environment, dev_policy
from humacrona_sandbox.product import DEMO_POLICY
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes

REPO = Path(__file__).resolve().parent.parent

STARTUP_TIMEOUT_S = 120
STOP_TIMEOUT_S = 90

REPOSITORIES = """
{ repositoriesOrError { __typename ... on RepositoryConnection { nodes { name location { name } jobs { name } } } } }
"""


def demo_policy():
    """What the demo applies: policy.example.yaml with approve_mass_change on (the pipeline's reading of it)."""
    return replace(SyncPolicy.from_file(REPO / "policy.example.yaml").policy(), approve_mass_change=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes() -> dict[int, tuple[str, int, int]]:
    """Every process that is not a zombie: pid -> (state, ppid, pgid), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid, pgid = stat[stat.rindex(")") + 2:].split()[:3]
        if state not in ("Z", "X"):
            table[int(entry.name)] = (state, int(ppid), int(pgid))
    return table


def _descendants(pid: int) -> set[int]:
    table = _processes()
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, (_, ppid, _) in table.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


def _jobs(url: str) -> list[str]:
    answer = httpx.post(url + "/graphql", json={"query": REPOSITORIES}, timeout=10).json()
    nodes = answer["data"]["repositoriesOrError"].get("nodes", [])
    return [job["name"] for node in nodes if node["location"]["name"] == "humacrona" for job in node["jobs"]]


def test_dev_serves_the_dagster_ui_on_the_sandboxes_and_sigterm_stops_everything(tmp_path):
    exe = shutil.which("humacrona")
    assert exe, "the `humacrona` console script is not installed (pyproject [project.scripts])"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "dev.log"
    env = {**{k: v for k, v in os.environ.items() if k != POLICY_FILE_ENV}, "DAGSTER_HOME": str(tmp_path / "home")}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [exe, "dev", "--employees", "12", "--seed", "3", "--huma-port", "0", "--crona-port", "0",
             "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            start_new_session=True,
        )

    def output() -> str:
        return log_path.read_text(errors="replace")

    groups: set[int] = {proc.pid}
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        jobs: list[str] = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"humacrona dev exited with {proc.returncode}:\n{output()}"
            try:
                if httpx.get(url + "/server_info", timeout=5).status_code == 200:
                    jobs = _jobs(url)
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
            if "plan_sync" in jobs and "READY" in output():
                break
            time.sleep(1)
        else:
            raise AssertionError(f"no plan_sync in {url} within {STARTUP_TIMEOUT_S} s (jobs {jobs}):\n{output()}")

        assert {"plan_sync", "extract_employees"} <= set(jobs), jobs
        out = output()
        assert f"Dagster UI        {url}" in out
        assert f"{url}/locations/humacrona/jobs/plan_sync/playground" in out
        sandbox_env = dict(re.findall(r"^((?:HUMA|CRONA)_[A-Z_]+)=(\S+)$", out, flags=re.M))
        assert set(sandbox_env) == {"HUMA_BASE_URL", "HUMA_CLIENT_ID", "HUMA_CLIENT_SECRET", "CRONA_BASE_URL",
                                    "CRONA_ACTIVATION_CODE"}, out
        token = httpx.post(sandbox_env["CRONA_BASE_URL"] + "/api/v1/auth/token",
                           json={"aktiveringskod": sandbox_env["CRONA_ACTIVATION_CODE"]}, timeout=10)
        assert token.status_code == 200, token.text
        sandbox_ports = [int(sandbox_env[k].rsplit(":", 1)[1]) for k in ("HUMA_BASE_URL", "CRONA_BASE_URL")]

        pids = _descendants(proc.pid)
        table = _processes()
        groups |= {table[p][2] for p in pids if p in table}
        assert len(groups) == 2, "dagster dev runs in a process group of its own"
        # Dagster runs with the sandboxes' variables and the DAGSTER_HOME it was given.
        dagster_dev = next(p for p in pids if table.get(p, ("", 0, 0))[2] == p)
        environ = dict(item.split("=", 1) for item in
                       (Path(f"/proc/{dagster_dev}/environ").read_bytes().decode().split("\0")) if "=" in item)
        assert {k: environ.get(k) for k in sandbox_env} == sandbox_env
        assert environ["DAGSTER_HOME"] == str(tmp_path / "home")
        # ... and the demo's policy, so a first sync_users launched from the UI does what the demo's does.
        assert SyncPolicy.from_file(environ[POLICY_FILE_ENV]).policy() == demo_policy()
        assert f"Policy            {DEMO_POLICY}" in out, out

        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT_S)
    finally:
        # What outlived humacrona dev is recorded first, then killed so a failed test leaves nothing running.
        alive = _processes()
        left_in_groups = {p for p, (_, _, pgid) in alive.items() if pgid in groups}
        left_started = pids & set(alive)
        if proc.poll() is None or left_in_groups or left_started:
            for group in groups:
                try:
                    os.killpg(group, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            proc.wait(timeout=30)

    assert proc.returncode == 0, output()
    assert "Stopped." in output()
    assert not left_in_groups, f"processes of humacrona dev's process groups outlived it: {left_in_groups}"
    assert not left_started, f"processes started by humacrona dev outlived it: {left_started}"
    for listening in (port, *sandbox_ports):
        assert not _listening(listening), f"port {listening} still listens"


def test_dev_gives_dagster_the_demos_policy_unless_the_user_names_one(tmp_path, monkeypatch):
    monkeypatch.delenv(POLICY_FILE_ENV, raising=False)
    with start_sandboxes(SandboxOptions(employees=3, seed=1, huma_port=0, crona_port=0)) as sandboxes:
        policy_file, said = dev_policy(tmp_path)
        env = dagster_environment(sandboxes, tmp_path, policy_file)
        assert SyncPolicy.from_file(env[POLICY_FILE_ENV]).policy() == demo_policy()
        # approve_mass_change is what lets a first sync pass the guard; the example itself keeps it off.
        assert demo_policy().approve_mass_change and not load_policy(REPO / "policy.example.yaml").approve_mass_change
        assert DEMO_POLICY in said and env[POLICY_FILE_ENV] in said
        assert Path(env[POLICY_FILE_ENV]).stat().st_mode & 0o777 == 0o600
        # Dagster's stored outputs are encrypted: with the operator's key, else one for this session only.
        assert env[STORAGE_KEY_ENV] and env["DAGSTER_HOME"] == str(tmp_path)
        monkeypatch.setenv(STORAGE_KEY_ENV, "the-operators-own-key")
        assert dagster_environment(sandboxes, tmp_path, policy_file)[STORAGE_KEY_ENV] == "the-operators-own-key"
        assert {k: env[k] for k in sandboxes.env} == sandboxes.env

        own = tmp_path / "mine.yaml"
        own.write_text("default_winner: crona\n")
        monkeypatch.setenv(POLICY_FILE_ENV, str(own))
        policy_file, said = dev_policy(tmp_path)
        assert dagster_environment(sandboxes, tmp_path, policy_file)[POLICY_FILE_ENV] == str(own)
        assert str(own) in said and DEMO_POLICY not in said
