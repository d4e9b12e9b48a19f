"""`huma_changes_sensor`: turns the webhook inbox into `push_huma_changes` runs, one per batch of users.

Each tick reads the inbox after the sensor's cursor (the id of the last inbox event handled, as text; none
yet: 0), at most `EVENTS_PER_TICK` events, oldest first, and cuts them into batches of at most `BATCH_USERS`
distinct users. A user named by several events of a batch is pushed once, with every topic (a user created
and then updated is one create + update). Batches end at event boundaries, so a batch is named by its first
and last event id (`inbox-{first}-{last}`, the run key): Dagster launches a run key once per sensor, so a
tick evaluated again from the same cursor (a daemon restart before the cursor was stored) requests the same
batches and none runs twice. Only an event naming more users than a batch holds (an `users-export` sends
everyone) is split, into numbered parts of that one event (`inbox-{id}-{id}-{k}of{n}`).

Should the inbox grow between two evaluations from the same cursor, the last batch of the second may be a
longer one with another key; its users are then pushed twice, which is harmless: a push reads the users'
current values and finds nothing left to write.

The sensor runs by default (`DefaultSensorStatus.RUNNING`): it only reads the local inbox, which stays empty
until a webhook receiver stores Huma's events, so it does nothing (a skipped tick) until real-time sync is set
up, and once Huma sends webhooks, their changes reach payroll as soon as the daemon runs, without anyone
remembering to switch the sensor on (events would otherwise pile up unpushed). Turn it off in the UI to pause
real-time pushes; the cursor keeps its place, and the events wait in the inbox."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dagster as dg

from ...state.inbox import InboxEvent
from .jobs import READ_OP, push_huma_changes
from .resources import InboxResource

SENSOR_NAME = "huma_changes_sensor"
BATCH_USERS = 200  # users per push run at most
EVENTS_PER_TICK = 1000  # inbox events read per tick at most; the rest wait for the next tick
MINIMUM_INTERVAL_S = 2


@dataclass
class Batch:
    """Users of consecutive inbox events, pushed by one run."""

    first_id: int
    last_id: int
    part: tuple[int, int] | None = None  # (k, n): part k of n of one event too large for a batch
    users: dict[str, dict] = field(default_factory=dict)  # user id -> {"id", "email", "topics"}, first seen first

    def add(self, event: InboxEvent, only: set[str] | None = None) -> None:
        self.last_id = event.id
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
    def run_key(self) -> str:
        key = f"inbox-{self.first_id}-{self.last_id}"
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
        return dg.RunRequest(run_key=self.run_key, run_config=self.run_config(), tags=self.tags())


def batch_events(events: Sequence[InboxEvent], cap: int = BATCH_USERS) -> list[Batch]:
    """Consecutive events in batches of at most ``cap`` distinct users (see the module docstring)."""
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
                part = Batch(event.id, event.id, (k, len(chunks)))
                part.add(event, only=set(chunk))
                batches.append(part)
            continue
        if current is not None and len(current.users.keys() | set(ids)) > cap:
            batches.append(current)
            current = None
        if current is None:
            current = Batch(event.id, event.id)
        current.add(event)
    if current is not None:
        batches.append(current)
    return batches


def _cursor(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"the {SENSOR_NAME} cursor must be an inbox event id, not {value!r}; reset it in the"
                         " Dagster UI (Sensors → huma_changes_sensor → cursor)") from None


def evaluate(events: Iterable[InboxEvent], cursor: int) -> dg.SensorResult:
    """The tick's result for the events after ``cursor``: one run request per batch, the cursor advanced to
    the last event read; no events (or none naming a user): skipped."""
    events = list(events)
    if not events:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no Huma webhook event after inbox event {cursor}"))
    requests = [b.run_request() for b in batch_events(events) if b.users]
    new_cursor = str(events[-1].id)
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason(
            f"inbox events {events[0].id}-{events[-1].id} name no user"), cursor=new_cursor)
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


@dg.sensor(
    name=SENSOR_NAME,
    # By name, not `job=push_huma_changes`: Dagster 1.13 copies a sensor holding a job definition when it binds
    # the resources, and warns that the (unused) beta `owners` parameter was passed each time the code loads.
    # The definitions check that the job exists.
    job_name=push_huma_changes.name,
    minimum_interval_seconds=MINIMUM_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Real time: every few seconds, reads the Huma webhook events the receiver stored in the inbox "
    f"since the last tick and launches push_huma_changes once per batch of at most {BATCH_USERS} users (run "
    "key inbox-<first event>-<last event>, so a batch runs once). The cursor is the last inbox event id handled. "
    "On by default: it does nothing until webhooks arrive.",
)
def huma_changes_sensor(context: dg.SensorEvaluationContext, inbox: InboxResource) -> dg.SensorResult:
    cursor = _cursor(context.cursor)
    result = evaluate(inbox.inbox().after(cursor, limit=EVENTS_PER_TICK), cursor)
    if result.run_requests:
        context.log.info(f"{len(result.run_requests)} push run(s) for inbox events after {cursor}: "
                         + ", ".join(r.run_key for r in result.run_requests))
    return result
