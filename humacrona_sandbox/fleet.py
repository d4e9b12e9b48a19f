"""Several connections on sandboxes, synced through the Dagster daemon: the harness of the backfill test
(tests/deploy/test_backfill_connections.py) and of benchmarks/connections.py.

A fleet is N connections named c01, c02, ...; each has a Huma sandbox and a Crona Lön sandbox of its own, seeded
from its own seed with work addresses on its own domain (c01.nordljus.se, ...), so no employee is in two
connections and a ledger row names the connection it belongs to by its address alone. Each Huma sandbox is a whole
organisation (the integrator's case): the seed gives one company per organisation, and one organisation with a
company per connection (the group's case) would need seeds that share its unique employment ids and phone
numbers, while each seed numbers its people from 1001 and draws phones alone. Each connection's Crona Lön
sandbox has its own Aktiveringskod, in a variable of its own (CRONA_ACTIVATION_CODE_C01, ...), and its own Huma
address variable (HUMA_BASE_URL_C01, ...); the connections file names those variables, as a deployment's does.

Started in this process (`Fleet`) or in a process of their own (`python -m humacrona_sandbox.fleet`, which prints
one JSON line describing the connections, then READY), so a benchmark's sandboxes do not share its interpreter.

Dagster itself runs in processes this module starts (it never imports humacrona_pipeline): `dagster-daemon run`
(`Daemon`) and `dagster job backfill` (`launch_backfill`). `backfill_runs` (which needs dagster, the root
project, installed) reads the runs of a backfill from the instance. Each connection is confirmed on its own, under
its name: `Member.single_env` is it as today's five variables, for `connection.check.confirm_connection(..., name=)`
(or `humacrona check --confirm --connection <name>` with the connections file)."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from .runner import RunningSandboxes, SandboxOptions, start_sandboxes

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
LOCATION = "humacrona"  # workspace.yaml's location_name
CONNECTIONS_FILE_ENV = "HUMACRONA_CONNECTIONS_FILE"
POLICY_FILE_ENV = "HUMACRONA_POLICY_FILE"
DEFAULT_VARIABLES = ("HUMA_BASE_URL", "HUMA_CLIENT_ID", "HUMA_CLIENT_SECRET", "CRONA_BASE_URL",
                     "CRONA_ACTIVATION_CODE")
BACKFILL_TAG = "dagster/backfill"
PARTITION_TAG = "dagster/partition"
READY = "READY"
# The sync writes: Huma wins, gaps are filled, every one-sided employee is created on the other side, and the
# first sync's mass change is approved (a seed differs in far more employees than the default guard allows).
FLEET_POLICY = {"default_winner": "huma", "missing_values": "fill", "create_in_huma": "all",
                "create_in_crona": "all", "approve_mass_change": True, "max_creates": 100_000}


def connection_name(index: int) -> str:
    return f"c{index + 1:02d}"


@dataclass(frozen=True)
class Member:
    """One connection of the fleet: its sandboxes' addresses and credentials (sandbox values, no real secret)."""

    name: str
    seed: int
    employees: int
    huma_url: str
    crona_url: str
    huma_client_id: str
    huma_client_secret: str
    activation_code: str

    @property
    def email_domain(self) -> str:
        return f"{self.name}.nordljus.se"

    @property
    def huma_url_env(self) -> str:
        return f"HUMA_BASE_URL_{self.name.upper()}"

    @property
    def activation_code_env(self) -> str:
        return f"CRONA_ACTIVATION_CODE_{self.name.upper()}"

    def variables(self) -> dict[str, str]:
        """The variables the connections file names for this connection."""
        return {self.huma_url_env: self.huma_url, self.activation_code_env: self.activation_code}

    def single_env(self) -> dict[str, str]:
        """This connection as today's five variables: what `humacrona check --confirm` checks and confirms."""
        return dict(zip(DEFAULT_VARIABLES, (self.huma_url, self.huma_client_id, self.huma_client_secret,
                                            self.crona_url, self.activation_code)))

    def entry(self, policy: Path) -> dict:
        """Its connection in the connections file: the whole Huma organisation of its own sandbox."""
        return {"name": self.name, "huma": {"base_url_env": self.huma_url_env},
                "crona": {"base_url": self.crona_url, "activation_code_env": self.activation_code_env},
                "policy": str(policy), "report_to": f"lon@{self.email_domain}"}


def member_options(index: int, employees: int, seed: int, latency_ms: float = 0.0) -> SandboxOptions:
    """A connection's sandboxes; ``latency_ms`` added to each answer (the network and server time of a real API,
    waited without using the CPU)."""
    name = connection_name(index)
    return SandboxOptions(employees=employees, seed=seed + index, huma_port=0, crona_port=0, latency_ms=latency_ms,
                          crona_activation_code=f"CRONA-FLEET-{name.upper()}-{seed + index}",
                          email_domain=f"{name}.nordljus.se")


def _member(index: int, running: RunningSandboxes) -> Member:
    o = running.options
    return Member(connection_name(index), o.seed, o.employees, running.huma_url, running.crona_url,
                  o.huma_client_id, o.huma_client_secret, o.crona_activation_code)


class Fleet:
    """N connections' sandboxes served by this process (threads), indexes ``first`` .. ``first + count - 1``."""

    def __init__(self, count: int, employees: int, seed: int = 42, first: int = 0, latency_ms: float = 0.0):
        self.sandboxes: dict[str, RunningSandboxes] = {}
        self.members: list[Member] = []
        try:
            for index in range(first, first + count):
                running = start_sandboxes(member_options(index, employees, seed, latency_ms))
                member = _member(index, running)
                self.sandboxes[member.name] = running
                self.members.append(member)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for running in self.sandboxes.values():
            running.stop()
        self.sandboxes.clear()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------------------------- files and variables


