"""The sync report's data: what a run wrote, resolved, held and could not do, with every value masked.

`build_report` turns the outcome table (`core.outcomes`), the conflicts and the not-planned rows into a
`SyncReport` of plain, display-ready data (bank accounts as their last four digits, also inside error
texts) and times in the administrator's time zone (`report.times`); `SyncReport.markdown()` is the Dagster
Markdown summary, `report.html` renders the same as HTML and plain text. Every text from the data passes
`core.display.visible` here (a right-to-left override or a zero-width space shown as "<U+202E>"), so no
form of the report can hide or reorder characters; the Markdown escapes it too (`markdown_text`).
Pure Python: no Dagster, no HTTP."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from ..core.display import display_value, markdown_rows, markdown_text, present, scrub, visible
from ..core.fields import BY_NAME, CRONA, FIELD_NAMES, HUMA, SIDES, SYSTEM_NAMES, other_side
from ..core.outcomes import APPLIED, AWAITING_IMPORT, DRIFTED, FAILED, SKIPPED, UNVERIFIED
from ..core.plan_columns import CREATE, HELD, SKIP_CATEGORIES, UPDATE
from ..core.policy import Policy
from ..core.reconcile import CONFLICT
from ..core.wording import plural
from .times import DEFAULT_TIMEZONE, Moment, moment

CREATED, UPDATED = "created", "updated"
# What became of an operation, as the report counts it: an applied create is `created`, an applied update
# `updated`, a held operation `held` whatever its status; otherwise its status. A report of a sync that wrote a
# PAXml import file (Crona's file channel) counts `awaiting import` too, after `updated` (`report_categories`).
CATEGORIES = (CREATED, UPDATED, HELD, SKIPPED, FAILED, UNVERIFIED, DRIFTED)
# The chart's and the label's statuses: the outcome statuses, with held operations apart from skipped ones
# (and `awaiting import` after applied, in a report that has such operations: `report_chart_statuses`).
CHART_STATUSES = (APPLIED, FAILED, UNVERIFIED, DRIFTED, HELD, SKIPPED)
MARKDOWN_LIST_ROWS = 50
LIST_COLUMNS = ("system", "employee", "record_id", "field", "action", "current_value", "new_value", "reason")
# How a held salary-account change is approved is said once, under this title, for every held employee
# (`SyncReport.approval_snippet`); each held row's reason points there.
APPROVAL_TITLE = "To approve"
APPROVAL_INSTRUCTION = ("A held salary-account change goes to Crona once the policy approves it for the employee:"
                        " add these entries under employees: in the policy file, then run the sync again.")
HELD_BANK_REASON = (f"a changed salary account of an existing Crona employee waits for approval:"
                    f" see “{APPROVAL_TITLE}” below")
# What the administrator does with a PAXml import file is said once, under this title, with the file's full path
# (`SyncReport.import_file`); each operation written to it points there.
IMPORT_TITLE = "To import"
IMPORT_INSTRUCTION = ("Import this file in Crona Lön (its PAXml import), then export the employees again into the"
                      " export folder before the next sync: that sync reads the new export and marks each operation"
                      " applied or not applied.")
IMPORT_REASON = f"written to the PAXml import file, not yet imported: see “{IMPORT_TITLE}” below"


def report_categories(awaiting: bool) -> tuple[str, ...]:
    """The categories a report counts: `CATEGORIES`, with `awaiting import` when something awaits import."""
    return (CREATED, UPDATED, AWAITING_IMPORT, *CATEGORIES[2:]) if awaiting else CATEGORIES


def report_chart_statuses(awaiting: bool) -> tuple[str, ...]:
    """The statuses a report charts: `CHART_STATUSES`, with `awaiting import` when something awaits import."""
    return (APPLIED, AWAITING_IMPORT, *CHART_STATUSES[1:]) if awaiting else CHART_STATUSES


def _text(value: object) -> str:
    """A value from the data as the report shows it: `visible`, "" for nothing."""
    return visible(value)


def approval_snippet(emails: list[str] | tuple[str, ...]) -> str:
    """The policy YAML that lets these employees' changed salary accounts go to Crona."""
    lines = ["employees:"]
    for email in emails:
        lines += [f"  - email: {visible(email)}", "    approve_bank_account_change: true"]
    return "\n".join(lines)


