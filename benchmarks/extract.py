"""Extraction benchmark: how close do the Huma and Crona clients come to a bare httpx loop?

    uv run python benchmarks/extract.py --employees 5000

Both sandboxes run in a separate process (`python -m humacrona_sandbox`), so the clients and
the servers do not share a GIL. In one run of this script:

- pipeline: a full extraction of both systems through HumaClient and CronaClient, concurrently, including
  flattening into rows (list pages, then details and positions per user; Crona pages);
- bare: a plain asyncio + httpx loop that GETs exactly the URLs the pipeline fetched (recorded at the
  transport), with the same token, the same number of requests in flight per system and a JSON decode
  of every answer, but none of the clients' work (no retries, token handling, paging logic, dedupe,
  flattening). The bare loop replays the URLs as one flat list, so it never waits for a list page
  before it can ask for details: a slightly stricter baseline than the pipeline's real dependency.

Each is run `--rounds` times, alternating (pipeline, bare, pipeline, bare, ...), and the best time of
each is kept, which filters out a cold start and noise from the machine. The last line printed is one
JSON object; `throughput_ratio` is bare_s / pipeline_s (1.0: the clients cost nothing extra).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from humacrona_pipeline.connectors.crona import CronaClient  # noqa: E402
from humacrona_pipeline.connectors.huma import HumaClient  # noqa: E402

HUMA_CONCURRENCY = 16
CRONA_CONCURRENCY = 4
SERVER_START_TIMEOUT_S = 600


# ------------------------------------------------------------------------------------------- sandboxes


@dataclass
class Sandboxes:
    process: subprocess.Popen
    env: dict[str, str]
    banner: list[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# `--server inline`: the same thing as `python -m humacrona_sandbox`, in a few lines, with each
# app served through a plain ASGI 3 function. A fallback for when the sandbox CLI cannot be used.
INLINE_SERVER = """
import signal, sys, threading
from humacrona_sandbox.crona_app import DEFAULT_CRONA_ACTIVATION_CODE, CronaSandbox
from humacrona_sandbox.huma_app import DEFAULT_HUMA_CLIENT_ID, DEFAULT_HUMA_CLIENT_SECRET, HumaSandbox
from humacrona_sandbox.seed import generate
from humacrona_sandbox.server import BackgroundServer
from humacrona_sandbox.store import Store

def asgi3(app):
    async def call(scope, receive, send):
        await app(scope, receive, send)
    return call

seeded = generate(int(sys.argv[1]), seed=int(sys.argv[2]))
huma, crona = HumaSandbox(Store()), CronaSandbox(Store())
huma.load_seed(seeded.huma_users)
crona.load_seed(seeded.crona_employees)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
with BackgroundServer(asgi3(huma.app)) as h, BackgroundServer(asgi3(crona.app)) as c:
    print(f"# seeded {sys.argv[1]} people: {len(seeded.huma_users)} in Huma, {len(seeded.crona_employees)} in Crona")
    print(f"HUMA_BASE_URL={h.url}")
    print(f"HUMA_CLIENT_ID={DEFAULT_HUMA_CLIENT_ID}")
    print(f"HUMA_CLIENT_SECRET={DEFAULT_HUMA_CLIENT_SECRET}")
    print(f"CRONA_BASE_URL={c.url}")
    print(f"CRONA_ACTIVATION_CODE={DEFAULT_CRONA_ACTIVATION_CODE}")
    print("READY", flush=True)
    stop.wait()
