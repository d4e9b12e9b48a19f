"""`push_huma_changes`: push the Huma users a batch of webhooks named to Crona, at once.

The `huma_changes_sensor` launches it with the batch in the run config (`READ_OP`'s config: the users' ids,
emails and topics, and the inbox events they came from). It is an op job, not assets: the sync's assets
(`huma_employees`, `sync_plan`, `crona_writeback`, ...) hold the whole of both systems, and materialising
them for a handful of employees would replace the full sync's values with a partial table (and its checks
would judge a partial table as the whole). The push reuses what those assets run, not the assets: the same
core (`core.canonical`, `core.reconcile`, `core.plan`: the push's planning is `core.push`, its reads
`connectors.lookups`), the same write-back and verification (`connectors.writeback.apply_plan`, through
`defs.apply.recorded_writes`) and the same audit ledger; it writes no HTML report and sends no email (a push
can come every few seconds; the ledger and the run's metadata say what it did).

Per connection: the job is partitioned by connection (`defs.partitions.CONNECTION_PARTITIONS`), so a run
pushes one connection's batch with that connection's resources (its Huma key and scope, its Crona company, its
policy and ledger) under that connection's run limit. A user whose current Huma details put them outside the
connection's Huma scope is never written by it: `huma_changes` reports them not pushed, naming the scope, and
the rest of the batch is pushed.

Pushes of the same employee never overlap: `huma_changes` first takes the batch's users in `state.push_locks`
(waiting while another run pushes one of them, e.g. the create of a user its update follows a second later),
and `push_report` gives them back (a run that fails before frees them by being over).

Steps: `resolve_interrupted_writes` concludes what an interrupted run left pending in the ledger
(`defs.apply.interrupted_op`), `huma_changes` reads (retried: reads change nothing), `push_plan` plans,
`crona_push` checks the guards and writes, `push_report` shows what happened per user and fails the run
when any write failed or did not read back as written, after everything was written and recorded. A failed
run can be re-executed from the Dagster UI with the same config (it reads Huma again); the next sync_users
catches up anyway."""


from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from ...connection.connections import DEFAULT_NAME
from ...connection.scope import ORGANISATION
from ...core.fields import CRONA
from ..apply.interrupted_op import resolve_interrupted_writes
from ..apply.recorded_writes import outcome_output, write_recorded
from ..apply.resources import LedgerResource
from ..connection import connection_failures, require_confirmed
from ..crona.resources import CronaResource
from ..huma.resources import HumaResource
from ..metadata import list_md, markdown_table
from ..partitions import CONNECTION_PARTITIONS
from ..policy import SyncPolicy
from ..reconcile.plan_metadata import plan_metadata
from ..types import DataFrame, HumaChanges, PushPlan

if TYPE_CHECKING:  # what a push runs (pandas, the core, the state database) is imported by its steps
    from ...core.push import ChangedUser

JOB_NAME = "push_huma_changes"
READ_OP = "huma_changes"


def lock_subject(user_id: str, connection: str = DEFAULT_NAME) -> str:
    """What a push locks for one user of its batch (`state.push_locks`): per connection, so that one connection's
    push never waits for another's."""
    return f"{connection}/huma-user:{user_id}"


def run_connection(context: dg.OpExecutionContext) -> str:
    """The connection this run pushes: its partition (`default` for a run launched without one)."""
    return context.partition_key if context.has_partition_key else DEFAULT_NAME


def outside_scope_reason(connection: str, huma: HumaResource) -> str:
    """Why a user outside the connection's Huma scope is not pushed (shown per user in the push report)."""
    return (f"outside connection {connection}'s Huma scope ({huma.scope_kind} {', '.join(huma.scope_ids)}): this"
            " connection never writes an employee of another company, location or team; the connection whose"
            " scope holds them pushes them")


class ChangedUserConfig(dg.Config):
    """One Huma user of the batch."""

    id: str = Field(description="The Huma user id (the webhook's users[].id).")
    email: str = Field(default="", description="The work email the latest event named (lower case); for reports.")
    topics: list[str] = Field(
        description="The batch's topics for this user (users-create, users-update, users-delete, users-export),"
        " each once, in the order of its last event: the last one is Huma's latest word.")


class HumaChangesConfig(dg.Config):
    """The batch: which users to push, and which inbox events named them."""

    users: list[ChangedUserConfig] = Field(description="The users to push, each once.")
    first_event_id: int = Field(default=0, description="The batch's first inbox event id (for reference).")
    last_event_id: int = Field(default=0, description="The batch's last inbox event id (for reference).")


def _users(config: HumaChangesConfig) -> "list[ChangedUser]":
    from ...core.push import ChangedUser
    from ...core.webhook_topics import TOPICS

    unknown = sorted({t for u in config.users for t in u.topics} - set(TOPICS))
    if unknown:
        raise dg.Failure(description=f"unknown webhook topic(s) {', '.join(unknown)}; Huma sends {', '.join(TOPICS)}",
                         allow_retries=False)
    seen: dict[str, ChangedUser] = {}
    for u in config.users:
        seen[u.id] = ChangedUser(u.id, u.email.strip().lower(), tuple(u.topics))
    return list(seen.values())


