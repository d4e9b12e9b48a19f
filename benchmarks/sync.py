"""A full first sync at scale, through Dagster: where the time and the memory go.

    uv run python benchmarks/sync.py --employees 20000

Starts both sandboxes in their own process (`python -m humacrona_sandbox`, free ports of 127.0.0.1),
confirms their connection as `humacrona check --confirm` does, and runs the job `sync_users` (extract → plan →
write-back → verify → report) in this process with `launch.run_job` on a temporary DAGSTER_HOME (the repo's
dagster.yaml), the resources pointed at the sandboxes as the tests do (`tests/defs/sync_testkit.py`), and the
policy of a first sync: Huma wins, gaps filled, creates both ways, the mass change approved.

Prints the wall time, the time of each step (from the run's STEP_START / STEP_SUCCESS events) and of each stage
(extract, plan, write-back, report), the peak RSS of this process (`resource.getrusage`; the sandboxes are
another process) and the highest RSS seen during each step (sampled), the number of operations by target and
status, and the write-back's throughput against a bare httpx loop at the same size: the requests the two
write-back steps sent (recorded at the transport) replayed as `benchmarks/writeback.py` does, against a fresh
sandbox process of the same seed, read once beforehand (untimed) as the run's extraction read its own.
`writeback_ratio` is bare_s / writeback_s, writeback_s the two write-back steps' time (STEP_START to
STEP_SUCCESS: ledger, verification and the step's metadata included). `--repeat` runs it all again on fresh sandboxes
and reports medians and the spread. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import writeback as wb  # noqa: E402  (found through the sys.path above)
from extract import start_sandboxes  # noqa: E402

POLICY = {"default_winner": "huma", "missing_values": "fill", "create_in_huma": "all", "create_in_crona": "all",
          "approve_mass_change": True}
# Each step (an asset, or an asset check named `<asset>_<check>`) belongs to the stage of its asset.
STAGES = {"extract": ("huma_users_raw", "crona_employees_raw", "huma_employees", "crona_employees"),
          "plan": ("interrupted_writes", "employee_matches", "employee_conflicts", "sync_plan"),
          "writeback": ("huma_writeback", "crona_writeback"), "report": ("sync_report",)}
RSS_TARGET_GIB = 1.5


class RssSampler:
    """The resident set size of this process every `interval_s`, with the time it was read."""

    def __init__(self, interval_s: float = 0.2):
        self.interval_s = interval_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.rss()))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, end: float) -> int | None:
        seen = [rss for at, rss in self.samples if start <= at <= end]
        return max(seen) if seen else None


def _transports():
    """Resources whose clients go through recording transports (kept in `made`), as the benchmark's own."""
    from humacrona_pipeline.connectors.crona import CronaClient
    from humacrona_pipeline.connectors.huma import HumaClient
    from humacrona_pipeline.defs.crona.resources import CronaResource
    from humacrona_pipeline.defs.huma.resources import HumaResource

    made: dict[str, list[wb.RecordingTransport]] = {wb.HUMA: [], wb.CRONA: []}

    class RecordedHuma(HumaResource):
        def client(self) -> HumaClient:
            transport = wb.RecordingTransport(record=True)
            made[wb.HUMA].append(transport)
            return HumaClient(self.base_url, self.client_id, self.client_secret, concurrency=self.concurrency,
                              timeout_s=self.timeout_s, transport=transport)

    class RecordedCrona(CronaResource):
        def client(self) -> CronaClient:
            transport = wb.RecordingTransport(record=True)
            made[wb.CRONA].append(transport)
            return CronaClient(self.base_url, self.activation_code, concurrency=self.concurrency,
                               timeout_s=self.timeout_s, transport=transport)

    return made, RecordedHuma, RecordedCrona


