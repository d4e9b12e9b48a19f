"""`humacrona dev`: both sandboxes, then the Dagster webserver and daemon (`dagster dev`) pointed at them.

A newcomer runs one command on a fresh machine and clicks through the assets and launches jobs in the UI.
The sandboxes run in this process; `humacrona check --confirm` confirms them, and `dagster dev` runs in its own
process group, with the sandbox variables and DAGSTER_HOME in its environment (`product`). Ctrl-C, SIGTERM or
SIGHUP stop everything: the Dagster process group is interrupted the way a terminal's Ctrl-C would (then killed
if it does not finish), then the sandboxes."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .product import (
    DEMO_POLICY,
    POLICY_FILE_ENV,
    STORAGE_KEY_ENV,
    confirm_sandboxes,
    dagster_home,
    product_environment,
    say,
    throwaway_storage_key,
    write_demo_policy,
)
from .runner import RunningSandboxes, SandboxOptions, options_from_args, start_sandboxes
from .runner import add_arguments as add_sandbox_arguments

if TYPE_CHECKING:
    import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"  # names the code location's module: the product, loaded by Dagster
HOST = "127.0.0.1"
DEFAULT_PORT = 3000
LOCATION_NAME = "humacrona"  # workspace.yaml's location_name
STOP_TIMEOUT_S = 30.0  # for `dagster dev` to shut its webserver, daemon and code server down after Ctrl-C
_POLL_S = 0.25

_LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message }
      ... on RepositoryLocation { repositories { name jobs { name } } } } } } } }
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox options (`humacrona sandbox`) plus the Dagster webserver's port."""
    add_sandbox_arguments(parser)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port of the Dagster webserver on 127.0.0.1 (default %(default)s)")


def dagster_command(port: int, host: str = HOST) -> list[str]:
    return [sys.executable, "-m", "dagster", "dev", "-w", str(WORKSPACE_FILE), "-h", host, "-p", str(port)]


def dev_policy(home: Path) -> tuple[str, str]:
    """(the policy file Dagster gets, the line saying which policy that is): the user's HUMACRONA_POLICY_FILE when
    set, else the demo's (`product.write_demo_policy`, under ``home``), so a first sync_users launched from the UI
    plans and writes what `humacrona demo` does instead of stopping at the mass-change guard."""
    own = os.environ.get(POLICY_FILE_ENV)
    if own:
        return own, f"Policy            {own} (from {POLICY_FILE_ENV})"
    path = write_demo_policy(home)
    return str(path), (f"Policy            {DEMO_POLICY}, as in `humacrona demo` ({path}); set {POLICY_FILE_ENV}"
                       " to use your own")


def dagster_environment(sandboxes: RunningSandboxes, home: Path, policy_file: str) -> dict[str, str]:
    """`product.product_environment` for `dagster dev`, without its "use dg dev" notice, which points newcomers at
    a tool this project does not use. Without a storage key of the operator's, a throw-away one for this session's
    sandbox data, so a run from the UI can re-materialise one asset from the stored (encrypted) ones; the next
    session cannot read them (rerun)."""
    warnings = [w for w in (os.environ.get("PYTHONWARNINGS"), _SUPERSEDED_NOTICE) if w]
    storage_key = os.environ.get(STORAGE_KEY_ENV, "").strip() or throwaway_storage_key()
    return {**product_environment(sandboxes.env, home, policy_file), "PYTHONWARNINGS": ",".join(warnings),
            STORAGE_KEY_ENV: storage_key}


