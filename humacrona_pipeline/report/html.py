"""The sync report as a self-contained HTML page and as plain text (the email's text part).

The page is written for email clients first, so the same file reads the same in Gmail, Outlook and a
browser: inline styles only (no <style> block, no script, nothing fetched), tables at most `MAX_WIDTH` px
wide with long values wrapping, and the chart drawn as a table of coloured cells (`bgcolor` for Outlook)
because Gmail and Outlook drop inline SVG. A PAXml import file is named by its full path, never linked or
attached (it holds full salary accounts; the page links nothing, `report.email_message`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from ..core.outcomes import AWAITING_IMPORT
from .summary import (
    APPROVAL_INSTRUCTION,
    APPROVAL_TITLE,
    CHART_STATUSES,
    IMPORT_INSTRUCTION,
    IMPORT_TITLE,
    SyncReport,
)

TEMPLATE = "sync_report.html.j2"
MAX_WIDTH = 700  # px: what an email client's reading pane shows without scrolling sideways
STATUS_COLOURS = {
    "applied": "#2e7d32",
    "awaiting import": "#1565c0",
    "failed": "#c62828",
    "unverified": "#ef6c00",
    "drifted": "#00838f",
    "held": "#6a1b9a",
    "skipped": "#757575",
}

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def chart(report: SyncReport) -> list[dict[str, Any]]:
    """The operations-by-field-and-status bar chart as table rows: one per (field, status) with operations,
    grouped by field (the label on the group's first row), each bar's width a percentage of the largest."""
    rows = report.by_field_status
    peak = max((r["operations"] for r in rows), default=0)
    bars, previous = [], None
    for r in rows:
        bars.append({**r, "first": r["field"] != previous, "colour": STATUS_COLOURS.get(r["status"], "#455a64"),
                     "percent": max(1, round(100 * r["operations"] / peak)) if peak else 0})
        previous = r["field"]
    return bars


def render_html(report: SyncReport) -> str:
    """The report as one HTML document (values escaped by the template's autoescape)."""
    return _environment.get_template(TEMPLATE).render(
        report=report, chart=chart(report), categories=report.categories, statuses=CHART_STATUSES,
        colours=STATUS_COLOURS, max_width=MAX_WIDTH, approval_title=APPROVAL_TITLE,
        approval_instruction=APPROVAL_INSTRUCTION, import_title=IMPORT_TITLE, import_instruction=IMPORT_INSTRUCTION)


def render_text(report: SyncReport) -> str:
    """The report as plain text (the email's text part); times in the report's zone, UTC in parentheses."""
    out = [report.title, f"{report.started_at} -> {report.finished_at}", f"Times in {report.timezone}.",
           report.outcome_label]
    if report.dry_run:
        out.append("Dry run: nothing was written to Huma or Crona.")
    if report.reviewed_plan:
        out.append(report.reviewed_line)
    if report.import_line:
        out.append(report.import_line)
    out += ["", "Operations by system:"]
    for system, counts in report.counts.items():
        out.append(f"  {system}: " + ", ".join(f"{k} {counts[k]}" for k in report.categories))
    out += ["", "Conflicts resolved:"]
    out += [f"  {report.conflict_line(c)}" for c in report.conflicts] or ["  no conflicts"]
    for kind, rows in report.lists():
        if not rows:
            continue
        out += ["", f"{kind.capitalize()} ({len(rows)}):"]
        for r in rows:
            change = f"{r['current_value'] or '(empty)'} -> {r['new_value'] or '(empty)'}"
            out.append(f"  - {r['system']} {r['action']} {r['employee']} {r['label']}: {change}: {r['reason']}")
        if kind == AWAITING_IMPORT and report.import_file:
            out += ["", f"{IMPORT_TITLE}:", f"  {report.import_file}", IMPORT_INSTRUCTION]
    if report.approval_snippet:
        out += ["", f"{APPROVAL_TITLE}:", APPROVAL_INSTRUCTION, "",
                *("    " + line for line in report.approval_snippet.splitlines())]
    out += ["", "Not planned:"]
    out += [f"  {k}: {v}" for k, v in report.not_planned.items()] or ["  nothing"]
    return "\n".join(out) + "\n"


def report_filename(run_id: str) -> str:
    return f"sync-report-{re.sub(r'[^A-Za-z0-9._-]', '_', str(run_id))}.html"


def write_html(report: SyncReport, directory: str | Path) -> Path:
    """Write the HTML report as ``sync-report-<run_id>.html`` in ``directory`` (created), readable by its owner
    only; its path."""
    from ..state.files import write_private

    return write_private(Path(directory) / report_filename(report.run_id), render_html(report).encode("utf-8"))
