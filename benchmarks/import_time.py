"""Import-time benchmark: how long loading the code location and answering `humacrona --help` take.

    uv run python benchmarks/import_time.py
    uv run python benchmarks/import_time.py --repeat 5 --top 30

Every process that loads the code location pays the import of `humacrona_pipeline.definitions` before doing
anything: the UI and the daemon when they (re)load it, and each Dagster run worker, a real-time push's too.
Each measurement is a fresh interpreter (`python -c "import humacrona_pipeline.definitions"`, `humacrona --help`,
and `python -c "import dagster"`: the floor no code location of ours gets under), timed from start to exit,
`--repeat` times; best, median and max are printed. Then one more import under `python -X importtime` lists the
modules that took longest, counting what they imported (cumulative), and the heavy libraries that were imported
at all. Targets: the import at most 2.5 s, `--help` at most 1 s, judged on the best of the repeats (a shared
machine only ever adds time). The last line printed is one JSON object."""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS_S = {"import_definitions": 2.5, "help": 1.0}
HEAVY = ("pandas", "numpy", "pandera", "pyarrow", "sqlalchemy", "httpx", "cryptography", "jinja2", "hypothesis",
         "phonenumbers", "pycountry")
IMPORT = "import humacrona_pipeline.definitions"
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)$")


def humacrona() -> list[str]:
    exe = Path(sys.executable).parent / "humacrona"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "humacrona_pipeline.cli"]


COMMANDS = {
    "import_definitions": [sys.executable, "-c", IMPORT],
    "help": [*humacrona(), "--help"],
    "import_dagster": [sys.executable, "-c", "import dagster"],
}


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def figures(times: list[float]) -> dict[str, float]:
    return {"best": round(min(times), 3), "median": round(statistics.median(times), 3), "max": round(max(times), 3)}


def import_profile(top: int) -> list[tuple[str, float, float]]:
    """(module, cumulative s, self s) of the ``top`` modules by cumulative import time."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORT], cwd=REPO, check=True,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    rows = []
    for line in result.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            rows.append((match.group(4), int(match.group(2)) / 1e6, int(match.group(1)) / 1e6))
    return sorted(rows, key=lambda row: row[1], reverse=True)[:top]


def heavy_loaded() -> list[str]:
    """The heavy libraries the import leaves in `sys.modules`."""
    probe = f"import json, sys; {IMPORT}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (default 3)")
    parser.add_argument("--top", type=int, default=20, help="modules listed by cumulative import time (default 20)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    timed(COMMANDS["import_definitions"])  # one warm-up: bytecode compiled, files in the page cache
    measured: dict[str, dict[str, float]] = {}
    for name, command in COMMANDS.items():
        times = [timed(command) for _ in range(args.repeat)]
        measured[name] = figures(times)
        print(f"{name:20s} best {measured[name]['best']:6.3f} s  median {measured[name]['median']:6.3f} s  "
              f"max {measured[name]['max']:6.3f} s  ({' '.join(f'{t:.3f}' for t in times)})", flush=True)

    print(f"\ntop {args.top} modules by cumulative import time (python -X importtime; self time beside it):")
    for module, cumulative, own in import_profile(args.top):
        print(f"  {cumulative:7.3f} s  {own:7.3f} s  {module}")
    heavy = heavy_loaded()
    print(f"\nheavy libraries imported with the code location: {', '.join(heavy) or 'none'}")

    met = {name: measured[name]["best"] <= target for name, target in TARGETS_S.items()}
    print(json.dumps({
        "repeat": args.repeat,
        "import_definitions_s": measured["import_definitions"],
        "help_s": measured["help"],
        "import_dagster_s": measured["import_dagster"],
        "targets_s": TARGETS_S,
        "met": met,
        "all_met": all(met.values()),
        "heavy_modules_loaded": heavy,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