"""


def start_sandboxes(employees: int, seed: int, server: str = "module") -> Sandboxes:
    """Start both sandboxes in their own process; wait for READY and read the variables it prints."""
    if server == "module":
        command = [sys.executable, "-m", "humacrona_sandbox", "--employees", str(employees),
                   "--seed", str(seed), "--huma-port", "0", "--crona-port", "0"]
    else:
        command = [sys.executable, "-c", INLINE_SERVER, str(employees), str(seed)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    env: dict[str, str] = {}
    banner: list[str] = []
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip("\n")
        if line == "READY":
            break
        if line.startswith("#"):
            banner.append(line)
        elif "=" in line:
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
        if time.monotonic() > deadline:
            break
    else:
        process.wait()
        raise SystemExit(f"the sandboxes exited before READY (exit code {process.returncode})")
    missing = {"HUMA_BASE_URL", "HUMA_CLIENT_ID", "HUMA_CLIENT_SECRET", "CRONA_BASE_URL",
               "CRONA_ACTIVATION_CODE"} - set(env)
    if missing:
        process.terminate()
        raise SystemExit(f"the sandboxes did not print {sorted(missing)}")
    return Sandboxes(process, env, banner)


# ------------------------------------------------------------------------------------------- transport


class RecordingTransport(httpx.AsyncBaseTransport):
    """Counts requests and keeps the GET URLs and the bearer token the pipeline used (in memory only)."""

    def __init__(self, record: bool):
        self.inner = httpx.AsyncHTTPTransport()
        self.record = record
        self.requests = 0
        self.urls: list[str] = []
        self.authorization: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.record and request.method == "GET":
            self.urls.append(str(request.url))
            self.authorization = request.headers.get("authorization")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# -------------------------------------------------------------------------------------------- the runs


@dataclass
class PipelineRun:
    seconds: float
    huma_rows: int
    crona_rows: int
    requests: int
    huma: RecordingTransport
    crona: RecordingTransport


async def run_pipeline(env: dict[str, str]) -> PipelineRun:
    huma_transport, crona_transport = RecordingTransport(record=True), RecordingTransport(record=True)
    huma = HumaClient(env["HUMA_BASE_URL"], env["HUMA_CLIENT_ID"], env["HUMA_CLIENT_SECRET"],
                      concurrency=HUMA_CONCURRENCY, transport=huma_transport)
    crona = CronaClient(env["CRONA_BASE_URL"], env["CRONA_ACTIVATION_CODE"], concurrency=CRONA_CONCURRENCY,
                        transport=crona_transport)
    async with huma, crona:
        started = time.perf_counter()
        huma_rows, crona_rows = await asyncio.gather(huma.fetch_rows(), crona.fetch_rows())
        seconds = time.perf_counter() - started
    if len({r["id"] for r in huma_rows}) != len(huma_rows):
        raise SystemExit("the Huma extraction returned a user twice")
    if len({r["AnstNr"] for r in crona_rows}) != len(crona_rows):
        raise SystemExit("the Crona extraction returned an employee twice")
    return PipelineRun(seconds, len(huma_rows), len(crona_rows), huma_transport.requests + crona_transport.requests,
                       huma_transport, crona_transport)


@dataclass
class BareRun:
    seconds: float
    requests: int
    answers: list[int] = field(default_factory=list)


async def run_bare(recorded: PipelineRun) -> BareRun:
    """GET every URL the pipeline fetched, `concurrency` at a time per system, with the same token."""

    async def fetch_all(urls: list[str], authorization: str, concurrency: int, transport) -> int:
        slots = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(transport=transport, limits=limits, timeout=30.0,
                                     headers={"Authorization": authorization}) as client:

            async def one(url: str):
                async with slots:
                    response = await client.get(url)
                    response.raise_for_status()
                    return response.json()

            answers = await asyncio.gather(*(one(url) for url in urls))
        return len(answers)

    huma_transport, crona_transport = RecordingTransport(record=False), RecordingTransport(record=False)
    started = time.perf_counter()
    counts = await asyncio.gather(
        fetch_all(recorded.huma.urls, recorded.huma.authorization, HUMA_CONCURRENCY, huma_transport),
        fetch_all(recorded.crona.urls, recorded.crona.authorization, CRONA_CONCURRENCY, crona_transport),
    )
    seconds = time.perf_counter() - started
    return BareRun(seconds, huma_transport.requests + crona_transport.requests, list(counts))


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=5000, help="people to seed (default %(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating (default %(default)s)")
    parser.add_argument("--server", choices=("module", "inline"), default="module",
                        help="serve the sandboxes with `python -m humacrona_sandbox` (default) or with a "
                             "small inline script")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    print(f"starting the sandboxes with {args.employees} people in a separate process ...", flush=True)
    sandboxes = start_sandboxes(args.employees, args.seed, args.server)
    try:
        for line in sandboxes.banner[:1]:
            print(line, flush=True)
        pipeline_runs: list[PipelineRun] = []
        bare_runs: list[BareRun] = []
        for round_number in range(1, args.rounds + 1):
            pipeline = asyncio.run(run_pipeline(sandboxes.env))
            pipeline_runs.append(pipeline)
            print(f"round {round_number}: pipeline {pipeline.seconds:7.3f} s  ({pipeline.huma_rows} Huma rows, "
                  f"{pipeline.crona_rows} Crona rows, {pipeline.requests} requests)", flush=True)
            bare = asyncio.run(run_bare(pipeline))
            bare_runs.append(bare)
            print(f"round {round_number}: bare     {bare.seconds:7.3f} s  ({bare.requests} requests)", flush=True)
    finally:
        sandboxes.stop()

    best_pipeline = min(pipeline_runs, key=lambda r: r.seconds)
    best_bare = min(bare_runs, key=lambda r: r.seconds)
    ratio = best_bare.seconds / best_pipeline.seconds
    print(f"best of {args.rounds}: pipeline {best_pipeline.seconds:.3f} s, bare {best_bare.seconds:.3f} s, "
          f"throughput ratio {ratio:.2f} (bare / pipeline; 1.0 = no overhead)")
    print(f"pipeline: {best_pipeline.requests / best_pipeline.seconds:,.0f} requests/s; "
          f"bare: {best_bare.requests / best_bare.seconds:,.0f} requests/s")
    print(json.dumps({
        "employees": args.employees,
        "huma_rows": best_pipeline.huma_rows,
        "crona_rows": best_pipeline.crona_rows,
        "pipeline_s": round(best_pipeline.seconds, 4),
        "bare_s": round(best_bare.seconds, 4),
        "throughput_ratio": round(ratio, 4),
        "requests": best_pipeline.requests,
        "bare_requests": best_bare.requests,
        "rounds": args.rounds,
        "pipeline_runs_s": [round(r.seconds, 4) for r in pipeline_runs],
        "bare_runs_s": [round(r.seconds, 4) for r in bare_runs],
        "concurrency": {"huma": HUMA_CONCURRENCY, "crona": CRONA_CONCURRENCY},
    }))


if __name__ == "__main__":
    main()