def write_policy(path: Path, **changes) -> Path:
    path.write_text(yaml.safe_dump({**FLEET_POLICY, **changes}, sort_keys=False), encoding="utf-8")
    return path


def write_connections_file(members: Sequence[Member], path: Path, policy: Path) -> Path:
    path.write_text(yaml.safe_dump({"connections": [m.entry(policy) for m in members]}, sort_keys=False),
                    encoding="utf-8")
    return path


def fleet_environment(members: Sequence[Member], connections_file: Path, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with every connection's variables and the connections file: what the daemon, its code server and
    every run it launches read. The shared Huma API key is the fleet's (every sandbox accepts the same)."""
    env = {k: v for k, v in base.items() if k not in DEFAULT_VARIABLES and k != POLICY_FILE_ENV}
    for member in members:
        env.update(member.variables())
    env.update(HUMA_CLIENT_ID=members[0].huma_client_id, HUMA_CLIENT_SECRET=members[0].huma_client_secret)
    env[CONNECTIONS_FILE_ENV] = str(connections_file)
    return env


# ------------------------------------------------------------------------------------------- the commands


def _bin(name: str) -> str:
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else name


class Child:
    """A process in a session of its own, its output in a log file (never a pipe nobody drains)."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log: Path):
        self.name, self.log = name, log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(args, env=dict(env), cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while text not in (out := self.output()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not print {text!r}:\n{out[-3000:]}")
            time.sleep(0.1)
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30) -> None:
        """``sig`` to the process group (as a terminal's Ctrl-C reaches every process of it), then SIGKILL to
        whatever of the group is left after ``timeout_s``."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


class Daemon(Child):
    """`dagster-daemon run` on the workspace: it loads the code location (its own gRPC server process), takes
    queued runs off the queue under the instance's limits and launches each in a process of its own. Stopped
    with SIGINT, as Ctrl-C stops it."""

    def __init__(self, env: Mapping[str, str], logs: Path, workspace: Path = WORKSPACE_FILE):
        super().__init__("dagster-daemon", [_bin("dagster-daemon"), "run", "-w", str(workspace)], env,
                         logs / "dagster-daemon.log")

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 60) -> None:
        super().stop(sig, timeout_s)


def launch_backfill(job: str, env: Mapping[str, str], logs: Path, workspace: Path = WORKSPACE_FILE,
                    partitions: Sequence[str] | None = None) -> str:
    """`dagster job backfill` of every partition of ``job`` (or ``partitions``): one run per partition, submitted to
    the instance's queue, where the daemon starts them under the run limits. Answers the backfill's id."""
    which = ["--partitions", ",".join(partitions)] if partitions else ["--all", "TRUE"]
    args = [_bin("dagster"), "job", "backfill", "-w", str(workspace), "-l", LOCATION, "-j", job, *which,
            "--noprompt"]
    answer = subprocess.run(args, env=dict(env), cwd=PROJECT_ROOT, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=600, check=False)
    (logs / f"backfill-{job}.log").write_text(answer.stdout + answer.stderr)
    found = re.search(r"Launched backfill job `([^`]+)`", answer.stdout)
    if answer.returncode != 0 or not found:
        raise RuntimeError(f"dagster job backfill failed (exit {answer.returncode}):\n"
                           f"{answer.stdout[-3000:]}{answer.stderr[-3000:]}")
    return found.group(1)


def backfill_runs(instance, backfill_id: str, expected: int, timeout_s: float, daemon: Child | None = None) -> list:
    """The runs of a backfill once all ``expected`` of them finished (a `DagsterInstance`'s records, oldest
    first). Raises TimeoutError when they do not finish in time, RuntimeError when the daemon died."""
    import dagster as dg  # the root project's: this function reads its instance

    deadline = time.monotonic() + timeout_s
    while True:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
        if len(runs) >= expected and all(r.is_finished for r in runs):
            return sorted(runs, key=lambda r: r.tags.get(PARTITION_TAG, ""))
        if daemon is not None and daemon.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited ({daemon.proc.returncode}):\n{daemon.output()[-3000:]}")
        if time.monotonic() > deadline:
            states = {r.tags.get(PARTITION_TAG): r.status.value for r in runs}
            raise TimeoutError(f"the backfill's runs did not finish within {timeout_s} s: {states}")
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------- its own process


def main(argv: list[str] | None = None) -> None:
    """Serve a fleet until SIGINT/SIGTERM: one JSON line (the connections), then READY."""
    parser = argparse.ArgumentParser(prog="python -m humacrona_sandbox.fleet",
                                     description="Serve the sandboxes of several connections on 127.0.0.1.")
    parser.add_argument("--connections", type=int, required=True, help="how many connections")
    parser.add_argument("--employees", type=int, default=200, help="people seeded per connection")
    parser.add_argument("--seed", type=int, default=42, help="the first connection's seed (the next: +1, ...)")
    parser.add_argument("--first", type=int, default=0, help="index of the first connection served here")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer (default none)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Fleet(args.connections, args.employees, args.seed, args.first, args.latency_ms) as fleet:
        print(json.dumps([asdict(m) for m in fleet.members]), flush=True)
        print(READY, flush=True)
        stop.wait()


def members_from_output(output: str) -> list[Member]:
    """The connections a `main` process printed."""
    line = next(line for line in output.splitlines() if line.startswith("["))
    return [Member(**m) for m in json.loads(line)]


if __name__ == "__main__":
    main()
