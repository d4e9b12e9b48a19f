"""The import-time benchmark runs and ends with its JSON summary. Timings are not checked (they depend on the
machine); what is checked is that every figure the README and the lead read is there and consistent, and that
the profile lists the code location's own import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = {"repeat", "import_definitions_s", "help_s", "import_dagster_s", "targets_s", "met", "all_met",
        "heavy_modules_loaded"}


def test_import_time_benchmark_smoke_run():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "import_time.py"), "--repeat", "2", "--top", "5"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) >= KEYS, sorted(KEYS - set(summary))
    assert summary["repeat"] == 2
    for name in ("import_definitions_s", "help_s", "import_dagster_s"):
        figures = summary[name]
        assert 0 < figures["best"] <= figures["median"] <= figures["max"], (name, figures)
    assert summary["targets_s"] == {"import_definitions": 2.5, "help": 1.0}
    assert summary["met"] == {name: summary[name + "_s"]["best"] <= target
                              for name, target in summary["targets_s"].items()}
    assert summary["all_met"] == all(summary["met"].values())
    assert any(line.strip().endswith(" humacrona_pipeline.definitions") for line in lines)
    assert summary["heavy_modules_loaded"] == []
