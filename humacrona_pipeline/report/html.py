"""The sync report as a self-contained HTML page (inline SVG chart, inline CSS, no JavaScript, nothing
fetched) that renders in an email client and offline, and as plain text for the email's text part."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from .summary import CATEGORIES, CHART_STATUSES, SyncReport

TEMPLATE = "sync_report.html.j2"
STATUS_COLOURS = {
    "applied": "#2e7d32",
    "failed": "#c62828",
    "unverified": "#ef6c00",
    "held": "#6a1b9a",
    "skipped": "#757575",
}

# Chart geometry (px).
_LABEL_W, _BAR_MAX_W, _COUNT_W = 190, 360, 50
_BAR_H, _BAR_GAP, _GROUP_GAP, _LEGEND_H = 14, 3, 10, 26

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def chart(report: SyncReport) -> dict[str, Any]:
    """The geometry of the operations-by-field-and-status bar chart: one bar per (field, status) with
    operations, grouped by field; a legend of the statuses shown."""
    rows = report.by_field_status
    peak = max((r["operations"] for r in rows), default=0)
    bars, labels = [], []
    y = _LEGEND_H
    previous = None
    for r in rows:
        if r["field"] != previous:
            if previous is not None:
                y += _GROUP_GAP
            labels.append({"text": r["label"], "x": _LABEL_W - 8, "y": y + _BAR_H - 3})
            previous = r["field"]
        width = max(2, round(_BAR_MAX_W * r["operations"] / peak)) if peak else 0
        bars.append({"field": r["field"], "label": r["label"], "status": r["status"], "operations": r["operations"],
                     "x": _LABEL_W, "y": y, "width": width, "height": _BAR_H,
                     "colour": STATUS_COLOURS.get(r["status"], "#455a64"),
                     "count_x": _LABEL_W + width + 4, "count_y": y + _BAR_H - 3})
        y += _BAR_H + _BAR_GAP
    shown = [s for s in CHART_STATUSES if any(b["status"] == s for b in bars)]
    legend = [{"status": s, "colour": STATUS_COLOURS[s], "x": _LABEL_W + i * 95, "y": 6} for i, s in enumerate(shown)]
    return {"width": _LABEL_W + _BAR_MAX_W + _COUNT_W, "height": y + 4, "bars": bars, "labels": labels,
            "legend": legend}


def render_html(report: SyncReport) -> str:
    """The report as one HTML document (values escaped by the template's autoescape)."""
    return _environment.get_template(TEMPLATE).render(
        report=report, chart=chart(report), categories=CATEGORIES, colours=STATUS_COLOURS)


def render_text(report: SyncReport) -> str:
    """The report as plain text (the email's text part)."""
    out = [report.title, f"{report.started_at} -> {report.finished_at}: {report.outcome_label}"]
    if report.dry_run:
        out.append("Dry run: nothing was written to Huma or Crona.")
    out += ["", "Operations by system:"]
    for system, counts in report.counts.items():
        out.append(f"  {system}: " + ", ".join(f"{k} {counts[k]}" for k in CATEGORIES))
    out += ["", "Conflicts resolved:"]
    if report.conflicts:
        for c in report.conflicts:
            out.append(f"  {c['label']}: {c['conflicts']} conflicts; Huma won {c['huma_won']}, Crona won"
                       f" {c['crona_won']}, unresolved {c['unresolved']}")
    else:
        out.append("  no conflicts")
    for kind, rows in report.lists():
        if not rows:
            continue
        out += ["", f"{kind.capitalize()} ({len(rows)}):"]
        for r in rows:
            change = f"{r['current_value'] or '(empty)'} -> {r['new_value'] or '(empty)'}"
            out.append(f"  - {r['system']} {r['action']} {r['employee']} {r['label']}: {change}: {r['reason']}")
    if report.approval_snippet:
        out += ["", "Held salary-account changes go to Crona once approved in the policy:", "",
                *("    " + line for line in report.approval_snippet.splitlines())]
    out += ["", "Not planned:"]
    out += [f"  {k}: {v}" for k, v in report.not_planned.items()] or ["  nothing"]
    return "\n".join(out) + "\n"


def report_filename(run_id: str) -> str:
    return f"sync-report-{re.sub(r'[^A-Za-z0-9._-]', '_', str(run_id))}.html"


def write_html(report: SyncReport, directory: str | Path) -> Path:
    """Write the HTML report as ``sync-report-<run_id>.html`` in ``directory`` (created); its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / report_filename(report.run_id)
    path.write_text(render_html(report), encoding="utf-8")
    return path
