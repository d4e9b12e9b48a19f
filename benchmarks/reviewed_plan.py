"""What keeping every plan for review, and applying a reviewed one, costs (`core.review`, `state.plans`).

    uv run python benchmarks/reviewed_plan.py --employees 20000

The seeded company (`sandbox.seed.generate`, no HTTP) is reconciled and planned with Huma winning every
conflict, gaps filled and every one-sided employee created (a first sync: the largest plan). Then, each
`--repeat` times: `keep` (fingerprints and basis), storing it in a SQLite state database and reading it back
(`ReviewedPlans.keep` / `get`), and `rebuild` against the same tables (the apply's run-start drift check).
The last line printed is one JSON object: the plan's size, the kept plan's bytes, and the median and
spread (min–max) of each step in seconds."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reconcile import raw_frames  # noqa: E402

from humacrona_pipeline.core.canonical import build_table  # noqa: E402
from humacrona_pipeline.core.fields import CRONA, HUMA  # noqa: E402
from humacrona_pipeline.core.plan import plan  # noqa: E402
from humacrona_pipeline.core.policy import policy_from_mapping  # noqa: E402
from humacrona_pipeline.core.reconcile import reconcile  # noqa: E402
from humacrona_pipeline.core.review import derive_key, keep, rebuild  # noqa: E402
from humacrona_pipeline.state.plans import ReviewedPlans  # noqa: E402


def _spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    huma_raw, crona_raw = raw_frames(args.employees, args.seed)
    huma, crona = build_table(huma_raw, HUMA), build_table(crona_raw, CRONA)
    policy = policy_from_mapping({"default_winner": "huma", "create_in_crona": "all", "create_in_huma": "all",
                                  "approve_mass_change": True})
    planned = plan(reconcile(huma, crona), policy)
    key = derive_key("benchmark-secret", "benchmark-code")
    timings: dict[str, list[float]] = {"keep_s": [], "store_s": [], "load_s": [], "rebuild_s": []}
    size = 0
    with tempfile.TemporaryDirectory() as folder:
        store = ReviewedPlans(f"sqlite:///{folder}/state.sqlite")
        for n in range(args.repeat):
            started = time.perf_counter()
            kept = keep(planned, huma, crona, key, f"run-{n}", "2026-12-06T00:00:00+00:00")
            timings["keep_s"].append(time.perf_counter() - started)
            started = time.perf_counter()
            store.keep(kept)
            timings["store_s"].append(time.perf_counter() - started)
            started = time.perf_counter()
            loaded = store.get(f"run-{n}")
            timings["load_s"].append(time.perf_counter() - started)
            started = time.perf_counter()
            rebuilt = rebuild(loaded, huma, crona, key)
            timings["rebuild_s"].append(time.perf_counter() - started)
            size = len(kept.to_json().encode("utf-8"))
            assert rebuilt.drifted.empty and len(rebuilt.operations) == len(planned.operations)
    result = {"employees": args.employees, "operations": len(planned.operations),
              "employees_in_plan": len(kept.basis), "kept_plan_mb": round(size / 1e6, 1),
              **{k: _spread(v) for k, v in timings.items()}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
