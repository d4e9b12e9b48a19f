"""Apply: write the plan to both systems, verify what was written, record every attempt in the audit ledger,
and report the outcome (Dagster metadata, an HTML file, an email). The work is `connectors.writeback`'s,
`state.ledger`'s and `report`'s; these assets run it in order and show what happened."""


import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ...core.fields import CRONA, HUMA
from ...state.home import dagster_home
from ..connection import connection_failures, require_confirmed
from ..crona.resources import CronaResource
from ..email.resources import EmailResource
from ..huma.resources import HumaResource
from ..limits import CRONA_POOL, HUMA_POOL
from ..partitions import CONNECTION_PARTITIONS, shown_connection
from ..policy import SyncPolicy
from ..review import review_key
from ..types import DataFrame, SyncPlan
from .recorded_writes import write_file_recorded, write_recorded
from .resources import LedgerResource

REPORT_DIR_ENV = "HUMACRONA_REPORT_DIR"


def _write(context: dg.AssetExecutionContext, target: str, client, sync_plan: SyncPlan, policy: SyncPolicy,
           ledger: LedgerResource, huma: HumaResource, crona: CronaResource,
           **write_options) -> dg.Output[DataFrame]:
    from ...connectors.drift import DriftCheck

    rules = policy.policy()
    violations = sync_plan.guard_violations(rules)
    if violations and not rules.approve_mass_change:  # the blocking check stops this too; never rely on one guard
        raise dg.Failure(description="The plan exceeds the policy's guards; nothing was written: "
                         + "; ".join(violations), allow_retries=False)
    operations = sync_plan.operations[sync_plan.operations["target"] == target]
    drifted = None
    if sync_plan.basis is not None:  # a reviewed plan: the employees that drifted, and the last check
        drifted = _drifted_outcomes(sync_plan, target)
    refused = huma.creates_refused() if target == HUMA else None
    if refused is not None:  # never a Huma user outside the connection's scope
        operations, drifted = _creates_skipped(operations, refused, drifted)
    if client is None:  # Crona's PAXml channel: one import file; its export was read this run, no last check
        return write_file_recorded(context, crona, operations, ledger, drifted=drifted)
    if sync_plan.basis is not None:
        write_options["check"] = DriftCheck(huma.client(), crona.client(), sync_plan.basis, review_key(huma, crona),
                                            map_country_names=rules.map_country_names)
    return write_recorded(context, client, target, operations, ledger, drifted=drifted, **write_options)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _creates_skipped(operations: DataFrame, reason: str,
                     decided: "DataFrame | None") -> tuple[DataFrame, DataFrame]:
    """The operations without the creates, and the creates as `skipped` outcomes with ``reason`` (added to the
    outcomes already ``decided``), recorded in the ledger like the rest."""
    import pandas as pd

    from ...core.outcomes import OUTCOME_COLUMNS, SKIPPED
    from ...core.plan import CREATE

    creates = operations["action"] == CREATE
    skipped = operations[creates].assign(status=SKIPPED, error=reason, at=_now(), created_id=None)
    skipped = skipped[list(OUTCOME_COLUMNS)].astype(object).reset_index(drop=True)
    if decided is not None and len(decided):
        skipped = pd.concat([decided, skipped], ignore_index=True)
    return operations[~creates], skipped


def _drifted_outcomes(sync_plan: SyncPlan, target: str) -> DataFrame:
    """The reviewed plan's operations for ``target`` of employees that changed since the review, as outcomes."""
    from ...core.outcomes import DRIFTED, OUTCOME_COLUMNS, empty_outcomes

    drifted = sync_plan.drifted
    rows = drifted[drifted["target"] == target] if drifted is not None else None
    if rows is None or rows.empty:
        return empty_outcomes()
    out = rows.rename(columns={"reason": "error"}).assign(status=DRIFTED, at=_now(), created_id=None)
    return out[list(OUTCOME_COLUMNS)].astype(object).reset_index(drop=True)


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="apply",
    pool=CRONA_POOL,
    kinds={"python", "crona"},
    description="Writes the plan's Crona operations (one PATCH per employee, creates with every required "
    "field), reads them back to verify, and records every attempt in the audit ledger. One row per operation: "
    "applied, failed, skipped or unverified. On the PAXml channel: one PAXml 2.0 import file (validated against "
    "the schema, the run in its name), each operation `awaiting import` until a later export shows it.",
)
def crona_writeback(context: dg.AssetExecutionContext, sync_plan: SyncPlan, crona: CronaResource,
                    huma: HumaResource, policy: SyncPolicy, ledger: LedgerResource) -> dg.Output[DataFrame]:
    require_confirmed(huma, crona, ledger)  # the write gate: never rely on the check alone
    with connection_failures():
        return _write(context, CRONA, None if crona.paxml else crona.client(), sync_plan, policy, ledger, huma, crona)


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="apply",
    pool=HUMA_POOL,
    kinds={"python", "huma"},
    description="Writes the plan's Huma operations (user details, home address, bank account, current "
    "position and job title; creates user, details and position), verifies them and records every attempt in "
    "the audit ledger. One row per operation: applied, failed, skipped or unverified.",
)
def huma_writeback(context: dg.AssetExecutionContext, sync_plan: SyncPlan, huma: HumaResource,
                   crona: CronaResource, policy: SyncPolicy, ledger: LedgerResource) -> dg.Output[DataFrame]:
    require_confirmed(huma, crona, ledger)  # the write gate: never rely on the check alone
    with connection_failures():
        return _write(context, HUMA, huma.client(), sync_plan, policy, ledger, huma, crona,
                      huma_group_id=huma.group_id)


