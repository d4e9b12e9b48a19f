"""The UI-runs benchmark runs end to end on a few employees (sandboxes in their own process, `humacrona sync`,
`dagster dev` with the repo's dagster.yaml, plan_sync and sync_users submitted through GraphQL as the Launchpad
does) and ends with its JSON summary. Timings are not checked; that every run succeeded is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PER_JOB = {"cli_s", "ui_s", "ratio", "target", "pass", "queue_wait_s", "cli_runs_s", "ui_runs_s", "succeeded"}


def test_ui_runs_benchmark_smoke_run():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", "HUMACRONA_STATE_URL", "HUMACRONA_POLICY_FILE")}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "ui_runs.py"), "--employees", "30", "--rounds", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["employees"] == 30 and summary["rounds"] == 1
    assert set(summary["jobs"]) == {"plan_sync", "sync_users"}
    for job, figures in summary["jobs"].items():
        assert set(figures) >= PER_JOB, (job, sorted(PER_JOB - set(figures)))
        assert figures["succeeded"] is True, (job, result.stdout[-3000:])
        assert len(figures["cli_runs_s"]) == len(figures["ui_runs_s"]) == 1, job
        assert figures["target"] == 1.5 and isinstance(figures["pass"], bool)
        assert figures["ratio"] == round(figures["ui_s"] / figures["cli_s"], 2)
        assert figures["pass"] == (figures["ratio"] <= figures["target"])
    assert summary["succeeded"] is True
