"""`huma_changes_sensor`: turns the webhook inbox into `push_huma_changes` runs, one per batch of users.

Per connection: each connection's events are in its own inbox (`Inbox(connection=…)`, stored by the receiver
from that connection's path), and a tick evaluates each connection's inbox on its own, with its own cursor. A
batch is one connection's, its run that connection's partition (`partition_key`: the run gets that connection's
resources), and its run key and claim name the connection (``<connection>/inbox-…``), so one connection's batch
never claims, holds up or blocks another's; a connection whose inbox cannot be read or claimed is logged and
skipped for the tick, and the others are requested as usual. The sensor's cursor is a JSON mapping of
connection → the id of the last inbox event handled (`read_cursor`); a cursor of an older version (one event
id, from before there were several connections) is the `default` connection's.

Each tick reads a connection's inbox after its cursor (none yet: 0), at most `EVENTS_PER_TICK` events, oldest
first, and cuts them into batches of at most `BATCH_USERS` distinct users. A user named by several events of a
batch is pushed once, with every topic (a user created and then updated is one create + update). Batches end at
event boundaries, so a batch is named by its connection and its first and last event id
(`<connection>/inbox-{first}-{last}`, the run key): Dagster launches a run key once per sensor, so a tick
evaluated again from the same cursor (a daemon restart before the cursor was stored) requests the same
batches and none runs twice. Only an event naming more users than a batch holds (an `users-export` sends
everyone) is split, into numbered parts of that one event (`…/inbox-{id}-{id}-{k}of{n}`).

Claims (`Inbox.claim`): a receiver that pushes (`trigger.py`) stores its events claimed `PENDING` and asks for
their runs itself right away, so the sensor is the backstop. Before requesting a batch, a tick claims its
events with the run key (``sensor:<connection>/inbox-…``): the unclaimed ones, and those still `PENDING` after
`CLAIM_GRACE_S` (the receiver's workers died or are stuck); an event the receiver claimed for a run
(``receiver:<connection>/inbox-…``) is left to that run. A tick asks again for every claim after its cursor whose
run does not exist: its own (a tick whose runs were never created) at once, the receiver's once `CLAIM_GRACE_S`
have passed (the worker died between claiming and creating the run); a younger one holds the cursor there, so
nothing behind it is skipped. A claim's events are batched again exactly as the claimant batched them, so
the request has the same run key, and no run key is requested while a run with it exists: a batch runs
once, whoever asked first.

The sensor runs by default (`DefaultSensorStatus.RUNNING`): it only reads the local inbox, which stays empty
until a webhook receiver stores Huma's events, so it does nothing (a skipped tick) until real-time sync is set
up, and once Huma sends webhooks, their changes reach payroll as soon as the daemon runs, without anyone
remembering to switch the sensor on (events would otherwise pile up unpushed). Turn it off in the UI to pause
real-time pushes; the cursor keeps its place, and the events wait in the inbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from ...connection.connections import DEFAULT_NAME
from ..partitions import CONNECTION_PARTITIONS, PARTITION_TAG
from .jobs import READ_OP, push_huma_changes
from .resources import InboxResource

if TYPE_CHECKING:  # the inbox (SQLAlchemy) is imported by the tick that reads it, not when the code location loads
    from ...state.inbox import Inbox, InboxEvent

SENSOR_NAME = "huma_changes_sensor"
BATCH_USERS = 200  # users per push run at most
EVENTS_PER_TICK = 1000  # inbox events read per tick at most; the rest wait for the next tick
MINIMUM_INTERVAL_S = 2
SENSOR, RECEIVER = "sensor", "receiver"  # who claimed an event: the claim is "<who>:<run key>"
CLAIM_GRACE_S = 30.0  # a receiver's claim (pending, or without its run) this old: the sensor asks for the run
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"


@dataclass
class Batch:
    """Users of consecutive inbox events, pushed by one run."""

    first_id: int
    last_id: int
    part: tuple[int, int] | None = None  # (k, n): part k of n of one event too large for a batch
    users: dict[str, dict] = field(default_factory=dict)  # user id -> {"id", "email", "topics"}, first seen first
    event_ids: list[int] = field(default_factory=list)
    connection: str = DEFAULT_NAME  # whose inbox the events are in: the run's partition

    def add(self, event: InboxEvent, only: set[str] | None = None) -> None:
        self.last_id = event.id
        self.event_ids.append(event.id)
        for i, user_id in enumerate(event.user_ids):
            if only is not None and user_id not in only:
                continue
            email = event.emails[i] if i < len(event.emails) else ""
            user = self.users.setdefault(user_id, {"id": user_id, "email": "", "topics": []})
            if email:
                user["email"] = email
            if event.topic in user["topics"]:
                user["topics"].remove(event.topic)
            user["topics"].append(event.topic)  # order of last occurrence: the last is the latest

    @property
    def claim_key(self) -> str:
        """The run key without the part: what the batch's events are claimed with (all parts share it)."""
        return f"{self.connection}/inbox-{self.first_id}-{self.last_id}"

    @property
    def run_key(self) -> str:
        key = self.claim_key
        return f"{key}-{self.part[0]}of{self.part[1]}" if self.part else key

    def run_config(self) -> dict:
        return {"ops": {READ_OP: {"config": {
            "users": [{"id": u["id"], "email": u["email"], "topics": list(u["topics"])} for u in self.users.values()],
            "first_event_id": self.first_id,
            "last_event_id": self.last_id,
        }}}}

    def tags(self) -> dict[str, str]:
        return {"humacrona/trigger": "huma-webhook", "humacrona/inbox_events": f"{self.first_id}-{self.last_id}",
                "humacrona/users": str(len(self.users))}

    def run_request(self) -> dg.RunRequest:
        return dg.RunRequest(run_key=self.run_key, run_config=self.run_config(), tags=self.tags(),
                             partition_key=self.connection)

    def run_tags(self, who: str) -> dict[str, str]:
        """The tags of a run created for this batch outside a sensor tick: those the sensor's daemon adds too, so
        the daemon, like the sensor, sees that this run key has its run, and the run is its connection's
        partition (that connection's resources, its run limit)."""
        return {**self.tags(), RUN_KEY_TAG: self.run_key, SENSOR_NAME_TAG: SENSOR_NAME, PARTITION_TAG: self.connection,
                "humacrona/launched_by": who}


