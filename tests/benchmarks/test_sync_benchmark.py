"""The end-to-end sync benchmark runs `sync_users` through Dagster on a few employees (sandboxes in their own
process, a temporary DAGSTER_HOME) and ends with its JSON summary. Timings and memory are not checked; that
the run wrote both systems, every stage was timed, and the bare loop replayed exactly the write-back's
requests, are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = {"wall_s", "stage_s", "step_s", "peak_rss_gib", "step_peak_rss_mib", "operations", "operations_by",
        "writeback_s", "bare_s", "writeback_ratio", "requests", "bare_requests", "repeat", "spread"}


def test_sync_benchmark_smoke_run():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", "HUMACRONA_STATE_URL", "HUMACRONA_POLICY_FILE", "HUMACRONA_REPORT_DIR")}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "sync.py"), "--employees", "40", "--seed", "3"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) >= KEYS, sorted(KEYS - set(summary))
    assert summary["employees"] == 40 and summary["repeat"] == 1
    assert set(summary["stage_s"]) >= {"extract", "plan", "writeback", "report"}
    assert all(summary["stage_s"][s] > 0 for s in ("extract", "plan", "writeback", "report")), summary["stage_s"]
    assert {"huma_writeback", "crona_writeback", "sync_report"} <= set(summary["step_s"])
    assert summary["operations"] == sum(summary["operations_by"].values()) > 0
    assert any(k.startswith("huma ") for k in summary["operations_by"])
    assert any(k.startswith("crona ") for k in summary["operations_by"])
    assert summary["peak_rss_gib"] > 0
    assert summary["bare_not_2xx"] == 0
    written = {k: v for k, v in summary["requests"].items() if not k.startswith("GET")}
    assert written and all(summary["bare_requests"].get(k) == v for k, v in written.items()
                           if "auth" not in k), (written, summary["bare_requests"])