def _shown(frame: DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(frame))


@dg.op(
    name=READ_OP,
    ins={"resolved": dg.In(dg.Nothing)},  # after resolve_interrupted_writes
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    description="Waits while another push holds one of the batch's users, then reads the batch's users as Huma "
    "has them now (GET /users/{id} and positions; a webhook is only the signal) and their Crona employees (GET "
    "/anstallda/{employment ID} when it is the same person by work email, else the Crona listing searched by work "
    "email). Deleted and no-longer-existing users, and users outside the connection's Huma scope, are reported, "
    "not pushed.",
)
def huma_changes(context: dg.OpExecutionContext, config: HumaChangesConfig, huma: HumaResource,
                 crona: CronaResource, ledger: LedgerResource) -> dg.Output[HumaChanges]:
    from ...connectors.lookups import read_changes
    from ...state.push_locks import PushLocked, PushLocks

    users = _users(config)
    instance = context.instance
    connection = run_connection(context)

    def is_over(run_id: str) -> bool:
        run = instance.get_run_by_id(run_id)
        return run is None or run.is_finished

    try:
        waited_s, waited_for = PushLocks(ledger.url).take([lock_subject(u.id, connection) for u in users],
                                                          context.run_id, is_over)
    except PushLocked as error:
        raise dg.Failure(description=f"{error}; the events stay in the inbox (re-execute this run, or sync_users"
                         " catches up)", allow_retries=False) from None
    if waited_for:
        context.log.info(f"waited {waited_s:.1f} s for run(s) {', '.join(waited_for)} pushing the same employee(s)")
    scoped = huma.scope_kind != ORGANISATION  # the scope guard: read each user's groups with their details
    outside_reason = outside_scope_reason(connection, huma)
    with connection_failures():  # a misconfiguration fails the step with one line (and is not retried)
        changes = read_changes(huma.client(), crona.client(), users, outside_reason=outside_reason)
    outside = int((changes.not_pushed["reason"] == outside_reason).sum()) if scoped else 0
    context.log.info(f"connection {connection}, inbox events {config.first_event_id}-{config.last_event_id}: "
                     f"{len(users)} users; {len(changes.huma_rows)} read from Huma, {len(changes.crona_rows)} Crona "
                     f"employees found, {len(changes.not_pushed) - outside} deleted or gone, {outside} outside its "
                     "Huma scope")
    return dg.Output(changes, metadata={
        "users": len(users),
        "read_from_huma": len(changes.huma_rows),
        "crona_employees_found": len(changes.crona_rows),
        "deleted_or_gone": len(changes.not_pushed) - outside,
        "outside_scope": outside,
        "first_event_id": config.first_event_id,
        "last_event_id": config.last_event_id,
        "not_pushed": _shown(changes.not_pushed),
        "waited_for_other_pushes_s": round(waited_s, 3),
    })


@dg.op(
    description="Canonical tables of just these people, reconciled and planned with Huma winning every field "
    "(the webhook says Huma changed; see core.push.push_policy) and the policy's other rules; only operations on "
    "Crona are kept. Creates only users Huma created in this batch, and only with auto_create_in_crona.",
)
def push_plan(context: dg.OpExecutionContext, huma_changes: HumaChanges, policy: SyncPolicy) -> dg.Output[PushPlan]:
    from ...core.push import plan_push, push_guard_violations

    rules = policy.policy()
    push = plan_push(huma_changes, rules)
    results = push.users["result"].value_counts().to_dict()
    context.log.info(f"{len(push.plan.operations)} Crona operations for "
                     f"{push.plan.operations['employee'].nunique()} employees; "
                     + ", ".join(f"{k} {v}" for k, v in sorted(results.items())))
    metadata = plan_metadata(push.plan, push.policy)
    metadata.pop("update_share")  # against the pushed employees it means nothing; see push_guard_violations
    metadata.update({
        "max_update_share": rules.max_update_share,
        "max_creates": rules.max_creates,
        "approve_mass_change": rules.approve_mass_change,
        "guard_violations": list_md(push_guard_violations(push, rules)),
        "crona_employees": push.crona_employees if push.crona_employees is not None else "not read",
        "auto_create_in_crona": rules.auto_create_in_crona,
        **{f"users_{k.replace(' ', '_')}": int(v) for k, v in results.items()},
        "users": _shown(push.users),
        "not_pushed": _shown(push.not_pushed),
        "quarantine": _shown(push.quarantine),
    })
    return dg.Output(push, metadata=metadata)


