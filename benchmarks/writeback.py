"""Write-back throughput: how close does the `sync_users` write-back come to a bare httpx loop?

    uv run python benchmarks/writeback.py --employees 5000 --repeat 3

The plan: both sandboxes (one process, `python -m humacrona_sandbox`, free ports of 127.0.0.1) are
read once and planned with Huma winning every field but the private email (Crona's), gaps filled and creates
both ways. On top of the seed's discrepancies every employee gets a planted change on each side — in the
extracted rows, before planning: a new family name in Huma (written to Crona) and a new private email in Crona
(written to Huma) — so every employee has an operation in each system it is in, and the one-sided ones are
created in the other.

Each repeat then runs, each against a freshly started sandbox process of the same seed (the same state):

- ours: what `sync_users` does after planning — `connectors.writeback.apply_plan` per system (Huma, then
  Crona) with the audit ledger written ahead as `defs.apply.recorded_writes.write_recorded` does (`Ledger.write_ahead`
  as the write-back's journal: each employee's pending rows committed before its first request, its outcome
  after it; `mark_verification` after the read-back) in a fresh SQLite state database, the verification the
  write-back does (reading every written record back), and the report (`report.summary.build_report` +
  `report.html.write_html`);
- bare: a plain asyncio + httpx loop that sends exactly the requests ours sent (recorded at the transport:
  method, path, body), in the same phases: each employee's writes in order, as many employees at a time per
  system as ours (8 Huma, 4 Crona), then the read-backs, as many at a time as ours (16 Huma, 4 Crona); one
  token request per system, ids of records created in this run taken from its own answers, and a JSON decode
  of every answer — but no ledger, no comparison of what was read, no report. `bare_writes_s` is its write
  phase alone: what a loop that does not read back would take.

Both go through the same transport class; the sandbox processes are started the same way and are not timed.
The last line printed is one JSON object; `throughput_ratio` is bare_s / ours_s (1.0: our write-back costs
nothing beyond its requests), each the median over `--repeat`; every repeat's figures (`ratio_runs`: each
repeat's own ratio) and the spread are there too. `ledger_s` is the time spent in the ledger's calls (in the
write-back's worker thread, mostly while the event loop goes on writing, plus `mark_verification`);
`verification_s` the time of the read-backs, reads included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract import start_sandboxes

from humacrona_pipeline.connectors import writeback
from humacrona_pipeline.connectors.crona import TOKEN_PATH as CRONA_TOKEN_PATH
from humacrona_pipeline.connectors.crona import CronaClient, extract_crona
from humacrona_pipeline.connectors.huma import TOKEN_PATH as HUMA_TOKEN_PATH
from humacrona_pipeline.connectors.huma import HumaClient, extract_huma
from humacrona_pipeline.connectors.writing.writer import Writer
from humacrona_pipeline.core.canonical import build_table
from humacrona_pipeline.core.fields import CRONA, HUMA
from humacrona_pipeline.core.plan import SyncPlan, plan
from humacrona_pipeline.core.policy import Policy, policy_from_mapping
from humacrona_pipeline.core.reconcile import reconcile
from humacrona_pipeline.report.html import write_html
from humacrona_pipeline.report.summary import build_report
from humacrona_pipeline.state import Ledger, db

POLICY = {"default_winner": "huma", "field_winners": {"private_email": "crona"}, "missing_values": "fill",
          "create_in_huma": "all", "create_in_crona": "all", "approve_mass_change": True}
# What `apply_plan` and the resources use: employees written at a time, and connections per client.
WRITERS = {HUMA: 8, CRONA: 4}
CONNECTIONS = {HUMA: 16, CRONA: 4}
TOKEN_PATHS = {HUMA: HUMA_TOKEN_PATH, CRONA: CRONA_TOKEN_PATH}
ORDER = (HUMA, CRONA)  # as the in-process executor runs the two write-back assets: one after the other

_writing: contextvars.ContextVar[str | None] = contextvars.ContextVar("writing", default=None)
_reading: contextvars.ContextVar[bool] = contextvars.ContextVar("reading", default=False)
_ID_SEGMENT = re.compile(r"^(?:[0-9a-fA-F-]{32,36}|\d+)$")


# ---------------------------------------------------------------------------------------------- the plan


def plant(huma_raw: pd.DataFrame, crona_raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every employee changed on both sides: a new family name in Huma, a new private email in Crona."""
    huma_raw, crona_raw = huma_raw.copy(), crona_raw.copy()
    huma_raw["familyName"] = [f"{v}-Bench" if isinstance(v, str) and v else v for v in huma_raw["familyName"]]
    crona_raw["EpostPriv"] = [f"bench.{n}@example.net" for n in crona_raw["AnstNr"]]
    return huma_raw, crona_raw