def _category(action: str, status: str) -> str:
    if action == HELD:
        return HELD
    if status == APPLIED:
        return CREATED if action == CREATE else UPDATED
    return status


def _chart_status(action: str, status: str) -> str:
    return HELD if action == HELD else status


@dataclass
class SyncReport:
    """One run's report, display-ready: every value here may be shown (bank accounts are masked)."""

    run_id: str
    started_at: Moment  # shown in the administrator's time zone, with UTC beside it
    finished_at: Moment
    dry_run: bool
    operations: int
    counts: dict[str, dict[str, int]]  # system name ("Huma", "Crona") -> category (`CATEGORIES`) -> operations
    status_counts: dict[str, int]  # `CHART_STATUSES` -> operations
    conflicts: list[dict[str, Any]]  # per field: field, label, conflicts, huma_won, crona_won, unresolved
    failed: list[dict[str, str]]  # `LIST_COLUMNS` (+ label, rule)
    skipped: list[dict[str, str]]
    held: list[dict[str, str]]  # a held bank-account change points to `approval_snippet` in its reason
    unverified: list[dict[str, str]]
    drifted: list[dict[str, str]]  # of a reviewed plan: not written, the employee changed since the review
    not_planned: dict[str, int]  # category -> rows
    by_field_status: list[dict[str, Any]]  # field, label, status (`CHART_STATUSES`), operations; none zero
    policy_summary: list[tuple[str, str]] = field(default_factory=list)
    reviewed_plan: str = ""  # the run whose reviewed plan was applied ("" when the run planned itself)
    awaiting_import: list[dict[str, str]] = field(default_factory=list)  # written to a PAXml import file
    import_file: str = ""  # that file's full path ("" when none was written or it is gone)
    connection: str = ""  # the connection of the connections file synced ("" for the one connection of today)

    @property
    def categories(self) -> tuple[str, ...]:
        """The categories counted per system: `CATEGORIES`, with `awaiting import` when a PAXml file was written."""
        return report_categories(bool(self.awaiting_import))

    @property
    def import_line(self) -> str:
        """The headline of a sync that wrote a PAXml import file: what awaits import, and where ("" otherwise)."""
        if not self.awaiting_import:
            return ""
        written = f"Crona Lön: {plural(len(self.awaiting_import), 'operation')} written to"
        if not self.import_file:
            return f"{written} a PAXml import file that awaits import (each operation's reason names it)."
        return f"{written} the import file {self.import_file}, which awaits import: see “{IMPORT_TITLE}” below."

    @property
    def reviewed_line(self) -> str:
        """Which plan was applied, when a reviewed one was ("" otherwise)."""
        if not self.reviewed_plan:
            return ""
        return (f"Applied the plan reviewed in run {self.reviewed_plan}; employees that changed since the review"
                " were not written (drifted).")

    def __repr__(self) -> str:
        return f"SyncReport(run_id={self.run_id!r}, {self.outcome_label})"

    @property
    def converged(self) -> bool:
        """Nothing was there to write: both systems already agree as far as the policy allows."""
        return self.operations == 0

    @property
    def outcome_label(self) -> str:
        """The outcome in a few words, e.g. "applied 12, failed 1" ("nothing to write" when converged)."""
        if self.converged:
            return "nothing to write"
        return ", ".join(f"{s} {n}" for s, n in self.status_counts.items() if n)

    @property
    def held_bank_employees(self) -> list[str]:
        return sorted({row["employee"] for row in self.held if row["field"] == "bank_account"})

    @property
    def approval_snippet(self) -> str:
        """The policy YAML approving every held bank-account change of this run ("" when none is held)."""
        emails = self.held_bank_employees
        return approval_snippet(emails) if emails else ""

    @property
    def timezone(self) -> str:
        """The time zone the report's times are shown in (an IANA name)."""
        return self.started_at.zone

    def conflict_line(self, c: dict[str, Any]) -> str:
        """One field's conflicts in words: "job title: 2 conflicts; Huma won 2, Crona won 0, unresolved 0"."""
        return (f"{c['label']}: {plural(c['conflicts'], 'conflict')}; Huma won {c['huma_won']}, Crona won"
                f" {c['crona_won']}, unresolved {c['unresolved']}")

    @property
    def _name(self) -> str:
        """"humacrona sync", and the connection's name in brackets when there are several."""
        return "humacrona sync" + (f" [{self.connection}]" if self.connection else "")

    @property
    def title(self) -> str:
        return f"{self._name} {self.run_id}" + (" (dry run)" if self.dry_run else "")

    def subject(self) -> str:
        """An email subject with the outcome counts: "humacrona sync: 12 applied, 1 failed, 0 unverified"
        ("humacrona sync [nordljus-ab]: ..." for one of several connections)."""
        prefix = self._name + (" (dry run)" if self.dry_run else "")
        if self.converged:
            return f"{prefix}: in sync, nothing to write"
        s = self.status_counts
        text = f"{prefix}: {s[APPLIED]} applied, {s[FAILED]} failed, {s[UNVERIFIED]} unverified"
        for extra in (AWAITING_IMPORT, DRIFTED, HELD, SKIPPED):
            if s.get(extra):
                text += f", {s[extra]} {extra}"
        return text

    def lists(self) -> list[tuple[str, list[dict[str, str]]]]:
        """The operations that need a look, by kind: awaiting import, failed, unverified, drifted, held, skipped."""
        return [(AWAITING_IMPORT, self.awaiting_import), (FAILED, self.failed), (UNVERIFIED, self.unverified),
                (DRIFTED, self.drifted), (HELD, self.held), (SKIPPED, self.skipped)]

    def markdown(self, list_rows: int = MARKDOWN_LIST_ROWS) -> str:
        """The Dagster Markdown summary: counts, conflicts resolved, not planned, and the lists of failed,
        unverified, held and skipped operations (the first ``list_rows`` of each; the HTML has them all)."""
        md = markdown_text
        out = [f"## {md(self.title)}", "", f"**{md(self.outcome_label)}**", "",
               f"{md(self.started_at)} → {md(self.finished_at)} (times in {md(self.timezone)})"]
        if self.dry_run:
            out += ["", "_Dry run: nothing was written to Huma or Crona._"]
        if self.reviewed_plan:
            out += ["", f"_{md(self.reviewed_line)}_"]
        if self.import_line:
            out += ["", f"**{md(self.import_line)}**"]
        out += ["", "### Operations by system", "",
                markdown_rows(["system", *self.categories],
                              [[s, *(c[k] for k in self.categories)] for s, c in self.counts.items()])]
        out += ["", "### Conflicts resolved", ""]
        if self.conflicts:
            out.append(markdown_rows(["field", "conflicts", "Huma won", "Crona won", "unresolved"],
                                     [[c["label"], c["conflicts"], c["huma_won"], c["crona_won"], c["unresolved"]]
                                      for c in self.conflicts]))
        else:
            out.append("_no conflicts_")
        for kind, rows in self.lists():
            if not rows:
                continue
            out += ["", f"### {kind.capitalize()} ({len(rows)})", "",
                    markdown_rows(["system", "employee", "field", "action", "current", "new", "reason"],
                                  [[r["system"], r["employee"], r["label"], r["action"], r["current_value"],
                                    r["new_value"], r["reason"]] for r in rows[:list_rows]])]
            if len(rows) > list_rows:
                out += ["", f"_first {list_rows} of {len(rows)}; the HTML report lists them all_"]
            if kind == AWAITING_IMPORT and self.import_file:
                out += ["", f"### {IMPORT_TITLE}", "", f"Import file: {md(self.import_file)}", "",
                        IMPORT_INSTRUCTION]
        if self.approval_snippet:
            out += ["", f"### {APPROVAL_TITLE}", "", APPROVAL_INSTRUCTION, "", "```yaml", self.approval_snippet, "```"]
        out += ["", "### Not planned", ""]
        out.append(markdown_rows(["category", "rows"], [[k, v] for k, v in self.not_planned.items()])
                   if self.not_planned else "_nothing_")
        return "\n".join(out)


