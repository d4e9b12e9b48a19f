"""The real-time benchmark runs end to end (sandboxes, receiver, Dagster daemon, each its own process) on a
few changes and ends with its JSON summary. Timings are not checked; that every change arrived is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = {"changes", "p50_s", "p95_s", "max_s", "lost"}


def test_realtime_benchmark_smoke_run():
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "HUMACRONA_STATE_URL")}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "realtime.py"), "--changes", "2", "--employees", "30",
         "--timeout", "90"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=280, check=False, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) >= KEYS, sorted(KEYS - set(summary))
    assert summary["changes"] == 2 and summary["lost"] == 0, result.stdout[-3000:]
    assert 0 < summary["p50_s"] <= summary["p95_s"] <= summary["max_s"]