_SUPERSEDED_NOTICE = "ignore:Function `dev_command` is superseded"


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _group_members(pgid: int) -> list[int] | None:
    """Live (non-zombie) processes of a process group, read from /proc; None where there is no /proc."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting for a reaper do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    members = _group_members(pgid)
    return True if members is None else bool(members)


class DevServer:
    """The sandboxes and `dagster dev`; `run()` blocks until a signal arrives or Dagster exits."""

    def __init__(self, options: SandboxOptions, port: int = DEFAULT_PORT, host: str = HOST):
        self.options = options
        self.port = port
        self.host = host
        self.signals: list[int] = []
        self.stopping = threading.Event()
        self.sandboxes: RunningSandboxes | None = None
        self.dagster: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _on_signal(self, signum, _frame) -> None:
        self.signals.append(signum)
        self.stopping.set()
        if len(self.signals) > 1 and self.dagster is not None:  # asked twice: do not wait any longer
            self._kill_group(signal.SIGKILL)

    def _kill_group(self, sig: int) -> None:
        try:
            os.killpg(self.dagster.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def run(self) -> int:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            if not _port_free(self.host, self.port):
                say(f"Port {self.port} on {self.host} is in use (another Dagster?); pass --port.")
                return 2
            home = dagster_home()
            say(f"Starting the Huma and Crona Lön sandboxes ({self.options.employees} people, "
                 f"seed {self.options.seed}) ...")
            try:
                self.sandboxes = start_sandboxes(self.options)
            except OSError as error:
                say(f"Could not start the sandboxes: {error} (pass --huma-port/--crona-port, 0 picks free ones).")
                return 2
            self._print_sandboxes()
            policy_file, policy_line = dev_policy(home)
            env = dagster_environment(self.sandboxes, home, policy_file)
            if not self._confirm_sandboxes(env):
                return 2
            if self.stopping.is_set():
                return 0
            say(policy_line)
            say(f"Starting Dagster (dagster dev, workspace {WORKSPACE_FILE.name}, instance {home}) ...")
            if (Path.cwd() / "dagster.yaml").exists() and Path.cwd().resolve() != home:
                say(f"# dagster dev warns that ./dagster.yaml is not used: it is the template; "
                     f"{home} holds the copy in use.")
            self.dagster = subprocess.Popen(dagster_command(self.port, self.host), env=env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
            say(f"# dagster dev pid {self.dagster.pid} (process group {self.dagster.pid})")
            if not self._wait_until_ready():
                return 0 if self.stopping.is_set() else self._exited()
            while not self.stopping.wait(_POLL_S):
                if self.dagster.poll() is not None:
                    return self._exited()
            return 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _exited(self) -> int:
        code = self.dagster.returncode
        say(f"dagster dev exited (code {code}); stopping the sandboxes.")
        return code or 1

    def _print_sandboxes(self) -> None:
        running = self.sandboxes
        if running.seeded is not None:
            say(f"# seeded {len(running.seeded.huma_users)} Huma users, "
                 f"{len(running.seeded.crona_employees)} Crona employees")
        else:
            say(f"# resumed state from {self.options.data_dir}: {running.huma.store.count('users')} Huma users, "
                 f"{running.crona.store.count('employees')} Crona employees")
        say(f"     Huma  sandbox {running.huma_url}")
        say(f"     Crona sandbox {running.crona_url}")
        say("# The environment Dagster runs with "
             "(sandbox credentials are public defaults unless you passed your own):")
        for key, value in running.env.items():
            say(f"{key}={value}")

    def _confirm_sandboxes(self, env: dict[str, str]) -> bool:
        """The sandboxes are ours to connect: confirm them (`humacrona check --confirm`, after their checks), so
        that sync_users and the real-time push may write to them from the UI. False (said) when it failed."""
        if not confirm_sandboxes(env, "humacrona dev"):
            return False
        say("# connection confirmed for the sandboxes (humacrona check --confirm)")
        return True

    def _wait_until_ready(self) -> bool:
        """Until the webserver answers and the code location has loaded (or failed to); False when stopped or
        when Dagster exited first."""
        import httpx

        announced = False
        with httpx.Client(timeout=5) as client:
            while not self.stopping.is_set():
                if self.dagster.poll() is not None:
                    return False
                try:
                    if not announced:
                        client.get(self.url + "/server_info").raise_for_status()
                        say(f"Dagster UI        {self.url}  (loading the code location ...)")
                        announced = True
                    entry = self._location(client)
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    entry = None
                if entry is not None and entry.get("loadStatus") == "LOADED":
                    self._print_location(entry)
                    return True
                self.stopping.wait(_POLL_S * 2)
        return False

    def _location(self, client: httpx.Client) -> dict | None:
        answer = client.post(self.url + "/graphql", json={"query": _LOCATION_QUERY}).json()
        for entry in answer["data"]["workspaceOrError"]["locationEntries"]:
            if entry["name"] == LOCATION_NAME:
                return entry
        return None

    def _print_location(self, entry: dict) -> None:
        loaded = entry["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            say(f"The code location {LOCATION_NAME} failed to load: {loaded.get('message', '').strip()}")
            say(f"Fix it and reload it from {self.url}/locations; Ctrl-C stops everything.")
            return
        jobs = sorted(job["name"] for repo in loaded.get("repositories", []) for job in repo["jobs"]
                      if not job["name"].startswith("__"))
        base = f"{self.url}/locations/{LOCATION_NAME}"
        say(f"Assets            {self.url}/assets")
        say(f"Jobs              {', '.join(jobs)}")
        for job in jobs:
            say(f"Launchpad         {base}/jobs/{job}/playground")
        say(f"Runs              {self.url}/runs")
        say("READY  (Ctrl-C stops Dagster and the sandboxes)")

    def stop(self) -> None:
        """Interrupt the Dagster process group as Ctrl-C in a terminal would, kill what is left, stop the sandboxes."""
        self.stopping.set()
        if self.dagster is not None:
            say("Stopping Dagster ...")
            pgid = self.dagster.pid
            if self.dagster.poll() is None:
                self._kill_group(signal.SIGINT)
                try:
                    self.dagster.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    say(f"dagster dev did not stop within {STOP_TIMEOUT_S:.0f} s; killing its process group.")
            deadline = time.monotonic() + 5
            while group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if group_alive(pgid):
                self._kill_group(signal.SIGKILL)
            self.dagster.wait()
            self.dagster = None
        if self.sandboxes is not None:
            say("Stopping the sandboxes ...")
            self.sandboxes.stop()
            self.sandboxes = None
            say("Stopped.")


def run_dev(args: argparse.Namespace) -> int:
    return DevServer(options_from_args(args), port=args.port).run()
