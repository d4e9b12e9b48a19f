"""The PAXml benchmark runs on a small company and ends with its JSON summary.

Timings are not checked (they depend on the machine); what is checked is that every employee of the export is
read, that every planned change lands in the import file (`awaiting import`, none left out), and that the summary
carries the keys the closing notes quote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = {"employees", "rows_read", "unreadable", "read_s", "read_s_all", "operations", "awaiting_import",
        "not_written", "write_s", "write_s_all", "peak_rss_mb", "within_targets"}


def test_paxml_benchmark_smoke_run():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "paxml.py"), "--employees", "200", "--repeat", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) >= KEYS, sorted(KEYS - set(summary))
    assert summary["employees"] == 200 and summary["rows_read"] > 150 and summary["unreadable"] == 0
    assert summary["operations"] == 2 * summary["rows_read"]
    assert summary["awaiting_import"] == summary["operations"] and summary["not_written"] == 0
