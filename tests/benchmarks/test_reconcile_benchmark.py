"""The reconciliation benchmark runs end to end on a small company and ends with its JSON summary.

Timings are not checked (they depend on the machine); what is checked is that the script runs, that
datacompy and our conflict table find the same number of differing values, and that the summary
carries every key the README and the lead read."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = {"employees", "conflicts_s", "datacompy_s", "reconcile_s", "speedup_vs_datacompy", "reconcile_vs_datacompy",
        "peak_rss_mb", "conflict_rows", "plan_operations", "not_planned_rows", "datacompy_mismatches", "matched"}


def _load_benchmark(name: str) -> ModuleType:
    """The benchmark script as a module, loaded from its file (the scripts are no package to import from)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reconcile_benchmark_smoke_run():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "reconcile.py"), "--employees", "300", "--repeat", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) >= KEYS, sorted(KEYS - set(summary))
    assert summary["employees"] == 300
    assert summary["matched"] > 0
    # The seed plants differences, so both tools find some, and the same number of them.
    assert summary["conflict_rows"] > 0
    assert summary["datacompy_mismatches"] == summary["conflict_rows"]
    assert summary["plan_operations"] + summary["not_planned_rows"] > 0
    assert any("speedup vs datacompy" in line for line in lines[:-1])


def test_clear_core_caches_empties_every_memo_of_the_core():
    """Each reconcile run starts cold: the values the normalisers remembered as valid are forgotten too."""
    benchmark = _load_benchmark("reconcile")
    from humacrona_pipeline.core import normalise, phones
    from humacrona_pipeline.core.known import KnownValid

    huma_raw, crona_raw = benchmark.raw_frames(40, 5)
    benchmark.whole_reconcile(huma_raw, crona_raw, benchmark.Policy())
    memos = [v for module in (normalise, phones) for v in vars(module).values() if isinstance(v, KnownValid)]
    assert len(memos) >= 3 and all(memo._objects for memo in memos)
    assert phones.known_numbers and normalise.known_accounts  # (addresses are remembered by identity only)
    benchmark.clear_core_caches()
    assert all(not memo and not memo._objects for memo in memos)
