"""`humacrona paxml export`: every Huma employee the policy would create in Crona Lön, as one PAXml 2.0 file, for
setting up a new payroll.

Nothing is re-implemented: a new Crona installation has no employees, so the existing `plan_sync` job plans
against an empty Crona (a header-only PAXml export, swapped in as the crona resource) with the administrator's
policy, and the plan's Crona creates go through the PAXml channel's own write-back (`import_file`), with its
validation and refusals. The run is isolated so that nothing outside the output file keeps a trace of the empty
Crona: an ephemeral Dagster instance (no run, no materialisation in DAGSTER_HOME that would show Crona as empty),
outputs in memory, and a throw-away state database (the plan a planning run keeps could otherwise be applied to
the real Crona with `humacrona sync --plan`). Nothing is written to Huma, to Crona or to the audit ledger."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import dagster as dg
import pandas as pd

from .cli_paxml import COMMAND
from .cli_runs import failure_lines, problem_lines
from .connection.crona_channel import PAXML
from .connectors.paxml.import_file import write_import_file
from .connectors.paxml.write import import_document
from .core.display import scrub
from .core.fields import BY_NAME, CRONA, FIELDS
from .core.outcomes import AWAITING_IMPORT, SKIPPED
from .core.plan import CREATE, NOT_MATCHED, POLICY_DECISION, UNREADABLE
from .defs.apply.checks import connection_confirmed
from .defs.apply.resources import LedgerResource
from .defs.crona.resources import CronaResource
from .defs.policy import SyncPolicy
from .defs.reconcile.checks import plan_within_guards
from .defs.storage import HumacronaIOManager
from .launch import CONSOLE_INFO, CONSOLE_SILENT

JOB = "plan_sync"
QUARANTINED = "quarantined"
NOT_SELECTED = "not selected by the policy"
NOT_CREATABLE = "cannot be created"
EXCLUSIONS = (QUARANTINED, NOT_SELECTED, NOT_CREATABLE)  # the order they are told in
_WHOLE_RECORD = {NOT_MATCHED: QUARANTINED, UNREADABLE: QUARANTINED, POLICY_DECISION: NOT_SELECTED}
# A reason without a field is scrubbed as a salary account would be: no account digits on the terminal.
_MASKED_FIELD = next(f.name for f in FIELDS if f.masked)
# Checks about a sync, not about this export: the connection is not used to write, the guards are approved
# (`_for_export`).
_NOT_FOR_EXPORT = frozenset(key.name for checks in (connection_confirmed, plan_within_guards)
                            for key in checks.check_keys)


class ExportFailed(Exception):
    """The export could not be made; ``str`` is the one line to print. ``code``: 2 a misconfiguration, 1 else."""

    def __init__(self, line: str, code: int = 1, details: list[str] | None = None):
        super().__init__(line)
        self.code = code
        self.details = details or []


@dataclass
class Export:
    """What the export found and wrote; employees by work email, reasons safe to print (scrubbed)."""

    huma_employees: int
    included: list[str]
    path: Path | None
    policy_rule: str  # the policy's create rule for Crona ("create_in_crona: all", ": list", ": none")
    left_out: list[tuple[str, str, str]] = field(default_factory=list)  # (employee, field label, reason)
    excluded: dict[str, dict[str, str]] = field(default_factory=dict)  # category -> {employee: reason}
    warnings: list[str] = field(default_factory=list)  # checks of what was read that did not pass


def _empty_crona(work: Path, import_dir: Path) -> CronaResource:
    """The crona resource of a Crona Lön with nobody in it: a valid, header-only PAXml export."""
    export = work / "crona-empty.xml"
    export.write_bytes(import_document([]))
    return CronaResource(channel=PAXML, paxml_export=str(export), paxml_import_dir=str(import_dir))


def _plan(policy: SyncPolicy, work: Path, import_dir: Path, verbose: bool) -> dict:
    """Run `plan_sync` against the empty Crona; its plan, Huma's table and the failed checks' lines."""
    from .connection.connections import CONNECTIONS_FILE_ENV, DEFAULT_NAME
    from .definitions import build_defs

    if os.environ.get(CONNECTIONS_FILE_ENV):  # its runs would get a connection's Crona, not the empty one
        raise ExportFailed(f"{COMMAND} plans for the connection of the HUMA_* variables: run it without "
                           f"{CONNECTIONS_FILE_ENV}", code=2)
    if not verbose:
        import logging

        logging.getLogger("humacrona").addHandler(logging.NullHandler())
    resources = {"crona": _empty_crona(work, import_dir), "policy": policy,
                 "ledger": LedgerResource(url=f"sqlite:///{work / 'state.sqlite'}"), "io_manager": HumacronaIOManager()}
    job = build_defs(resources).resolve_job_def(JOB)
    with dg.DagsterInstance.ephemeral(tempdir=str(work)) as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, partition_key=DEFAULT_NAME,
                                        run_config=CONSOLE_INFO if verbose else CONSOLE_SILENT)
        problems = problem_lines(result)
        if problems:
            raise ExportFailed("; ".join(problems), code=2)
        if not result.success:
            lines = failure_lines(result)
            raise ExportFailed(f"{COMMAND}: planning failed: {lines[0] if lines else 'see --verbose'}",
                               details=lines[1:])
        warnings = [f"{e.check_name} did not pass: {e.description}" for e in result.get_asset_check_evaluations()
                    if not e.passed and e.check_name not in _NOT_FOR_EXPORT]
        return {"plan": result.output_for_node("sync_plan"), "huma": result.output_for_node("huma_employees"),
                "run_id": result.run_id, "warnings": warnings}


def _reason(text: object, field_name: object) -> str:
    return scrub(text, field_name if isinstance(field_name, str) else _MASKED_FIELD) or ""


def _told(export: Export, not_planned: pd.DataFrame, outcomes: pd.DataFrame) -> None:
    """Sort what the plan and the write left out: a value of an employee in the file, or a whole employee."""
    included = set(export.included)
    for row in not_planned[not_planned["target"].isna() | (not_planned["target"] == CRONA)].itertuples(index=False):
        reason = _reason(row.reason, row.field)
        if row.employee in included:
            label = BY_NAME[row.field].label if row.field in BY_NAME else "record"
            export.left_out.append((row.employee, label, reason))
            continue
        category = _WHOLE_RECORD.get(row.category, NOT_CREATABLE)
        if category == NOT_SELECTED and isinstance(row.field, str):
            continue  # a value the policy leaves: only whole employees are selected or not here
        known = export.excluded.setdefault(category, {})
        known[row.employee] = f"{known[row.employee]}; {reason}" if row.employee in known else reason
    skipped = outcomes[(outcomes["status"] == SKIPPED) & ~outcomes["employee"].isin(included)]
    for employee, rows in skipped.groupby("employee", sort=False):
        export.excluded.setdefault(NOT_CREATABLE, {}).setdefault(employee, _reason(rows["error"].iloc[0], None))


def _move(path: Path, out: Path, force: bool) -> None:
    """The written file to ``out``, readable by its owner only (it holds full salary accounts); an existing
    ``out`` is replaced only with ``force``."""
    os.chmod(path, 0o600)
    if out.exists() and not force:
        raise ExportFailed(refusal(out), code=2)
    os.replace(path, out)


def _for_export(policy: SyncPolicy) -> SyncPolicy:
    """The policy with its guards approved for this run: they stop a sync from writing mass changes, but the
    export writes nothing to Crona, creating everybody is its purpose, and the file is what the administrator
    reviews and imports. Who is created stays the policy's (create_in_crona)."""
    return SyncPolicy.from_policy(replace(policy.policy(), approve_mass_change=True))