def report_dir() -> Path:
    """`HUMACRONA_REPORT_DIR`, else `reports/` under DAGSTER_HOME."""
    configured = os.environ.get(REPORT_DIR_ENV)
    base = Path(configured) if configured else dagster_home() / "reports"
    base.mkdir(parents=True, exist_ok=True)
    return base


def _started_at(context: dg.AssetExecutionContext) -> datetime:
    """When the run started (UTC); now for a run the instance has no start time of."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    start = record.start_time if record is not None and record.start_time else None
    return datetime.fromtimestamp(start, UTC) if start else datetime.now(UTC)


@dg.asset(
    partitions_def=CONNECTION_PARTITIONS,
    group_name="apply",
    kinds={"python", "html", "email"},
    description="The outcome of the sync: counts per system and status, conflicts resolved per field and "
    "who won, every failed, skipped, held and unverified operation with its reason. Written as an HTML file "
    "and emailed to the administrator (HUMACRONA_ADMIN_EMAIL), times in their time zone (HUMACRONA_TIMEZONE). "
    "On Crona's PAXml channel: the operations awaiting import and the import file's path with what to do (the "
    "email names the file, never attaches it). Bank accounts masked; no secret anywhere.",
)
def sync_report(context: dg.AssetExecutionContext, crona_writeback: DataFrame, huma_writeback: DataFrame,
                employee_conflicts: DataFrame, sync_plan: SyncPlan, policy: SyncPolicy,
                email: EmailResource, crona: CronaResource) -> dg.Output[dict]:
    import pandas as pd

    from ...connection.crona_channel import import_file_name
    from ...core.outcomes import AWAITING_IMPORT, FAILED, UNVERIFIED
    from ...report.email_message import build_email
    from ...report.html import render_text, write_html
    from ...report.summary import build_report

    channel = crona.channel_settings()
    written = channel.import_folder() / import_file_name(context.run.run_id) if channel.paxml else None
    import_file = str(written.resolve()) if written is not None and written.is_file() else None  # None: not written
    outcomes = pd.concat([crona_writeback, huma_writeback], ignore_index=True)
    report = build_report(context.run.run_id, outcomes, employee_conflicts, sync_plan.not_planned, policy.policy(),
                          started_at=_started_at(context), finished_at=datetime.now(UTC),
                          timezone=email.timezone, reviewed_plan=sync_plan.reviewed_run_id,
                          import_file=import_file, connection=shown_connection(context.partition_key))
    path = write_html(report, report_dir())
    message = build_email(report, sender=email.sender, to=email.admin_address, html=path.read_text(encoding="utf-8"),
                          text=render_text(report))
    sent_to = email.send(message)
    recipient = email.recipient(message)
    context.log.info(f"report {path}; email {message['Subject']!r} for {recipient} -> {sent_to}")
    summary = {"connection": context.partition_key,
               "report_path": str(path), "email": sent_to, "email_to": recipient, "subject": str(message["Subject"]),
               "statuses": outcomes["status"].value_counts().to_dict(), "converged": bool(report.converged),
               "import_file": import_file}
    extra = {"import_file": dg.MetadataValue.path(import_file)} if import_file else {}
    return dg.Output(summary, metadata={
        "summary": dg.MetadataValue.md(report.markdown()),
        "report": dg.MetadataValue.path(str(path)),
        "email_subject": str(message["Subject"]),
        "email_to": recipient,
        "email_sent_via": sent_to,
        "failed": int((outcomes["status"] == FAILED).sum()),
        "unverified": int((outcomes["status"] == UNVERIFIED).sum()),
        "awaiting_import": int((outcomes["status"] == AWAITING_IMPORT).sum()),
        **extra,
    })