def _operation(row: Any) -> dict[str, str]:
    f = row.field if present(row.field) else ""
    reason = visible(scrub(row.error, f))
    rule = _text(row.rule)
    if row.action == HELD:  # how to approve is said once, in the report's approval snippet
        reason = HELD_BANK_REASON if f == "bank_account" else (reason or f"held ({rule})")
    return {
        "system": SYSTEM_NAMES.get(row.target, _text(row.target)),
        "employee": _text(row.employee),
        "record_id": _text(row.record_id) or _text(getattr(row, "created_id", None)),
        "field": visible(f),
        "label": BY_NAME[f].label if f in BY_NAME else visible(f),
        "action": _text(row.action),
        "current_value": display_value(f, row.current_value),
        "new_value": display_value(f, row.new_value),
        "reason": reason or rule,
        "rule": rule,
    }


def _policy_summary(policy: Policy) -> list[tuple[str, str]]:
    def selection(value) -> str:
        return visible(value) if isinstance(value, str) else f"{len(value)} listed"

    winners = visible(", ".join(f"{k}: {v}" for k, v in sorted(policy.field_winners.items())) or "none")
    return [
        ("default_winner", policy.default_winner),
        ("field_winners", winners),
        ("employee overrides", str(len(policy.employees))),
        ("missing_values", policy.missing_values),
        ("create_in_huma", selection(policy.create_in_huma)),
        ("create_in_crona", selection(policy.create_in_crona)),
        ("never_clear", str(policy.never_clear).lower()),
        ("hold_bank_account_changes", str(policy.hold_bank_account_changes).lower()),
    ]