def _resources(env: dict[str, str], home: Path, recorded_huma, recorded_crona) -> dict:
    from humacrona_pipeline.core.policy import policy_from_mapping
    from humacrona_pipeline.defs.apply.resources import LedgerResource
    from humacrona_pipeline.defs.email.resources import EmailResource
    from humacrona_pipeline.defs.policy import SyncPolicy

    return {
        "huma": recorded_huma(base_url=env["HUMA_BASE_URL"], client_id=env["HUMA_CLIENT_ID"],
                              client_secret=env["HUMA_CLIENT_SECRET"]),
        "crona": recorded_crona(base_url=env["CRONA_BASE_URL"], activation_code=env["CRONA_ACTIVATION_CODE"]),
        "policy": SyncPolicy.from_policy(policy_from_mapping(POLICY)),
        "ledger": LedgerResource(url=f"sqlite:///{home / 'humacrona_state.sqlite'}"),
        "email": EmailResource(sender="humacrona@example.org", admin_address="hr-admin@example.org",
                               outbox_dir=str(home / "outbox")),
    }


def warm(env: dict[str, str]) -> None:
    """Read both systems once, untimed, as the run's extraction did before its write-back: the bare loop
    then meets a sandbox process in the same state (its caches, its heap) as the write-back steps did."""
    from humacrona_pipeline.connectors.crona import CronaClient, extract_crona
    from humacrona_pipeline.connectors.huma import HumaClient, extract_huma

    extract_huma(HumaClient(env["HUMA_BASE_URL"], env["HUMA_CLIENT_ID"], env["HUMA_CLIENT_SECRET"]))
    extract_crona(CronaClient(env["CRONA_BASE_URL"], env["CRONA_ACTIVATION_CODE"]))


def _stage(step: str) -> str:
    """The stage of a step: that of the longest asset name it is or starts with."""
    owners = [(len(a), stage) for stage, assets in STAGES.items() for a in assets
              if step == a or step.startswith(a + "_")]
    return max(owners)[1] if owners else "other"


def _step_times(instance, run_id: str) -> dict[str, tuple[float, float]]:
    import dagster as dg

    starts, ends = {}, {}
    for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_START,
                                                    dg.DagsterEventType.STEP_SUCCESS}):
        event = entry.dagster_event
        (starts if event.event_type == dg.DagsterEventType.STEP_START else ends)[entry.step_key] = entry.timestamp
    return {step: (starts[step], ends[step]) for step in starts if step in ends}