@dataclass
class Planned:
    sync_plan: SyncPlan
    conflicts: pd.DataFrame
    policy: Policy


def make_plan(env: dict[str, str]) -> Planned:
    huma = HumaClient(env["HUMA_BASE_URL"], env["HUMA_CLIENT_ID"], env["HUMA_CLIENT_SECRET"])
    crona = CronaClient(env["CRONA_BASE_URL"], env["CRONA_ACTIVATION_CODE"])
    huma_raw, crona_raw = plant(pd.DataFrame(extract_huma(huma)), pd.DataFrame(extract_crona(crona)))
    policy = policy_from_mapping(POLICY)
    rec = reconcile(build_table(huma_raw, HUMA), build_table(crona_raw, CRONA))
    return Planned(plan(rec, policy), rec.conflicts, policy)


# ------------------------------------------------------------------------------------------- transport


def _record_key(path: str) -> str:
    """`/users/{id}/positions` -> `/users/{id}`: the record a read-back request belongs to."""
    parts = path.split("/")
    ids = [i for i, p in enumerate(parts) if _ID_SEGMENT.match(p)]
    return "/".join(parts[: ids[0] + 1]) if ids else path


def path_class(method: str, url: str) -> str:
    """`PATCH /users/{id}`: the request with its ids (UUIDs, numbers) and query left out."""
    path = httpx.URL(url).path
    return f"{method} " + "/".join("{id}" if _ID_SEGMENT.match(s) else s for s in path.split("/"))


@dataclass
class Call:
    method: str
    url: str  # path and query
    content: bytes
    content_type: str | None
    created: str | None = None  # the id the answer gave the record this POST created
    needs: tuple[str, ...] = ()  # ids created earlier in the run that this request names


class RecordingTransport(httpx.AsyncBaseTransport):
    """Counts requests by class and, when recording, keeps the write-back's requests per employee (in memory)."""

    def __init__(self, record: bool):
        self.inner = httpx.AsyncHTTPTransport()
        self.record = record
        self.classes: Counter = Counter()
        self.calls: dict[str, list[Call]] = {}
        self.reads: dict[str, list[Call]] = {}
        self.token: Call | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.classes[path_class(request.method, str(request.url))] += 1
        if not self.record:
            return await self.inner.handle_async_request(request)
        call = Call(request.method, request.url.raw_path.decode("ascii"), request.content,
                    request.headers.get("content-type"))  # the path and query: a fresh sandbox has another port
        employee = _writing.get()
        reading = _reading.get()
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            await response.aread()
            if response.is_success:
                try:
                    body = json.loads(response.content)
                except ValueError:
                    body = None
                if isinstance(body, dict) and isinstance(body.get("id"), str):
                    call.created = body["id"]
        if any(request.url.path.endswith(p) for p in TOKEN_PATHS.values()):
            self.token = self.token or call
        elif employee is not None:
            self.calls.setdefault(employee, []).append(call)
        elif reading:  # verification: one sequence per record read back (a Huma user is two GETs)
            self.reads.setdefault(_record_key(request.url.path), []).append(call)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _linked(calls: dict[str, list[Call]]) -> None:
    """Mark every request that names an id created earlier in the run (before timing, once)."""
    created = {c.created for seq in calls.values() for c in seq if c.created}
    if not created:
        return
    pattern = re.compile("|".join(map(re.escape, created)))
    for seq in calls.values():
        for c in seq:
            found = set(pattern.findall(c.url)) | set(pattern.findall(c.content.decode("utf-8", "replace")))
            c.needs = tuple(sorted(found - {c.created}))