def build_report(run_id: str, outcomes: pd.DataFrame, conflicts: pd.DataFrame, not_planned: pd.DataFrame,
                 policy: Policy, *, started_at: datetime | str, finished_at: datetime | str, dry_run: bool = False,
                 timezone: str = DEFAULT_TIMEZONE, reviewed_plan: str | None = None,
                 import_file: str | None = None, connection: str = "") -> SyncReport:
    """The report of one run from its outcome table (`core.outcomes.OUTCOME_COLUMNS`), the conflict table
    (`core.reconcile.CONFLICT_COLUMNS`) and the plan's not-planned rows (`core.plan.NOT_PLANNED_COLUMNS`).
    ``started_at``/``finished_at``: aware datetimes or ISO 8601 text (naive: UTC), shown in ``timezone``.
    ``import_file``: the full path of the PAXml import file the run wrote (Crona's file channel), if any.
    ``connection``: the name of the connection synced, when there are several."""
    rows = list(outcomes.itertuples(index=False)) if outcomes is not None else []
    awaiting = any(row.status == AWAITING_IMPORT for row in rows)
    categories, chart_statuses = report_categories(awaiting), report_chart_statuses(awaiting)
    counts = {SYSTEM_NAMES[s]: dict.fromkeys(categories, 0) for s in SIDES}
    status_counts = dict.fromkeys(chart_statuses, 0)
    by_field_status: Counter = Counter()
    lists: dict[str, list[dict[str, str]]] = {k: [] for k in (AWAITING_IMPORT, FAILED, SKIPPED, HELD, UNVERIFIED,
                                                               DRIFTED)}
    for row in rows:
        system = SYSTEM_NAMES.get(row.target, _text(row.target))
        category = _category(row.action, row.status)
        counts.setdefault(system, dict.fromkeys(categories, 0))
        counts[system][category] = counts[system].get(category, 0) + 1
        chart_status = _chart_status(row.action, row.status)
        status_counts[chart_status] = status_counts.get(chart_status, 0) + 1
        by_field_status[(_text(row.field), chart_status)] += 1
        if category in lists:
            lists[category].append(_operation(row))
    if import_file:  # said once, in the report's "To import"; each operation points there
        lists[AWAITING_IMPORT] = [{**r, "reason": IMPORT_REASON} for r in lists[AWAITING_IMPORT]]

    conflict_summary = _conflict_summary(rows, conflicts)
    not_planned_counts = _not_planned_counts(not_planned)

    chart = [{"field": f, "label": BY_NAME[f].label if f in BY_NAME else (f or "-"), "status": visible(s),
              "operations": n}
             for (f, s), n in sorted(by_field_status.items(),
                                     key=lambda kv: (_field_order(kv[0][0]), chart_statuses.index(kv[0][1])
                                                     if kv[0][1] in chart_statuses else 99))]
    return SyncReport(
        run_id=visible(run_id), started_at=moment(started_at, timezone), finished_at=moment(finished_at, timezone),
        dry_run=dry_run, operations=len(rows), counts=counts, status_counts=status_counts, conflicts=conflict_summary,
        failed=lists[FAILED], skipped=lists[SKIPPED], held=lists[HELD], unverified=lists[UNVERIFIED],
        drifted=lists[DRIFTED],
        not_planned=not_planned_counts, by_field_status=chart, policy_summary=_policy_summary(policy),
        reviewed_plan=visible(reviewed_plan or ""), awaiting_import=lists[AWAITING_IMPORT],
        import_file=visible(import_file or ""), connection=visible(connection))


