"""The several-connections benchmark runs end to end on three small connections (PostgreSQL, the sandboxes in
their own process, `dagster-daemon run`, `dagster job backfill` over every partition of sync_users) and ends with
its JSON summary, and with its one-at-a-time baseline on two. Timings are not checked; that every run succeeded,
nothing was lost and nothing written twice is, and that the baseline ran one run at a time on the same plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES = {"wall_s", "sum_run_s", "ratio", "target", "pass", "peak_rss_mib", "lost", "duplicates", "succeeded",
           "max_concurrent_runs", "load_before", "load_after"}

pytestmark = pytest.mark.timeout(600)


def run_benchmark(*options: str) -> dict:
    """The benchmark's JSON summary, once it exited 0."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", "HUMACRONA_STATE_URL", "HUMACRONA_POLICY_FILE", "HUMACRONA_CONNECTIONS_FILE")}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "connections.py"), *options, "--sandbox-processes", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=580, check=False, env=env, stdin=subprocess.DEVNULL)
    output = result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), output
    summary = json.loads(lines[-1])
    assert result.returncode == 0, output
    assert set(summary) >= FIGURES, sorted(FIGURES - set(summary))
    return summary


def test_connections_benchmark_smoke_run():
    summary = run_benchmark("--connections", "3", "--employees", "50")
    assert "sequential" not in summary and "ratio_vs_sequential" not in summary
    assert (summary["connections"], summary["employees"]) == (3, 50)
    assert summary["succeeded"] is True and summary["statuses"] == {"SUCCESS": 3}
    assert summary["planned_writes"] > 0 and summary["applied_writes"] == summary["planned_writes"]
    assert summary["lost"] == 0 and summary["duplicates"] == 0
    assert summary["max_concurrent_runs"] == 4 and 1 <= summary["most_runs_at_once"] <= 3
    assert summary["target"] == 0.6
    assert summary["ratio"] == round(summary["wall_s"] / summary["sum_run_s"], 2)
    assert summary["pass"] == (summary["ratio"] <= summary["target"])
    memory = summary["peak_rss_mib"]
    assert {"postgresql", "sandboxes", "dagster (daemon, code server, runs)"} <= set(memory["by_role"])
    assert memory["sum_of_peaks"] >= memory["concurrent"] > 0


def test_sequential_baseline_runs_the_same_backfill_one_run_at_a_time():
    summary = run_benchmark("--connections", "2", "--employees", "30", "--baseline", "sequential")
    assert summary["succeeded"] is True and summary["max_concurrent_runs"] == 4
    alone = summary["sequential"]
    assert alone["max_concurrent_runs"] == 1 and alone["most_runs_at_once"] == 1
    assert alone["succeeded"] is True and alone["statuses"] == {"SUCCESS": 2}
    assert alone["same_plan"] is True and alone["planned_writes"] == summary["planned_writes"] > 0
    assert alone["applied_writes"] == alone["planned_writes"]
    assert alone["lost"] == 0 and alone["duplicates"] == 0
    assert summary["ratio"] == round(summary["wall_s"] / summary["sum_run_s"], 2)
    assert summary["ratio_vs_sequential"] == round(summary["wall_s"] / alone["sum_run_s"], 2)
    assert summary["ratio_vs_sequential_wall"] == round(summary["wall_s"] / alone["wall_s"], 2)
    assert summary["pass_vs_sequential"] == (summary["ratio_vs_sequential"] <= summary["target"])
