"""PAXml channel benchmark: reading Crona's export and writing the sync's import file, at payroll sizes.

    uv run python benchmarks/paxml.py --employees 20000

The seed generator (`humacrona_sandbox.seed.generate`) builds N Crona employees; the Crona sandbox's own PAXml
writer turns them into the export Crona Lön would give (ISO-8859-1, validated), written to a temporary folder
before any timing. Then, each `--repeat` times (the best kept, the spread printed):

- read: `PaxmlExport(path).employee_table()`, the whole of `crona_employees_raw` on this channel (parse, validate
  against the published schema, rows of `CRONA_COLUMNS`);
- write: `write_import_file` for a plan updating two fields of every employee (given name and job title):
  every employee checked alone, then the whole document built, validated and written atomically.

The last line printed is one JSON object. Targets at 20 000 employees: read within `TARGET_READ_S`, write within
`TARGET_WRITE_S`, peak RSS within `TARGET_PEAK_RSS_MB`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from humacrona_pipeline.connectors.crona import employee_row  # noqa: E402
from humacrona_pipeline.connectors.paxml.export_reader import PaxmlExport  # noqa: E402
from humacrona_pipeline.connectors.paxml.import_file import write_import_file  # noqa: E402
from humacrona_pipeline.core.canonical import build_table  # noqa: E402
from humacrona_pipeline.core.fields import CRONA, MATCH_KEY  # noqa: E402
from humacrona_pipeline.core.outcomes import AWAITING_IMPORT  # noqa: E402
from humacrona_pipeline.core.plan import PLAN_COLUMNS, UPDATE  # noqa: E402
from humacrona_sandbox.crona_paxml import write_employees  # noqa: E402
from humacrona_sandbox.seed import generate  # noqa: E402

TARGET_READ_S = 2.0
TARGET_WRITE_S = 3.0
TARGET_PEAK_RSS_MB = 1024.0
CHANGED = ("given_name", "job_title")


def operations(export: Path) -> pd.DataFrame:
    """A plan updating `CHANGED` of every readable employee of the export (new value: the old one + " B")."""
    rows, _ = asyncio.run(PaxmlExport(export).employee_table())
    canonical = build_table(pd.DataFrame([employee_row(r) for r in rows]), CRONA).frame
    plan = []
    for person in canonical.to_dict("records"):
        if not person.get(MATCH_KEY.name):
            continue
        for name in CHANGED:
            old = person.get(name)
            plan.append({"target": CRONA, "action": UPDATE, "employee": person[MATCH_KEY.name],
                         "record_id": person["record_id"], "field": name,
                         "current_value": old, "new_value": f"{old or ''} B".strip(), "rule": "benchmark"})
    return pd.DataFrame(plan, columns=list(PLAN_COLUMNS))


def timed(repeat: int, work) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return times, result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "crona-export.xml"
        seeded = generate(args.employees, seed=args.seed)
        export.write_bytes(write_employees(seeded.crona_employees, "Benchmark AB", "556677-8899"))
        del seeded
        read_s, (rows, unreadable) = timed(args.repeat, lambda: asyncio.run(PaxmlExport(export).employee_table()))
        plan = operations(export)
        write_s, (outcomes, path) = timed(args.repeat, lambda: write_import_file(plan, Path(folder) / "import",
                                                                                  "benchmark"))
        summary = {
            "employees": args.employees,
            "export_mb": round(export.stat().st_size / 2**20, 2),
            "rows_read": len(rows),
            "unreadable": len(unreadable),
            "read_s": round(min(read_s), 3),
            "read_s_all": [round(t, 3) for t in read_s],
            "operations": len(plan),
            "awaiting_import": int((outcomes["status"] == AWAITING_IMPORT).sum()),
            "not_written": int((outcomes["status"] != AWAITING_IMPORT).sum()),
            "import_mb": round(path.stat().st_size / 2**20, 2) if path else 0,
            "write_s": round(min(write_s), 3),
            "write_s_all": [round(t, 3) for t in write_s],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    scale = args.employees / 20_000
    summary["within_targets"] = (summary["read_s"] <= TARGET_READ_S * max(scale, 1)
                                 and summary["write_s"] <= TARGET_WRITE_S * max(scale, 1)
                                 and summary["peak_rss_mb"] <= TARGET_PEAK_RSS_MB)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