@dg.op(
    description="Refuses a connection nobody confirmed (`humacrona check --confirm`), checks the guards "
    "(max_creates; max_update_share against every Crona employee, for pushes "
    "updating more than a handful), then writes the operations to Crona with the sync's write-back, reads "
    "them back to verify, and records every attempt in the audit ledger. One row per operation.",
)
def crona_push(context: dg.OpExecutionContext, push_plan: PushPlan, crona: CronaResource, huma: HumaResource,
               policy: SyncPolicy, ledger: LedgerResource) -> dg.Output[DataFrame]:
    from ...core.push import push_guard_violations

    require_confirmed(huma, crona, ledger)  # nothing is written on a connection nobody confirmed
    rules = policy.policy()
    violations = push_guard_violations(push_plan, rules)
    if violations and not rules.approve_mass_change:
        basis = (f" (max_update_share counts against all {push_plan.crona_employees} Crona employees)"
                 if any("max_update_share" in v for v in violations) else "")
        raise dg.Failure(description="The push exceeds the policy's guards; nothing was written: "
                         + "; ".join(violations) + basis + ". Run sync_users to review it, or set"
                         " approve_mass_change.", allow_retries=False)
    if crona.paxml:  # no request to make: the next sync's import file carries these changes
        from ...connectors.paxml.import_file import not_pushed

        outcomes = not_pushed(push_plan.plan.operations)
        if len(outcomes):
            ledger.ledger().record(context.run.run_id, outcomes)
        return outcome_output(context, CRONA, outcomes)
    with connection_failures():
        return write_recorded(context, crona.client(), CRONA, push_plan.plan.operations, ledger)


@dg.op(
    description="What the push did, per user (pushed, in sync, not pushed with the reason) and per operation "
    "status; then frees the users for the next push of them. Fails the run when any operation failed or is unverified "
    "(after everything was written and recorded).",
)
def push_report(context: dg.OpExecutionContext, push_plan: PushPlan, crona_push: DataFrame,
                ledger: LedgerResource) -> dg.Output[dict]:
    from ...state.push_locks import PushLocks

    try:
        return _report(context, push_plan, crona_push)
    finally:  # written and recorded: another push of these employees may go
        PushLocks(ledger.url).release(context.run_id)


def _report(context: dg.OpExecutionContext, push_plan: PushPlan, crona_push: DataFrame) -> dg.Output[dict]:
    from ...core.outcomes import FAILED, UNVERIFIED
    from ...core.push import IN_SYNC, NOT_PUSHED, PUSHED

    statuses = {str(k): int(v) for k, v in crona_push["status"].value_counts().items()}
    users = push_plan.users.copy()
    if not crona_push.empty:  # each user's operations by how they ended
        ended = crona_push.groupby("employee")["status"].agg(lambda s: ", ".join(
            f"{k} {v}" for k, v in sorted(s.value_counts().items())))
        users["statuses"] = users["employee"].map(ended).fillna("")
    else:
        users["statuses"] = ""
    results = {str(k): int(v) for k, v in users["result"].value_counts().items()}
    summary = {
        "statuses": statuses,
        "users": len(users),
        PUSHED: results.get(PUSHED, 0),
        IN_SYNC: results.get(IN_SYNC, 0),
        NOT_PUSHED: results.get(NOT_PUSHED, 0),
        "not_pushed": push_plan.not_pushed[["user_id", "employee", "reason"]].to_dict("records"),
    }
    metadata = {
        "users": len(users),
        "pushed": summary[PUSHED],
        "in_sync": summary[IN_SYNC],
        "not_pushed": summary[NOT_PUSHED],
        **{f"operations_{s}": n for s, n in statuses.items()},
        "per_user": _shown(users),
        "not_pushed_reasons": _shown(push_plan.not_pushed),
        "not_planned": _shown(push_plan.plan.not_planned),
    }
    line = (f"{len(users)} users: {summary[PUSHED]} pushed, {summary[IN_SYNC]} in sync, "
            f"{summary[NOT_PUSHED]} not pushed; operations: "
            + (", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) or "none"))
    for row in push_plan.not_pushed.itertuples(index=False):
        context.log.info(f"not pushed: {row.employee or row.user_id}: {row.reason}")
    bad = {s: n for s, n in statuses.items() if s in (FAILED, UNVERIFIED) and n}
    if bad:
        raise dg.Failure(description=f"{line}; " + ", ".join(f"{n} {s}" for s, n in bad.items())
                         + " (see crona_push's failed_or_unverified and the audit ledger)",
                         metadata=metadata, allow_retries=False)
    context.log.info(line)
    return dg.Output(summary, metadata=metadata)


@dg.job(
    name=JOB_NAME,
    description="Push the Huma users a batch of webhooks named to Crona Lön (launched by huma_changes_sensor, "
    "one run per batch): read their current details from Huma, find their Crona employees by work email, plan "
    "with Huma winning every field, write and verify, record in the audit ledger. Never deletes; creates only "
    "with auto_create_in_crona. Changes made in Crona reach Huma through sync_users.",
    tags={"humacrona/trigger": "huma-webhook"},
    partitions_def=CONNECTION_PARTITIONS,  # a run is one connection's: its resources, its run limit
    # Seconds matter here: four small steps in one process, not a process each (~4 s of start-up per step).
    executor_def=dg.in_process_executor,
)
def push_huma_changes():
    planned = push_plan(huma_changes(resolve_interrupted_writes()))
    push_report(planned, crona_push(planned))
