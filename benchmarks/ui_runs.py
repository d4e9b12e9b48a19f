"""UI-runs benchmark: does a job launched from the Dagster UI take about as long as `humacrona sync`?

    uv run python benchmarks/ui_runs.py --employees 200
    uv run python benchmarks/ui_runs.py --employees 5000

For each of `plan_sync` and `sync_users`, on fresh sandboxes each time (`python -m humacrona_sandbox`,
its own process, restarted between measurements so every measurement does the same work):

- cli: the wall time of the process `humacrona sync --policy P --dry-run` (plan_sync) or `humacrona sync --policy P`
  (sync_users), start-up included, as a user at a terminal sees it;
- ui: the UI's machinery started the way `humacrona dev` starts it (`dagster dev -w workspace.yaml` on a free port
  of 127.0.0.1, a temporary DAGSTER_HOME holding the repo's dagster.yaml: QueuedRunCoordinator, the daemon's
  DefaultRunLauncher), the job submitted the way the Launchpad does (GraphQL launchPipelineExecution, through
  `DagsterGraphQLClient.submit_job_execution`), and timed from the submit to the run's end as the instance records
  it. The queue wait (submit to the run's start) and the run's own start to end are recorded too.

The policy is `policy.demo.yaml` when the repo has one, else `policy.example.yaml` with `approve_mass_change: true`
(what `humacrona demo` uses: the seed touches more employees than the default guard allows). The CLI rounds run
first, before Dagster is started, so the daemon does not load the machine under them. Each measurement is taken
`--rounds` times; `cli_s` and `ui_s` are the best of each (a shared machine only ever adds time), and `ratio` is
ui_s / cli_s, target at most 1.5. The last line printed is one JSON object."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5
JOBS = ("plan_sync", "sync_users")
LOCATION = "humacrona"  # workspace.yaml's location_name
EXTRACT_STEPS = ("huma_users_raw", "crona_employees_raw")
_LOCATION_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def humacrona() -> list[str]:
    exe = Path(sys.executable).parent / "humacrona"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "humacrona_pipeline.cli"]


def load() -> float:
    return round(os.getloadavg()[0], 2)


def say(text: str) -> None:
    print(text, flush=True)


class Child:
    """A child process in its own process group, its output in a log file (never a pipe nobody drains)."""

    def __init__(self, name: str, args: list[str], env: dict, logs: Path, ready: str | None = None,
                 timeout_s: float = 600, stop_signal: int = signal.SIGTERM):
        self.name, self.stop_signal = name, stop_signal
        self.log = logs / f"{name}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        if ready:
            deadline = time.monotonic() + timeout_s
            while ready not in self.output():
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{name} did not start:\n{self.output()[-3000:]}")
                time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, self.stop_signal)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        try:  # what the group left behind (dagster dev's webserver, daemon, code server, run workers)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Sandboxes:
    """Both sandboxes in their own process. Started on free ports the first time, then on the same ports again,
    so the Dagster started once keeps pointing at them."""

    def __init__(self, employees: int, seed: int, logs: Path):
        self.employees, self.seed, self.logs = employees, seed, logs
        self.ports = (0, 0)
        self.env: dict[str, str] = {}
        self.child: Child | None = None
        self.starts = 0

    def fresh(self) -> dict[str, str]:
        self.stop()
        self.starts += 1
        args = [sys.executable, "-m", "humacrona_sandbox", "--employees", str(self.employees),
                "--seed", str(self.seed), "--huma-port", str(self.ports[0]), "--crona-port", str(self.ports[1])]
        self.child = Child(f"sandboxes-{self.starts}", args, {**os.environ, "PYTHONUNBUFFERED": "1"}, self.logs,
                           ready="READY")
        env = {}
        for line in self.child.output().splitlines():
            if re.match(r"^[A-Z][A-Z0-9_]*=", line):
                key, _, value = line.partition("=")
                env[key] = value.strip()
        ports = tuple(int(env[k].rsplit(":", 1)[1].split("/")[0]) for k in ("HUMA_BASE_URL", "CRONA_BASE_URL"))
        if self.env and env != self.env:
            raise RuntimeError(f"the sandboxes came back elsewhere: {env} != {self.env}")
        self.ports, self.env = ports, env
        return env

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


def demo_policy(work: Path) -> Path:
    """policy.demo.yaml when committed; else the example policy with approve_mass_change on (as
    humacrona_sandbox.product.write_demo_policy writes it for the demo)."""
    committed = REPO / "policy.demo.yaml"
    if committed.exists():
        return committed
    policy = yaml.safe_load((REPO / "policy.example.yaml").read_text()) or {}
    policy["approve_mass_change"] = True
    path = work / "policy.demo.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def confirmation_gate() -> bool:
    """Whether this tree has `humacrona check --confirm` (a sync against an unconfirmed connection refuses)."""
    answer = subprocess.run([*humacrona(), "check", "--help"], cwd=REPO, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, check=False)
    return answer.returncode == 0 and "--confirm" in answer.stdout


def confirm(env: dict) -> None:
    answer = subprocess.run([*humacrona(), "check", "--confirm"], cwd=REPO, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, check=False, timeout=300)
    if answer.returncode != 0:
        raise RuntimeError(f"humacrona check --confirm failed:\n{answer.stdout[-2000:]}{answer.stderr[-2000:]}")


# ------------------------------------------------------------------------------------------------ the CLI


def time_cli(job: str, policy: Path, env: dict) -> dict:
    args = [*humacrona(), "sync", "--policy", str(policy)] + (["--dry-run"] if job == "plan_sync" else [])
    started = time.perf_counter()
    answer = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            check=False, timeout=3600)
    seconds = time.perf_counter() - started
    ok = answer.returncode == 0
    if not ok:
        say(f"  humacrona sync ({job}) exited {answer.returncode}:\n{answer.stdout[-2000:]}{answer.stderr[-2000:]}")
    return {"s": round(seconds, 2), "ok": ok}


# ------------------------------------------------------------------------------------------------- the UI


class DagsterUI:
    """`dagster dev` (webserver, daemon, code server), started as `humacrona dev` starts it, and its instance."""

    def __init__(self, env: dict, home: Path, logs: Path):
        from humacrona_sandbox.dev import dagster_command

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.child = Child("dagster-dev", dagster_command(self.port), env, logs, stop_signal=signal.SIGINT)
        try:
            self._wait_loaded()
        except BaseException:
            self.child.stop()
            raise
        from dagster import DagsterInstance
        from dagster._core.instance.ref import InstanceRef
        from dagster_graphql import DagsterGraphQLClient

        os.environ["DAGSTER_HOME"] = str(home)  # dagster.yaml's storage names it
        self.instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=self.port, timeout=60)

    def _wait_loaded(self, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=5) as http:
            while time.monotonic() < deadline:
                if self.child.proc.poll() is not None:
                    raise RuntimeError(f"dagster dev exited:\n{self.child.output()[-3000:]}")
                try:
                    entries = http.post(self.url + "/graphql", json={"query": _LOCATION_QUERY}).json()
                    statuses = {e["name"]: e["loadStatus"]
                                for e in entries["data"]["workspaceOrError"]["locationEntries"]}
                    if statuses.get(LOCATION) == "LOADED":
                        return
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    pass
                time.sleep(0.5)
        raise RuntimeError(f"the code location did not load in {timeout_s} s:\n{self.child.output()[-3000:]}")

    def run(self, job: str, run_config: dict | None = None, timeout_s: float = 3600) -> dict:
        """Submit as the Launchpad does; wait for the run to end; its times from the instance."""
        from dagster import DagsterEventType, DagsterRunStatus

        from humacrona_pipeline.connection.connections import DEFAULT_NAME
        from humacrona_pipeline.defs.partitions import PARTITION_TAG

        submitted = time.time()
        # The Launchpad's Partition field set to the one connection (without it a run syncs none).
        run_id = self.client.submit_job_execution(job, repository_location_name=LOCATION, run_config=run_config,
                                                  tags={PARTITION_TAG: DEFAULT_NAME})
        deadline = time.monotonic() + timeout_s
        while True:
            record = self.instance.get_run_record_by_id(run_id)
            if record is not None and record.dagster_run.is_finished and record.end_time is not None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{job} run {run_id} did not finish within {timeout_s} s")
            time.sleep(0.2)
        status = record.dagster_run.status
        events = {}
        for kind in (DagsterEventType.RUN_DEQUEUED, DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START):
            found = self.instance.get_records_for_run(run_id, of_type=kind, limit=1).records
            if found:
                events[kind.name] = found[0].timestamp
        steps = {s.step_key: s for s in self.instance.get_run_step_stats(run_id)}
        extract = {k: round(steps[k].end_time - steps[k].start_time, 2) for k in EXTRACT_STEPS
                   if k in steps and steps[k].start_time and steps[k].end_time}
        if len(extract) == len(EXTRACT_STEPS):  # both extractions, one after the other or side by side
            first = min(steps[k].start_time for k in EXTRACT_STEPS)
            extract["both"] = round(max(steps[k].end_time for k in EXTRACT_STEPS) - first, 2)
        if status != DagsterRunStatus.SUCCESS:
            say(f"  {job} run {run_id} ended {status.value}:")
            for kind in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE):
                for failed in self.instance.get_records_for_run(run_id, of_type=kind, limit=20).records:
                    entry = failed.event_log_entry
                    say(f"    {entry.step_key or 'run'}: {entry.message[:1000]}")
        return {
            "s": round(record.end_time - submitted, 2),
            "ok": status == DagsterRunStatus.SUCCESS,
            "run_id": run_id,
            "queue_wait_s": round(record.start_time - submitted, 2) if record.start_time else None,
            "run_s": round(record.end_time - record.start_time, 2) if record.start_time else None,
            "dequeued_s": round(events["RUN_DEQUEUED"] - submitted, 2) if "RUN_DEQUEUED" in events else None,
            "launched_s": round(events["RUN_STARTING"] - submitted, 2) if "RUN_STARTING" in events else None,
            "extract_s": extract,
        }

    def stop(self) -> None:
        self.child.stop()


# ------------------------------------------------------------------------------------------------ summary


def summary(cli: list[dict], ui: list[dict]) -> dict:
    cli_s, ui_s = min(r["s"] for r in cli), min(r["s"] for r in ui)
    ratio = round(ui_s / cli_s, 2)
    waits = [r["queue_wait_s"] for r in ui if r["queue_wait_s"] is not None]
    return {
        "cli_s": cli_s, "ui_s": ui_s, "ratio": ratio, "target": TARGET_RATIO,
        "pass": ratio <= TARGET_RATIO,
        "queue_wait_s": min(waits) if waits else None,
        "cli_runs_s": [r["s"] for r in cli], "ui_runs_s": [r["s"] for r in ui],
        "queue_wait_runs_s": [r["queue_wait_s"] for r in ui],
        "ui_run_s": [r["run_s"] for r in ui],
        "ui_launched_s": [r["launched_s"] for r in ui],
        "ui_extract_s": [r["extract_s"] for r in ui],
        "cli_spread_s": round(max(r["s"] for r in cli) - cli_s, 2),
        "ui_spread_s": round(max(r["s"] for r in ui) - ui_s, 2),
        "succeeded": all(r["ok"] for r in cli + ui),
        "load_1min": [r["load"] for r in cli + ui],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=200, help="people seeded (default %(default)s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each (default %(default)s)")
    parser.add_argument("--run-config", type=json.loads, default=None,
                        help="run config (JSON) for the UI's runs, as typed in the Launchpad, e.g. to try an "
                        "executor: '{\"execution\": {\"config\": {\"in_process\": {}}}}'")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="humacrona-ui-runs-"))
    logs = work / "logs"
    logs.mkdir()
    policy = demo_policy(work)
    gate = confirmation_gate()
    sandboxes = Sandboxes(args.employees, args.seed, logs)
    ui: DagsterUI | None = None
    results: dict[str, dict[str, list[dict]]] = {job: {"cli": [], "ui": []} for job in JOBS}

    def instance_env(name: str) -> dict:
        home = work / name
        home.mkdir(exist_ok=True)
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        return {**os.environ, "DAGSTER_HOME": str(home), "HUMACRONA_STATE_URL": f"sqlite:///{home / 'state.sqlite'}",
                "HUMACRONA_POLICY_FILE": str(policy), "PYTHONUNBUFFERED": "1"}

    shown = policy.name if policy.parent == REPO else "policy.example.yaml with approve_mass_change: true"
    say(f"{args.employees} employees, {args.rounds} rounds, policy {shown}"
        f"{', humacrona check --confirm before each sync' if gate else ''}; uptime: {os.getloadavg()}")
    try:
        cli_env = instance_env("cli_home")
        for round_ in range(1, args.rounds + 1):
            for job in JOBS:
                env = {**cli_env, **sandboxes.fresh()}
                if gate and job == "sync_users":
                    confirm(env)
                measured = {**time_cli(job, policy, env), "load": load()}
                results[job]["cli"].append(measured)
                say(f"cli {job:<10} round {round_}: {measured['s']:7.2f} s  "
                    f"ok={measured['ok']}  load {measured['load']}")

        ui_env = instance_env("ui_home")
        ui_env = {**ui_env, **sandboxes.fresh()}  # the ports Dagster keeps pointing at
        started = time.monotonic()
        ui = DagsterUI(ui_env, Path(ui_env["DAGSTER_HOME"]), logs)
        say(f"dagster dev up on {ui.url} in {time.monotonic() - started:.1f} s")
        for round_ in range(1, args.rounds + 1):
            for job in JOBS:
                env = {**ui_env, **sandboxes.fresh()}
                if gate and job == "sync_users":
                    confirm(env)
                measured = {**ui.run(job, args.run_config), "load": load()}
                results[job]["ui"].append(measured)
                say(f"ui  {job:<10} round {round_}: {measured['s']:7.2f} s  ok={measured['ok']}  "
                    f"queue wait {measured['queue_wait_s']} s, run {measured['run_s']} s, "
                    f"extract {measured['extract_s']}, load {measured['load']}")
    finally:
        if ui is not None:
            ui.stop()
        sandboxes.stop()
        keep = os.environ.get("HUMACRONA_KEEP_BENCHMARK_LOGS")
        if keep:
            print(f"logs kept in {logs}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    jobs = {job: summary(r["cli"], r["ui"]) for job, r in results.items()}
    for job, s in jobs.items():
        say(f"{job:<10} cli {s['cli_s']:.2f} s, ui {s['ui_s']:.2f} s (queue wait {s['queue_wait_s']} s): ratio "
            f"{s['ratio']:.2f} (target <= {TARGET_RATIO:g})  {'PASS' if s['pass'] else 'MISS'}")
    result = {"employees": args.employees, "rounds": args.rounds, "jobs": jobs, "ui_run_config": args.run_config,
              "succeeded": all(s["succeeded"] for s in jobs.values()),
              "pass": all(s["pass"] for s in jobs.values()),
              "confirm_gate": gate, "cpus": os.cpu_count(),
              "load_avg": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(result))
    return 0 if result["succeeded"] else 1


if __name__ == "__main__":
    sys.exit(main())