def claim(who: str, claim_key: str) -> str:
    return f"{who}:{claim_key}"


def claimant(claimed_by: str) -> str:
    return claimed_by.split(":", 1)[0]


def claim_batches(events: Sequence[InboxEvent], cap: int = BATCH_USERS,
                  connection: str = DEFAULT_NAME) -> list[list[Batch]]:
    """`batch_events` grouped by claim: the parts of one event too large for a batch are claimed together."""
    groups: dict[str, list[Batch]] = {}
    for batch in batch_events(events, cap, connection):
        groups.setdefault(batch.claim_key, []).append(batch)
    return list(groups.values())


def batch_events(events: Sequence[InboxEvent], cap: int = BATCH_USERS, connection: str = DEFAULT_NAME) -> list[Batch]:
    """Consecutive events of one connection's inbox in batches of at most ``cap`` distinct users (see the module
    docstring)."""
    if cap < 1:
        raise ValueError("a batch holds at least one user")
    batches: list[Batch] = []
    current: Batch | None = None
    for event in events:
        ids = list(dict.fromkeys(event.user_ids))
        if len(ids) > cap:
            if current is not None:
                batches.append(current)
                current = None
            chunks = [ids[i:i + cap] for i in range(0, len(ids), cap)]
            for k, chunk in enumerate(chunks, 1):
                part = Batch(event.id, event.id, (k, len(chunks)), connection=connection)
                part.add(event, only=set(chunk))
                batches.append(part)
            continue
        if current is not None and len(current.users.keys() | set(ids)) > cap:
            batches.append(current)
            current = None
        if current is None:
            current = Batch(event.id, event.id, connection=connection)
        current.add(event)
    if current is not None:
        batches.append(current)
    return batches


def read_cursor(value: str | None) -> dict[str, int]:
    """The sensor's cursor as connection → last inbox event id handled; an older version's cursor (one event id)
    is the `default` connection's."""
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, int) and not isinstance(parsed, bool):
        return {DEFAULT_NAME: parsed}
    if isinstance(parsed, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in parsed.values()):
        return {str(k): v for k, v in parsed.items()}
    raise ValueError(f"the {SENSOR_NAME} cursor must map each connection to an inbox event id (JSON, e.g. "
                     f'{{"{DEFAULT_NAME}": 12}}), not {value!r}; reset it in the Dagster UI (Sensors → '
                     f"{SENSOR_NAME} → cursor)")


def write_cursor(cursors: Mapping[str, int]) -> str:
    return json.dumps(dict(sorted(cursors.items())), separators=(",", ":"))


def _age_s(claimed_at: str | None, now: datetime) -> float:
    if not claimed_at:
        return float("inf")
    return (now - datetime.fromisoformat(claimed_at)).total_seconds()


@dataclass(frozen=True)
class ConnectionTick:
    """What a tick does for one connection: its run requests, its new cursor (None: unchanged), and, when it asks
    for nothing, why."""

    requests: list[dg.RunRequest]
    cursor: int | None
    skip: str | None = None


