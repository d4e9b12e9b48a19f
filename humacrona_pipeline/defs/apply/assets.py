"""Apply: write the plan to both systems, verify what was written, record every attempt in the audit ledger,
and report the outcome (Dagster metadata, an HTML file, an email). The work is `connectors.writeback`'s,
`state.ledger`'s and `report`'s; these assets run it in order and show what happened."""


import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ...core.fields import CRONA, HUMA, SYSTEM_NAMES
from ...state.home import dagster_home
from ..connection import connection_failures, require_confirmed
from ..crona.resources import CronaResource
from ..email.resources import EmailResource
from ..huma.resources import HumaResource
from ..metadata import counts_md, frame_shape_metadata, markdown_table
from ..policy import SyncPolicy
from ..review import review_key
from ..types import DataFrame, SyncPlan
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
        write_options["check"] = DriftCheck(huma.client(), crona.client(), sync_plan.basis, review_key(huma, crona),
                                            map_country_names=rules.map_country_names)
    return write_recorded(context, client, target, operations, ledger, drifted=drifted, **write_options)


def _drifted_outcomes(sync_plan: SyncPlan, target: str) -> DataFrame:
    """The reviewed plan's operations for ``target`` of employees that changed since the review, as outcomes."""
    from ...core.outcomes import DRIFTED, OUTCOME_COLUMNS, empty_outcomes

    drifted = sync_plan.drifted
    rows = drifted[drifted["target"] == target] if drifted is not None else None
    if rows is None or rows.empty:
        return empty_outcomes()
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out = rows.rename(columns={"reason": "error"}).assign(status=DRIFTED, at=at, created_id=None)
    return out[list(OUTCOME_COLUMNS)].astype(object).reset_index(drop=True)


def write_recorded(context: dg.OpExecutionContext, client, target: str, operations: DataFrame,
                   ledger: LedgerResource, drifted: "DataFrame | None" = None,
                   **write_options) -> dg.Output[DataFrame]:
    """Write one system's operations (`apply_plan`), recording each in the audit ledger ahead of its request
    (``pending``, committed before the employee's first request) and completing the same rows when the
    employee is done — in group commits off the event loop (`Ledger.write_ahead` as the write-back's
    ``journal``: employees written at about the same time share a transaction) — then the verification; the
    outcome table with what happened as metadata. Shared by `sync_users` and `push_huma_changes`, so both
    write, verify and record the same way.
    ``drifted``: outcomes of a reviewed plan's operations not written (recorded in the ledger as such)."""
    import pandas as pd

    from ...connectors.writeback import apply_plan
    from ...core.display import display_frame
    from ...core.outcomes import FAILED, UNVERIFIED

    book = ledger.ledger()
    run_id = context.run.run_id
    if drifted is not None and len(drifted):
        book.record(run_id, drifted)
    outcomes = apply_plan(client, target, operations,
                          journal=lambda pending, finished: book.write_ahead(run_id, pending, finished),
                          **write_options)
    book.mark_verification(run_id, outcomes)
    if drifted is not None and len(drifted):
        outcomes = pd.concat([outcomes, drifted], ignore_index=True) if len(outcomes) else drifted
    by_status = outcomes["status"].value_counts().to_dict()
    context.log.info(f"{SYSTEM_NAMES[target]}: {len(outcomes)} operations; "
                     + (", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "nothing to write"))
    trouble = outcomes[outcomes["status"].isin((FAILED, UNVERIFIED))]
    return dg.Output(outcomes, metadata={
        **frame_shape_metadata(outcomes),
        **{status: int(n) for status, n in by_status.items()},
        "by_status_and_field": counts_md(outcomes, ["status", "field"]),
        "failed_or_unverified": dg.MetadataValue.md(markdown_table(
            display_frame(trouble, ("current_value", "new_value"))[
                ["employee", "action", "field", "new_value", "status", "error"]])),
    })


@dg.asset(
    group_name="apply",
    kinds={"python", "crona"},
    description="Writes the plan's Crona operations (one PATCH per employee, creates with every required "
    "field), reads them back to verify, and records every attempt in the audit ledger. One row per operation: "
    "applied, failed, skipped or unverified.",
)
def crona_writeback(context: dg.AssetExecutionContext, sync_plan: SyncPlan, crona: CronaResource,
                    huma: HumaResource, policy: SyncPolicy, ledger: LedgerResource) -> dg.Output[DataFrame]:
    require_confirmed(huma, crona, ledger.url)  # the write gate: never rely on the check alone
    with connection_failures():
        return _write(context, CRONA, crona.client(), sync_plan, policy, ledger, huma, crona)


@dg.asset(
    group_name="apply",
    kinds={"python", "huma"},
    description="Writes the plan's Huma operations (user details, home address, bank account, current "
    "position and job title; creates user, details and position), verifies them and records every attempt in "
    "the audit ledger. One row per operation: applied, failed, skipped or unverified.",
)
def huma_writeback(context: dg.AssetExecutionContext, sync_plan: SyncPlan, huma: HumaResource,
                   crona: CronaResource, policy: SyncPolicy, ledger: LedgerResource) -> dg.Output[DataFrame]:
    require_confirmed(huma, crona, ledger.url)  # the write gate: never rely on the check alone
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
    group_name="apply",
    kinds={"python", "html", "email"},
    description="The outcome of the sync: counts per system and status, conflicts resolved per field and "
    "who won, every failed, skipped, held and unverified operation with its reason. Written as an HTML file "
    "and emailed to the administrator (HUMACRONA_ADMIN_EMAIL), times in their time zone (HUMACRONA_TIMEZONE). "
    "Bank accounts masked; no secret anywhere.",
)
def sync_report(context: dg.AssetExecutionContext, crona_writeback: DataFrame, huma_writeback: DataFrame,
                employee_conflicts: DataFrame, sync_plan: SyncPlan, policy: SyncPolicy,
                email: EmailResource) -> dg.Output[dict]:
    import pandas as pd

    from ...core.outcomes import FAILED, UNVERIFIED
    from ...report.email_message import build_email
    from ...report.html import render_text, write_html
    from ...report.summary import build_report

    outcomes = pd.concat([crona_writeback, huma_writeback], ignore_index=True)
    report = build_report(context.run.run_id, outcomes, employee_conflicts, sync_plan.not_planned, policy.policy(),
                          started_at=_started_at(context), finished_at=datetime.now(UTC),
                          timezone=email.timezone, reviewed_plan=sync_plan.reviewed_run_id)
    path = write_html(report, report_dir())
    message = build_email(report, sender=email.sender, to=email.admin_address, html=path.read_text(encoding="utf-8"),
                          text=render_text(report))
    sent_to = email.send(message)
    recipient = email.recipient(message)
    context.log.info(f"report {path}; email {message['Subject']!r} for {recipient} -> {sent_to}")
    summary = {"report_path": str(path), "email": sent_to, "email_to": recipient, "subject": str(message["Subject"]),
               "statuses": outcomes["status"].value_counts().to_dict(), "converged": bool(report.converged)}
    return dg.Output(summary, metadata={
        "summary": dg.MetadataValue.md(report.markdown()),
        "report": dg.MetadataValue.path(str(path)),
        "email_subject": str(message["Subject"]),
        "email_to": recipient,
        "email_sent_via": sent_to,
        "failed": int((outcomes["status"] == FAILED).sum()),
        "unverified": int((outcomes["status"] == UNVERIFIED).sum()),
    })