def once(employees: int, seed: int, index: int) -> dict:
    """One sync_users run on fresh sandboxes, then the bare loop on fresh sandboxes again."""
    import dagster as dg

    from humacrona_pipeline import launch
    from humacrona_pipeline.connection.check import confirm_connection
    from humacrona_pipeline.state import db

    home = Path(tempfile.mkdtemp(prefix="humacrona-sync-bench-"))
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    previous_home = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    made, recorded_huma, recorded_crona = _transports()
    sandboxes = start_sandboxes(employees, seed)
    verification = wb.Timed()
    try:
        confirm_connection(sandboxes.env, "benchmark", f"sqlite:///{home / 'humacrona_state.sqlite'}")
        resources = _resources(sandboxes.env, home, recorded_huma, recorded_crona)
        with RssSampler() as sampler, wb.attributed(verification):
            started = time.time()
            result = launch.run_job("sync_users", resources)
            wall_s = time.time() - started
        if not result.success:
            failures = [e.message for e in result.all_events if e.is_failure]
            raise SystemExit(f"sync_users failed: {failures[:3]}")
        outcomes = [result.output_for_node(n) for n in ("huma_writeback", "crona_writeback")]
        with dg.DagsterInstance.get() as instance:
            steps = _step_times(instance, result.run_id)
    finally:
        sandboxes.stop()
        db.dispose_all()
        if previous_home is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous_home
        shutil.rmtree(home, ignore_errors=True)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    # the write-back's requests, as benchmarks/writeback.py replays them
    recorded = {}
    for target in wb.ORDER:
        calls, reads, token = {}, {}, None
        for transport in made[target]:
            calls.update(transport.calls)
            reads.update(transport.reads)
            token = token or transport.token
        wb._linked({**{f"w{k}": v for k, v in calls.items()}, **{f"r{k}": v for k, v in reads.items()}})
        recorded[target] = (calls, reads, token)
    sandboxes = start_sandboxes(employees, seed)
    try:
        warm(sandboxes.env)
        bare = wb.replay(sandboxes.env, recorded)
    finally:
        sandboxes.stop()

    step_s = {step: round(end - start, 3) for step, (start, end) in sorted(steps.items(), key=lambda s: s[1][0])}
    stage_s = dict.fromkeys([*STAGES, "other"], 0.0)
    for step, seconds in step_s.items():
        stage_s[_stage(step)] += seconds
    stage_s = {k: round(v, 3) for k, v in stage_s.items()}
    writeback_s = round(sum(step_s.get(s, 0.0) for s in STAGES["writeback"]), 3)
    import pandas as pd

    frame = pd.concat(outcomes, ignore_index=True)
    classes = Counter()
    for target in wb.ORDER:
        for transport in made[target]:
            classes += transport.classes
    step_rss = {step: sampler.peak_between(start, end) for step, (start, end) in steps.items()}
    return {
        "wall_s": round(wall_s, 3),
        "step_s": step_s,
        "stage_s": stage_s,
        "peak_rss_bytes": peak_rss,
        "peak_rss_gib": round(peak_rss / 2**30, 3),
        "step_peak_rss_mib": {s: round(v / 2**20) for s, v in step_rss.items() if v is not None},
        "operations": len(frame),
        "operations_by": {f"{t} {s}": int(n) for (t, s), n in frame.groupby(["target", "status"]).size().items()},
        "verification_s": round(verification.seconds, 3),
        "writeback_s": writeback_s,
        "bare_s": round(bare.seconds, 3),
        "bare_per_system_s": {t: round(v, 3) for t, v in bare.per_system_s.items()},
        "bare_writes_s": round(bare.writes_s, 3),
        "bare_not_2xx": bare.failed,
        "writeback_ratio": round(bare.seconds / writeback_s, 4) if writeback_s else None,
        "requests": dict(sorted(classes.items())),
        "bare_requests": dict(sorted(bare.classes.items())),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=20000, help="people to seed (default %(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs, each on fresh sandboxes (default %(default)s)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    runs = []
    for i in range(args.repeat):
        run = once(args.employees, args.seed, i)
        runs.append(run)
        print(f"run {i + 1}: wall {run['wall_s']} s, stages {run['stage_s']}, peak RSS {run['peak_rss_gib']} GiB, "
              f"write-back {run['writeback_s']} s vs bare {run['bare_s']} s", flush=True)

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 4)

    def spread(key: str) -> dict:
        values = [r[key] for r in runs]
        return {"min": min(values), "max": max(values),
                "stdev": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0}

    first = runs[0]
    summary = {
        "employees": args.employees,
        "wall_s": median("wall_s"),
        "stage_s": {k: round(statistics.median(r["stage_s"][k] for r in runs), 3) for k in first["stage_s"]},
        "step_s": first["step_s"],
        "peak_rss_gib": round(max(r["peak_rss_gib"] for r in runs), 3),
        "step_peak_rss_mib": first["step_peak_rss_mib"],
        "operations": first["operations"],
        "operations_by": first["operations_by"],
        "verification_s": median("verification_s"),
        "writeback_s": median("writeback_s"),
        "bare_s": median("bare_s"),
        "bare_per_system_s": first["bare_per_system_s"],
        "bare_writes_s": median("bare_writes_s"),
        "bare_not_2xx": first["bare_not_2xx"],
        "writeback_ratio": round(median("bare_s") / median("writeback_s"), 4),
        "requests": first["requests"],
        "bare_requests": first["bare_requests"],
        "repeat": args.repeat,
        "wall_runs_s": [r["wall_s"] for r in runs],
        "writeback_ratio_runs": [r["writeback_ratio"] for r in runs],
        "spread": {"wall_s": spread("wall_s"), "writeback_ratio": spread("writeback_ratio")},
        "targets": {"peak_rss_gib": RSS_TARGET_GIB, "writeback_ratio": 0.8},
    }
    summary["pass"] = summary["peak_rss_gib"] <= RSS_TARGET_GIB and summary["writeback_ratio"] >= 0.8
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