# -------------------------------------------------------------------------------------------------- ours


@contextlib.contextmanager
def attributed(verification: Timed):
    """While inside: each request the write-back sends is tagged with the employee it writes (the writer's
    per-employee step) or as a read-back (the verification, timed into ``verification``), for the
    transports to record. Patches the writers' `Writer._one` and `connectors.writeback`'s verifiers for this
    process only, and puts them back."""
    one = Writer._one
    verifiers = {name: getattr(writeback, name) for name in ("verify_huma", "verify_crona")}

    async def tagged_one(self, employee):
        _writing.set(f"{self.target}:{employee.email}")  # this worker task's requests, until the next employee
        try:
            return await one(self, employee)
        finally:
            _writing.set(None)

    def reading(fn):
        async def verify(*args, **kwargs):
            _reading.set(True)  # in this task only: the read-backs
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                verification.seconds += time.perf_counter() - start
                verification.calls += 1
        return verify

    Writer._one = tagged_one
    for name, fn in verifiers.items():
        setattr(writeback, name, reading(fn))
    try:
        yield
    finally:
        Writer._one = one
        for name, fn in verifiers.items():
            setattr(writeback, name, fn)


@dataclass
class Timed:
    seconds: float = 0.0
    calls: int = 0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1
        return timed


@dataclass
class OursRun:
    seconds: float
    per_system_s: dict[str, float]
    ledger_s: float
    verification_s: float
    report_s: float
    statuses: dict[str, int]
    classes: Counter
    calls: dict[str, dict[str, list[Call]]]
    reads: dict[str, dict[str, list[Call]]]
    tokens: dict[str, Call | None]
    operations: int
    employees: dict[str, int]


def run_ours(env: dict[str, str], planned: Planned, folder: Path, index: int) -> OursRun:
    """The write-back as `sync_users` runs it (write_recorded per system, then the report), timed."""
    book = Ledger(f"sqlite:///{folder / f'state-{index}.sqlite'}")
    book.operations()  # the database and its table exist before timing, as in a Dagster run's state database
    ledger, verification = Timed(), Timed()
    write_ahead, mark_verification = ledger.wrap(book.write_ahead), ledger.wrap(book.mark_verification)
    run_id = f"bench-{index}"
    transports = {HUMA: RecordingTransport(record=True), CRONA: RecordingTransport(record=True)}
    clients = {HUMA: HumaClient(env["HUMA_BASE_URL"], env["HUMA_CLIENT_ID"], env["HUMA_CLIENT_SECRET"],
                                concurrency=CONNECTIONS[HUMA], transport=transports[HUMA]),
               CRONA: CronaClient(env["CRONA_BASE_URL"], env["CRONA_ACTIVATION_CODE"],
                                  concurrency=CONNECTIONS[CRONA], transport=transports[CRONA])}
    operations = planned.sync_plan.operations
    outcomes, per_system = [], {}
    try:
        started = time.perf_counter()
        for target in ORDER:
            t0 = time.perf_counter()
            ops = operations[operations["target"] == target]
            with attributed(verification):
                out = writeback.apply_plan(clients[target], target, ops,
                                           journal=lambda pending, finished: write_ahead(run_id, pending, finished))
            mark_verification(run_id, out)
            outcomes.append(out)
            per_system[target] = time.perf_counter() - t0
        t0 = time.perf_counter()
        everything = pd.concat(outcomes, ignore_index=True)
        report = build_report(run_id, everything, planned.conflicts, planned.sync_plan.not_planned, planned.policy,
                              started_at=datetime.now(UTC), finished_at=datetime.now(UTC))
        write_html(report, folder / "reports")
        report_s = time.perf_counter() - t0
        seconds = time.perf_counter() - started
    finally:
        db.dispose_all()
    classes = transports[HUMA].classes + transports[CRONA].classes
    return OursRun(seconds, per_system, ledger.seconds, verification.seconds, report_s,
                   everything["status"].value_counts().to_dict(), classes,
                   {t: transports[t].calls for t in ORDER}, {t: transports[t].reads for t in ORDER},
                   {t: transports[t].token for t in ORDER},
                   len(everything), {t: int(everything.loc[everything["target"] == t, "employee"].nunique())
                                     for t in ORDER})


