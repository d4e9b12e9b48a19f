"""Launching the code location's jobs from the command line (`humacrona sync`) and saying
what they did, a few lines per run, in the words of an HR or payroll administrator. Counts and masked values
only: nothing printed here can carry a bank account or a secret."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import dagster as dg
import pandas as pd

from .connection.connections import DEFAULT_NAME
from .core.fields import BY_NAME, CRONA, HUMA, SYSTEM_NAMES
from .core.outcomes import APPLIED, AWAITING_IMPORT, DRIFTED, FAILED, SKIPPED, UNVERIFIED
from .core.plan import (
    CREATE,
    HELD,
    LEFT_OUT,
    NOT_ALLOWED,
    NOT_CREATABLE,
    NOT_MATCHED,
    POLICY_DECISION,
    UNREADABLE,
    UPDATE,
)
from .core.reconcile import CONFLICT, CRONA_ONLY, HUMA_ONLY, MATCHED, MISSING_IN_CRONA, MISSING_IN_HUMA, UNMATCHED
from .core.wording import plural, verb

Say = Callable[[str], None]
# Dagster's console logger prints nothing (`humacrona sync` tells failures in a few lines: `cli_runs`); the run's
# events still go to the instance, so the Dagster UI shows every run with its logs.
CONSOLE_SILENT = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}  # `humacrona sync --verbose`
LABEL_WIDTH = 16
INDENT = "     "
WRITEBACK_NODES = (("crona_writeback", CRONA), ("huma_writeback", HUMA))  # their outputs: core.outcomes tables
# Outcomes of writes sent to a system: read back as written, read back otherwise, or failed (refused, or no answer:
# perhaps made). Drifted and skipped operations were never sent.
SENT = (APPLIED, UNVERIFIED, FAILED)
# Writes made: those sent, and those written to a PAXml import file (Crona's file channel) awaiting its import.
WRITTEN = (*SENT, AWAITING_IMPORT)
INTERRUPTED_NODE = "interrupted_writes"  # concludes the writes earlier runs left open (defs.apply.interrupted)
IMPORT_TODO = ("import it in Crona Lön (its PAXml import), then export the employees again into the export folder"
               " before the next sync, which marks each operation applied or not applied")

_NOT_PLANNED = {  # core.plan's categories, as the administrator reads them
    POLICY_DECISION: "left as they are by the policy",
    NOT_ALLOWED: "not allowed (invalid, or against a rule of the receiving system)",
    NOT_CREATABLE: "one-sided employees the other system cannot hold",
    LEFT_OUT: "values left out of a create",
    NOT_MATCHED: "records that could not be matched",
    UNREADABLE: "employees one system could not read (left out on both sides)",
}


def run_job(name: str, resources: Mapping[str, object], *, partition_key: str = DEFAULT_NAME,
            run_config: Mapping | None = None,
            tags: Mapping[str, str] | None = None, verbose: bool = False) -> dg.ExecuteInProcessResult:
    """Run one job of the code location for one connection (``partition_key``) on the current Dagster instance
    (DAGSTER_HOME), with ``resources`` replacing the environment-bound ones they name; no Dagster log line on the
    console unless ``verbose``."""
    from .definitions import build_defs

    if not verbose:  # the connectors' retry warnings would reach stderr through logging's last resort
        logging.getLogger("humacrona").addHandler(logging.NullHandler())
    job = build_defs(resources).resolve_job_def(name)
    return job.execute_in_process(instance=dg.DagsterInstance.get(), raise_on_error=False, partition_key=partition_key,
                                  run_config={**(run_config or {}), **(CONSOLE_INFO if verbose else CONSOLE_SILENT)},
                                  tags=tags)


def line(label: str, text: str) -> str:
    """One aligned line of a step: ``label`` in the left column."""
    return f"{INDENT}{label:<{LABEL_WIDTH}} {text}"


def counted(values: pd.Series, labels: Mapping[str, str] | None = None, *, most: int | None = None,
            count_first: bool = False) -> str:
    """Labels with their counts, most frequent first ("address 13, mobile phone 7", or with ``count_first``
    "13 address"), the ``most`` frequent ones then how many more; "none" when empty."""
    labels = labels or {}
    counts = values.value_counts()
    shown = [f"{n} {labels.get(label, label)}" if count_first else f"{labels.get(label, label)} {n}"
             for label, n in counts.items()]
    if most is not None and len(shown) > most:
        shown = [*shown[:most], f"{len(shown) - most} more"]
    return ", ".join(shown) or "none"


def _severity(evaluation) -> str:
    return "a warning, not blocking" if evaluation.severity == dg.AssetCheckSeverity.WARN else "blocking"


def say_checks(result: dg.ExecuteInProcessResult, say: Say) -> None:
    """One line when every check passed; else one per check that did not, with what it found."""
    evaluations = result.get_asset_check_evaluations()
    failed = [e for e in evaluations if not e.passed]
    if not failed:
        say(line("Checks", f"all {len(evaluations)} checks passed" if len(evaluations) > 1
                 else f"{plural(len(evaluations), 'check')} passed"))
    for evaluation in failed:
        say(line("Check", f"{evaluation.check_name} did not pass ({_severity(evaluation)}): {evaluation.description}"))


def say_plan(result: dg.ExecuteInProcessResult, say: Say) -> None:
    """What the run found and planned (works for `plan_sync` and `sync_users`)."""
    huma = result.output_for_node("huma_employees")
    crona = result.output_for_node("crona_employees")
    matches = result.output_for_node("employee_matches")
    conflicts = result.output_for_node("employee_conflicts")
    plan = result.output_for_node("sync_plan")
    status = matches["status"].value_counts()
    found = [f"{status.get(MATCHED, 0)} in both (matched by work email)",
             f"{status.get(HUMA_ONLY, 0)} only in Huma", f"{status.get(CRONA_ONLY, 0)} only in Crona"]
    if status.get(UNMATCHED, 0):
        found.append(f"{plural(int(status[UNMATCHED]), 'record')} not matched")
    say(line("Employees", f"Huma {len(huma.frame)}, Crona {len(crona.frame)}: {', '.join(found)}"))
    say(line("Quarantined", f"{_quarantined(huma)} in Huma, {_quarantined(crona)} in Crona: invalid, so not synced"
             if len(huma.quarantine) or len(crona.quarantine) else "nothing: every value may be synced"))
    kinds = conflicts["kind"].value_counts()
    if len(conflicts):
        say(line("Differences", f"{len(conflicts)}: {plural(int(kinds.get(CONFLICT, 0)), 'conflict')} (both systems"
                 f" have a value, and they differ), {kinds.get(MISSING_IN_HUMA, 0)} missing in Huma,"
                 f" {kinds.get(MISSING_IN_CRONA, 0)} missing in Crona"))
        say(line("  by field", counted(conflicts["field"], {f: BY_NAME[f].label for f in BY_NAME}, most=5)))
    else:
        say(line("Differences", "none: both systems agree"))
    ops = plan.operations
    say(line("Plan operations", "; ".join(_planned(ops, side) for side in (CRONA, HUMA)) if len(ops)
             else "nothing to write"))
    skipped = plan.not_planned["category"]
    if len(skipped):
        say(line("Not planned", f"{len(skipped)}: {counted(skipped, _NOT_PLANNED, count_first=True)};"
                 " each reason is in the asset sync_plan"))


def _quarantined(table) -> str:
    employees = table.quarantine["record_id"].nunique()
    return f"{plural(len(table.quarantine), 'value')} of {plural(int(employees), 'employee')}"


def _planned(ops: pd.DataFrame, side: str) -> str:
    mine = ops[ops["target"] == side]
    parts = _employees(mine, (UPDATE, "update {}"), (CREATE, "create {}"))
    held = int((mine["action"] == HELD).sum())
    if held:
        parts.append(f"hold {plural(held, 'salary-account change')} for approval")
    return f"{SYSTEM_NAMES[side]}: {', '.join(parts) or 'nothing'}"


def _employees(ops: pd.DataFrame, *wordings: tuple[str, str]) -> list[str]:
    """Per action, its wording with the number of employees it concerns; the first number says "employees"
    ("update 30 employees", "create 2"; "2 employees created")."""
    parts = []
    for action, wording in wordings:
        count = int(ops.loc[ops["action"] == action, "employee"].nunique())
        if count:
            parts.append(wording.format(plural(count, "employee") if not parts else count))
    return parts


def planned_writes(result: dg.ExecuteInProcessResult) -> int:
    """Operations the plan asks to write now (held ones wait for approval and are not counted)."""
    ops = result.output_for_node("sync_plan").operations
    return int((ops["action"] != HELD).sum())


def sent_writes(outcomes: pd.DataFrame) -> int:
    """Operations of a write-back's outcomes that were written (`WRITTEN`): sent to the system, or written to a
    PAXml import file that awaits its import; a drifted or skipped one (a held one among them) was not."""
    return int(outcomes["status"].isin(WRITTEN).sum())


def writes_made(result: dg.ExecuteInProcessResult) -> int:
    """Writes the sync made in either system or its import file (`sent_writes`); a write-back step that did not
    run made none."""
    sent = 0
    for node, _side in WRITEBACK_NODES:
        try:
            outcomes = result.output_for_node(node)
        except Exception:  # the step did not run (a guard or a check stopped it)
            continue
        sent += sent_writes(outcomes)
    return sent


def say_sync(result: dg.ExecuteInProcessResult, say: Say, *, paths: bool = True) -> None:
    """What the apply did per system (and where a PAXml import file awaits import, with what to do); what became
    of the writes earlier runs left open; with ``paths``, where the report and the email went."""
    resolved = open_writes_line(result)
    if resolved:
        say(line("Ledger", resolved))
    for node, side in WRITEBACK_NODES:
        try:
            outcomes = result.output_for_node(node)
        except Exception:  # the step did not run (a guard or a check stopped it)
            say(line(SYSTEM_NAMES[side], "nothing written: the step did not run"))
            continue
        say(line(SYSTEM_NAMES[side], _applied(outcomes)))
        for text in import_lines(result, node, outcomes):
            say(text)
    if paths:
        for text in report_lines(result):
            say(text)


def _applied(outcomes: pd.DataFrame) -> str:
    if not len(outcomes):
        return "nothing to write"
    done = outcomes[outcomes["status"] == APPLIED]
    parts = _employees(done, (UPDATE, "{} updated"), (CREATE, "{} created"))
    awaiting = outcomes[outcomes["status"] == AWAITING_IMPORT]
    if len(awaiting):  # Crona's PAXml channel: written to the import file, nothing sent and nothing read back
        parts.append(f"{plural(awaiting['employee'].nunique(), 'employee')} written to the PAXml import file"
                     f" ({plural(len(awaiting), 'operation')} {verb(len(awaiting), 'awaits', 'await')} import)")
    attempted = outcomes[(outcomes["action"] != HELD) & ~outcomes["status"].isin((DRIFTED, SKIPPED))]
    if len(attempted) and not len(awaiting):  # held, drifted, skipped or filed operations only: nothing read back
        parts.append("every write read back as written" if len(done) == len(attempted)
                     else f"{plural(len(done), 'write')} read back as written")
    elif not parts:
        parts.append("nothing written")
    for status, words in ((FAILED, "failed"), (UNVERIFIED, "did not read back as written")):
        count = int((outcomes["status"] == status).sum())
        if count:
            parts.append(f"{plural(count, 'write')} {words}")
    drifted = outcomes[outcomes["status"] == DRIFTED]
    if len(drifted):
        parts.append(f"{plural(drifted['employee'].nunique(), 'employee')} not written: changed since the plan was"
                     " reviewed (drifted; the report says what changed)")
    not_tried = int(((outcomes["status"] == SKIPPED) & (outcomes["action"] != HELD)).sum())
    if not_tried:
        parts.append(f"{plural(not_tried, 'write')} not tried")
    held = int((outcomes["action"] == HELD).sum())
    if held:
        parts.append(f"{plural(held, 'salary-account change')} held, not written")
    return ", ".join(parts)


def import_lines(result: dg.ExecuteInProcessResult, node: str, outcomes: pd.DataFrame) -> list[str]:
    """Where the PAXml import file a write-back wrote is, and what the administrator does with it (nothing when
    no operation awaits import)."""
    from .defs.apply.recorded_writes import IMPORT_FILE_KEY  # the write-back's metadata naming its file

    if not int((outcomes["status"] == AWAITING_IMPORT).sum()):
        from .connectors.paxml.import_file import AWAITED_PREFIX

        waiting = outcomes.loc[outcomes["error"].astype(str).str.startswith(AWAITED_PREFIX), "error"]
        return [line("To do", str(waiting.iloc[0]).removeprefix("not written: "))] if len(waiting) else []
    found = [m.metadata[IMPORT_FILE_KEY] for m in result.asset_materializations_for_node(node)
             if IMPORT_FILE_KEY in m.metadata]
    path = getattr(found[-1], "value", found[-1]) if found else "(not named by the write-back: see the report)"
    return [line("Import file", str(path)), line("To do", IMPORT_TODO)]


def open_writes_line(result: dg.ExecuteInProcessResult) -> str:
    """What the run's `interrupted_writes` step concluded of the writes earlier runs left open ("" when it found
    none or did not run). Its metadata counts the rows by the status they reached, not by where they came from, so
    the rows of earlier PAXml import files are told together with those interrupted runs left pending."""
    from .state.ledger import NOT_APPLIED, PENDING

    try:
        materializations = result.asset_materializations_for_node(INTERRUPTED_NODE)
    except Exception:  # a job without the step
        return ""
    metadata = materializations[-1].metadata if materializations else {}

    def count(status: str) -> int:
        value = metadata.get(status.replace(" ", "_"))
        return int(getattr(value, "value", value) or 0)

    if not count("pending_found"):
        return ""
    parts = [f"{count(APPLIED)} applied", f"{count(NOT_APPLIED)} not applied"]
    parts += [f"{count(status)} {words}" for status, words in ((AWAITING_IMPORT, "still awaiting import"),
                                                               (PENDING, "still pending")) if count(status)]
    return "earlier open writes resolved: " + ", ".join(parts)


def report_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """Where the sync's HTML report and its email are (nothing when the report step did not run)."""
    try:
        report = result.output_for_node("sync_report")
    except Exception:
        return []
    sent = str(report["email"])
    return [f"Report (HTML)  {report['report_path']}",
            f"Email          sent to {sent}" if sent.startswith("smtp://") else f"Email (.eml)   {sent}"]