def _conflict_summary(rows: list, conflicts: pd.DataFrame | None) -> list[dict]:
    """Per field in conflict: how many conflicts, and how many each side won. A conflict is resolved by an
    applied (or written but unverified, or written to a PAXml import file awaiting import) update of the field;
    the side that was not written won."""
    conflict_rows = conflicts[conflicts["kind"] == CONFLICT] if conflicts is not None and len(conflicts) else None
    in_conflict: set[tuple[str, str]] = set()
    total: Counter = Counter()
    if conflict_rows is not None:
        in_conflict = set(zip(conflict_rows["employee"], conflict_rows["field"]))
        total.update(conflict_rows["field"])
    won: Counter = Counter()
    for row in rows:
        if (row.action == UPDATE and row.status in (APPLIED, UNVERIFIED, AWAITING_IMPORT)
                and (row.employee, row.field) in in_conflict):
            won[(row.field, other_side(row.target))] += 1
    conflict_summary = []
    for name in sorted(set(total) | {f for f, _ in won}, key=_field_order):
        huma_won, crona_won = won[(name, HUMA)], won[(name, CRONA)]
        conflict_summary.append({
            "field": visible(name), "label": BY_NAME[name].label if name in BY_NAME else visible(name),
            "conflicts": total[name], "huma_won": huma_won, "crona_won": crona_won,
            "unresolved": max(total[name] - huma_won - crona_won, 0)})
    return conflict_summary


def _not_planned_counts(not_planned: pd.DataFrame | None) -> dict[str, int]:
    """Not-planned rows per category: the plan's categories in their order, then any other, by name."""
    not_planned_counts: dict[str, int] = {}
    if not_planned is not None and len(not_planned):
        found = Counter(visible(c) or "-" for c in not_planned["category"])
        for category in (*SKIP_CATEGORIES, *sorted(set(found) - set(SKIP_CATEGORIES))):
            if found[category]:
                not_planned_counts[category] = found[category]
    return not_planned_counts


def _field_order(name: str) -> tuple[int, str]:
    return (FIELD_NAMES.index(name), "") if name in FIELD_NAMES else (len(FIELD_NAMES), name or "")