# -------------------------------------------------------------------------------------------------- bare


@dataclass
class BareRun:
    seconds: float
    per_system_s: dict[str, float]
    classes: Counter = field(default_factory=Counter)
    failed: int = 0
    writes_s: float = 0.0


async def _bare_system(base_url: str, token: Call, calls: dict[str, list[Call]], reads: dict[str, list[Call]],
                       writers: int, connections: int, transport: RecordingTransport) -> tuple[int, float]:
    """Replay each employee's requests in order, `writers` employees at a time, then the read-backs,
    `connections` records at a time; the number of non-2xx answers and the seconds the writes took."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    created: dict[str, asyncio.Future] = {}
    failed = 0

    def future(old: str) -> asyncio.Future:
        if old not in created:
            created[old] = asyncio.get_running_loop().create_future()
        return created[old]

    async with httpx.AsyncClient(base_url=base_url, transport=transport, limits=limits, timeout=30.0) as client:
        answer = await client.request(token.method, token.url, content=token.content,
                                      headers={"content-type": token.content_type or "application/json"})
        answer.raise_for_status()
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

        async def send(call: Call) -> None:
            nonlocal failed
            url, content = call.url, call.content
            for old in call.needs:
                new = await future(old)
                url, content = url.replace(old, new), content.replace(old.encode(), new.encode())
            extra = {"content-type": call.content_type} if call.content_type else {}
            response = await client.request(call.method, url, content=content or None,
                                            headers={**headers, **extra})
            body = response.json() if response.content else None
            if not response.is_success:
                failed += 1
            elif call.created and isinstance(body, dict) and "id" in body:
                future(call.created).set_result(body["id"])

        async def worker(queue, together: bool) -> None:
            for sequence in queue:
                if together:  # a record's reads, as the client sends them: at the same time
                    await asyncio.gather(*(send(call) for call in sequence))
                else:
                    for call in sequence:
                        await send(call)

        started = time.perf_counter()
        writes = iter(calls.values())
        await asyncio.gather(*(worker(writes, False) for _ in range(min(writers, len(calls)) or 1)))
        writes_s = time.perf_counter() - started
        records = iter(reads.values())
        await asyncio.gather(*(worker(records, True) for _ in range(min(connections, len(reads)) or 1)))
    return failed, writes_s


def run_bare(env: dict[str, str], recorded: OursRun) -> BareRun:
    return replay(env, {t: (recorded.calls[t], recorded.reads[t], recorded.tokens[t]) for t in ORDER})


def replay(env: dict[str, str], recorded: dict[str, tuple[dict, dict, Call | None]]) -> BareRun:
    """The bare loop against the sandboxes of ``env``: per system (`ORDER`), its recorded (writes per
    employee, reads per record, token request), linked by `_linked`."""
    run = BareRun(0.0, {})
    started = time.perf_counter()
    for target in ORDER:
        transport = RecordingTransport(record=False)
        calls, reads, token = recorded[target]
        t0 = time.perf_counter()
        if calls or reads:
            base_url = env["HUMA_BASE_URL" if target == HUMA else "CRONA_BASE_URL"]
            failed, writes_s = asyncio.run(_bare_system(base_url, token, calls, reads, WRITERS[target],
                                                        CONNECTIONS[target], transport))
            run.failed += failed
            run.writes_s += writes_s
        run.per_system_s[target] = time.perf_counter() - t0
        run.classes += transport.classes
    run.seconds = time.perf_counter() - started
    return run


# ---------------------------------------------------------------------------------------------- main


def _spread(values: list[float]) -> dict:
    return {"min": round(min(values), 4), "max": round(max(values), 4),
            "stdev": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=5000, help="people to seed (default %(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="repeats of (ours, bare) (default %(default)s)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    def fresh():
        return start_sandboxes(args.employees, args.seed)

    sandboxes = fresh()
    try:
        planned = make_plan(sandboxes.env)
    finally:
        sandboxes.stop()
    operations = planned.sync_plan.operations
    print(f"# plan: {len(operations)} operations: " + ", ".join(
        f"{t} {a} {n}" for (t, a), n in operations.groupby(["target", "action"]).size().items()), flush=True)
    ours_runs: list[OursRun] = []
    bare_runs: list[BareRun] = []
    recorded: OursRun | None = None
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.repeat):
            sandboxes = fresh()
            try:
                ours = run_ours(sandboxes.env, planned, Path(folder), i)
            finally:
                sandboxes.stop()
            ours_runs.append(ours)
            if recorded is None:
                recorded = ours
                for target in ORDER:
                    _linked({**{f"w{k}": v for k, v in recorded.calls[target].items()},
                             **{f"r{k}": v for k, v in recorded.reads[target].items()}})
            print(f"repeat {i + 1}: ours {ours.seconds:7.3f} s (ledger {ours.ledger_s:.3f} s, verification "
                  f"{ours.verification_s:.3f} s, report {ours.report_s:.3f} s) {ours.statuses}", flush=True)
            sandboxes = fresh()
            try:
                bare = run_bare(sandboxes.env, recorded)
            finally:
                sandboxes.stop()
            bare_runs.append(bare)
            print(f"repeat {i + 1}: bare {bare.seconds:7.3f} s ({sum(bare.classes.values())} requests, "
                  f"{bare.failed} not 2xx)", flush=True)

    ours_s = statistics.median(r.seconds for r in ours_runs)
    bare_s = statistics.median(r.seconds for r in bare_runs)
    ratios = [b.seconds / o.seconds for o, b in zip(ours_runs, bare_runs)]
    first = ours_runs[0]
    summary = {
        "employees": args.employees,
        "operations": first.operations,
        "employees_written": first.employees,
        "statuses": first.statuses,
        "throughput_ratio": round(bare_s / ours_s, 4),
        "ours_s": round(ours_s, 4),
        "bare_s": round(bare_s, 4),
        "bare_writes_s": round(statistics.median(r.writes_s for r in bare_runs), 4),
        "ledger_s": round(statistics.median(r.ledger_s for r in ours_runs), 4),
        "verification_s": round(statistics.median(r.verification_s for r in ours_runs), 4),
        "report_s": round(statistics.median(r.report_s for r in ours_runs), 4),
        "ours_per_system_s": {t: round(statistics.median(r.per_system_s[t] for r in ours_runs), 4) for t in ORDER},
        "bare_per_system_s": {t: round(statistics.median(r.per_system_s[t] for r in bare_runs), 4) for t in ORDER},
        "requests": dict(sorted(first.classes.items())),
        "bare_requests": dict(sorted(bare_runs[0].classes.items())),
        "bare_not_2xx": bare_runs[0].failed,
        "repeat": args.repeat,
        "ours_runs_s": [round(r.seconds, 4) for r in ours_runs],
        "bare_runs_s": [round(r.seconds, 4) for r in bare_runs],
        "ratio_runs": [round(r, 4) for r in ratios],
        "spread": {"ours_s": _spread([r.seconds for r in ours_runs]),
                   "bare_s": _spread([r.seconds for r in bare_runs]), "ratio": _spread(ratios)},
        "concurrency": {"writers": WRITERS, "connections": CONNECTIONS},
        "target": 0.8,
    }
    summary["pass"] = summary["throughput_ratio"] >= summary["target"]
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
