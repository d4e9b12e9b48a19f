"""The write-back benchmark runs end to end on a few employees (sandboxes in their own process) and ends with
its JSON summary. Timings are not checked; that the bare loop sent exactly the requests the write-back sent,
all answered 2xx, and that every employee on each side had an operation, are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = {"throughput_ratio", "ours_s", "bare_s", "bare_writes_s", "ledger_s", "verification_s", "report_s",
        "requests", "bare_requests", "repeat", "ours_runs_s", "bare_runs_s", "spread", "operations", "statuses"}


def test_writeback_benchmark_smoke_run():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "writeback.py"), "--employees", "40", "--seed", "3",
         "--repeat", "2"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) >= KEYS, sorted(KEYS - set(summary))
    assert summary["employees"] == 40 and summary["repeat"] == 2
    assert len(summary["ours_runs_s"]) == len(summary["bare_runs_s"]) == 2
    assert summary["requests"] == summary["bare_requests"]  # the same requests, method and path class
    assert summary["bare_not_2xx"] == 0
    assert {"PATCH /users/{id}", "PATCH /api/v1/anstallda/{id}", "POST /users", "POST /api/v1/anstallda",
            "GET /users/{id}", "GET /api/v1/anstallda/{id}"} <= set(summary["requests"])
    assert set(summary["statuses"]) <= {"applied", "skipped"}, summary["statuses"]
    assert summary["throughput_ratio"] == pytest.approx(summary["bare_s"] / summary["ours_s"], abs=1e-3)