def evaluate(inbox: Inbox, cursor: int, has_run: Callable[[str], bool], now: datetime | None = None,
             connection: str = DEFAULT_NAME) -> ConnectionTick:
    """The tick for one connection's inbox after ``cursor`` (see the module docstring): the unclaimed events
    claimed in batches, one run request per claimed batch whose run does not exist (``has_run(run_key)``), the
    cursor advanced to the last event read, or to just before a receiver's claim still waiting for its run."""
    from ...state.inbox import PENDING

    now = now or datetime.now(UTC)
    events = inbox.after(cursor, limit=EVENTS_PER_TICK)
    if not events:
        return ConnectionTick([], None, f"{connection}: no Huma webhook event after inbox event {cursor}")
    abandoned = [e for e in events if e.claimed_by == PENDING and _age_s(e.claimed_at, now) >= CLAIM_GRACE_S]
    for held, free in ((None, [e for e in events if e.claimed_by is None]), (PENDING, abandoned)):
        for group in claim_batches(free, connection=connection):  # False: the receiver was first
            inbox.claim(group[0].event_ids, claim(SENSOR, group[0].claim_key), held=held)
    events = [e for e in inbox.after(cursor, limit=EVENTS_PER_TICK) if e.id <= events[-1].id]
    requests: list[dg.RunRequest] = []
    held_at: int | None = None  # the first event the cursor may not pass yet
    seen: set[str] = set()
    for event in events:
        if event.claimed_by in (None, PENDING):  # the receiver's, or released by it since: not for this tick
            held_at = event.id if held_at is None else held_at
            continue
        if event.claimed_by in seen:
            continue
        seen.add(event.claimed_by)
        waits = claimant(event.claimed_by) == RECEIVER and _age_s(event.claimed_at, now) < CLAIM_GRACE_S
        for batch in batch_events(inbox.claimed(event.claimed_by), connection=connection):
            if not batch.users or has_run(batch.run_key):
                continue
            if waits:
                held_at = event.id if held_at is None else held_at
                break
            requests.append(batch.run_request())
    new_cursor = events[-1].id if held_at is None else held_at - 1
    skip = None if requests else (
        f"{connection}: inbox events {events[0].id}-{events[-1].id}: no run to ask for (pushed by the runs the"
        " receiver asked for, already requested, or naming no user)")
    return ConnectionTick(requests, new_cursor, skip)


def evaluate_all(open_inbox: Callable[[str], Inbox], cursors: Mapping[str, int], has_run: Callable[[str], bool],
                 connections: Sequence[str], log, now: datetime | None = None) -> dg.SensorResult:
    """Every connection's tick (`evaluate`), one after the other: a connection whose inbox cannot be read or
    claimed is logged and skipped (its cursor stays), the others' requests go ahead. The cursor changes only when
    some connection's does."""
    requests: list[dg.RunRequest] = []
    skips: list[str] = []
    moved = dict(cursors)
    for name in connections:
        try:
            tick = evaluate(open_inbox(name), cursors.get(name, 0), has_run, now, name)
        except Exception as error:  # noqa: BLE001 - one connection's inbox never stops another's pushes
            log.exception(f"connection {name}: its inbox could not be read or claimed ({type(error).__name__}); "
                          "skipped this tick, the other connections go ahead")
            skips.append(f"{name}: inbox unreadable ({type(error).__name__}), skipped")
            continue
        requests += tick.requests
        if tick.skip:
            skips.append(tick.skip)
        if tick.cursor is not None:
            moved[name] = tick.cursor
    cursor = write_cursor(moved) if moved != dict(cursors) else None
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason("; ".join(skips)), cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


def run_exists(instance: dg.DagsterInstance, run_key: str) -> bool:
    """Whether a run with this run key exists (asked for by the receiver or by a tick)."""
    return bool(instance.get_run_ids(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))


def build_changes_sensor(connections: dg.StaticPartitionsDefinition = CONNECTION_PARTITIONS) -> dg.SensorDefinition:
    """The sensor for these connections (the code location's: the push job's partitions)."""

    @dg.sensor(
        name=SENSOR_NAME,
        # By name, not `job=push_huma_changes`: Dagster 1.13 copies a sensor holding a job definition when it binds
        # the resources, and warns that the (unused) beta `owners` parameter was passed each time the code loads.
        # The definitions check that the job exists.
        job_name=push_huma_changes.name,
        minimum_interval_seconds=MINIMUM_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Real time: every few seconds, reads each connection's Huma webhook events the receiver "
        "stored in the inbox since the last tick and launches push_huma_changes for that connection's partition "
        f"once per batch of at most {BATCH_USERS} users (run key <connection>/inbox-<first event>-<last event>, "
        "so a batch runs once). A receiver with the connection settings starts its pushes itself: then this is "
        f"the backstop, taking over events nobody pushed within {CLAIM_GRACE_S:g} s and never asking twice for a "
        "claimed batch. The cursor maps each connection to the last inbox event id handled; a connection whose "
        "inbox cannot be read is skipped, the others go ahead. On by default: it does nothing until webhooks "
        "arrive.",
    )
    def huma_changes_sensor(context: dg.SensorEvaluationContext, inbox: InboxResource) -> dg.SensorResult:
        cursors = read_cursor(context.cursor)
        instance = context.instance
        result = evaluate_all(inbox.inbox, cursors, lambda key: run_exists(instance, key),
                              connections.get_partition_keys(), context.log)
        if result.run_requests:
            context.log.info(f"{len(result.run_requests)} push run(s): "
                             + ", ".join(r.run_key for r in result.run_requests))
        return result

    return huma_changes_sensor


huma_changes_sensor = build_changes_sensor()
