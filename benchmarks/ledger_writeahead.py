"""Write-back throughput with the audit ledger written ahead: what recording each employee's operations as
`pending` before its first request (one more short transaction per employee) costs.

    uv run python benchmarks/ledger_writeahead.py --employees 300 --latency-ms 20

Starts both sandboxes in this process (free ports of 127.0.0.1), plans the demo sync (every field, Huma wins,
creates both ways), then writes both systems as `defs.apply.recorded_writes.write_recorded` does — through
`connectors.writeback.apply_plan`, recording into a SQLite ledger in a temporary folder — and times it. With
a code version whose `Ledger` has no `record_pending` (before issue 10), each employee is recorded once after
its writes, as then; run it against such a copy (``PYTHONPATH=<old checkout> python benchmarks/...``) for the
"before" figure. Repeats `--repeat` times on fresh sandboxes.

The last line printed is one JSON object: mode, employees, operations, seconds per repeat and the median,
operations per second."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from humacrona_pipeline.connectors.crona import CronaClient, extract_crona
from humacrona_pipeline.connectors.huma import HumaClient, extract_huma
from humacrona_pipeline.connectors.writeback import apply_plan
from humacrona_pipeline.core.canonical import build_table
from humacrona_pipeline.core.plan import plan
from humacrona_pipeline.core.policy import policy_from_mapping
from humacrona_pipeline.core.reconcile import reconcile
from humacrona_pipeline.state import Ledger, db
from humacrona_sandbox.defaults import (
    DEFAULT_CRONA_ACTIVATION_CODE,
    DEFAULT_HUMA_CLIENT_ID,
    DEFAULT_HUMA_CLIENT_SECRET,
)
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes

POLICY = {"default_winner": "huma", "missing_values": "fill", "create_in_huma": "all", "create_in_crona": "all",
          "approve_mass_change": True}


def _clients(running) -> tuple[HumaClient, CronaClient]:
    return (HumaClient(running.huma_url, DEFAULT_HUMA_CLIENT_ID, DEFAULT_HUMA_CLIENT_SECRET),
            CronaClient(running.crona_url, DEFAULT_CRONA_ACTIVATION_CODE))


def once(employees: int, seed: int, latency_ms: float, folder: Path, index: int) -> tuple[int, float, str]:
    options = SandboxOptions(employees=employees, seed=seed, huma_port=0, crona_port=0, latency_ms=latency_ms)
    with start_sandboxes(options) as running:
        huma, crona = _clients(running)
        h, c = pd.DataFrame(extract_huma(huma)), pd.DataFrame(extract_crona(crona))
        operations = plan(reconcile(build_table(h, "huma"), build_table(c, "crona")),
                          policy_from_mapping(POLICY)).operations
        book = Ledger(f"sqlite:///{folder / f'ledger-{index}.sqlite'}")
        ahead = hasattr(book, "record_pending")
        callbacks = ({"before_write": lambda rows: book.record_pending("bench", rows),
                      "on_outcome": lambda rows: book.complete("bench", rows)} if ahead
                     else {"on_outcome": lambda rows: book.record("bench", rows)})
        start = time.perf_counter()
        for target, client in (("huma", _clients(running)[0]), ("crona", _clients(running)[1])):
            outcomes = apply_plan(client, target, operations, **callbacks)
            book.mark_verification("bench", outcomes)
        elapsed = time.perf_counter() - start
        db.dispose_all()
        return len(operations), elapsed, "write-ahead" if ahead else "after-only"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=300)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    seconds, operations, mode = [], 0, ""
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.repeat):
            operations, elapsed, mode = once(args.employees, args.seed, args.latency_ms, Path(folder), i)
            seconds.append(round(elapsed, 3))
    median = statistics.median(seconds)
    print(json.dumps({"mode": mode, "employees": args.employees, "latency_ms": args.latency_ms,
                      "operations": operations, "seconds": seconds, "median_s": median,
                      "operations_per_s": round(operations / median, 1) if median else None}))


if __name__ == "__main__":
    main()