def refusal(out: Path) -> str:
    return f"{COMMAND}: {out} exists; give another --out, or --force to replace it"


def export(policy: SyncPolicy, out: Path, *, force: bool = False, verbose: bool = False) -> Export:
    """Plan against an empty Crona and write its creates to ``out`` (nothing written when there are none)."""
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="humacrona-paxml-") as folder:
        # The import file is written next to --out, so moving it there is a rename: never half a file at --out.
        try:
            import_dir = Path(tempfile.mkdtemp(prefix=".humacrona-paxml-", dir=out.parent))
        except OSError as error:
            raise ExportFailed(f"{COMMAND}: cannot write in {out.parent}: {error.strerror}", code=2) from None
        try:
            planned = _plan(_for_export(policy), Path(folder), import_dir, verbose)
            ops = planned["plan"].operations
            creates = ops[(ops["target"] == CRONA) & (ops["action"] == CREATE)]
            try:
                outcomes, path = write_import_file(creates, import_dir, planned["run_id"])
            except ValueError as error:  # the document did not validate: nothing was written
                raise ExportFailed(f"{COMMAND}: no file written: {error}") from None
            if path is not None:
                _move(path, out, force)
        finally:
            shutil.rmtree(import_dir, ignore_errors=True)
    written = outcomes[outcomes["status"] == AWAITING_IMPORT]
    result = Export(huma_employees=len(planned["huma"].frame), included=list(dict.fromkeys(written["employee"])),
                    path=out if path is not None else None, policy_rule=policy.policy().creates(CRONA, "")[1],
                    warnings=planned["warnings"])
    _told(result, planned["plan"].not_planned, outcomes)
    return result
