"""Issue 13 §1, the report of a sync on Crona's PAXml channel: operations written to the import file are
`awaiting import`, counted and listed as their own category in every form (summary, Markdown, HTML, text, the
email's subject), never as applied, failed or skipped; such a sync is not converged; the report names the file by
its full path and says what the administrator does (import it in Crona Lön, export again before the next sync).
The email names the file and never attaches it: the file holds full salary accounts, the email only the last four
digits. The outcomes and the file come from the real PAXml write-back (`write_import_file`)."""

from __future__ import annotations

import email
import re
from email import policy as email_policy

import pandas as pd
import pytest

from humacrona_pipeline.connectors.paxml.import_file import write_import_file
from humacrona_pipeline.core.display import markdown_text
from humacrona_pipeline.core.outcomes import APPLIED, AWAITING_IMPORT, OUTCOME_COLUMNS, SKIPPED
from humacrona_pipeline.core.plan import NOT_PLANNED_COLUMNS
from humacrona_pipeline.core.plan_columns import PLAN_COLUMNS, UPDATE
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.core.reconcile import CONFLICT_COLUMNS
from humacrona_pipeline.report.email_message import build_email
from humacrona_pipeline.report.html import render_html, render_text
from humacrona_pipeline.report.summary import IMPORT_TITLE, build_report

RUN = "5e0c-paxml-run"
ACCOUNT, OLD_ACCOUNT = "83279 1234567897", "5000 1000004"  # valid Swedish salary accounts, as the plan holds them
ACCOUNT_DIGITS = ("1234567897", "123 456 789", "1000004")
START, END = "2025-03-01T09:59:00+00:00", "2025-03-01T10:01:00+00:00"


def op(employee: str, field: str, current, new, record_id: str = "1001") -> dict:
    return {"target": "crona", "action": UPDATE, "employee": employee, "record_id": record_id, "field": field,
            "current_value": current, "new_value": new, "rule": "default_winner"}


@pytest.fixture
def written(tmp_path):
    """The real PAXml write-back of three Crona employees' changes (one a cleared end date, which PAXml cannot
    carry: skipped) and the file it wrote, plus one applied Huma update."""
    plan = pd.DataFrame([op("anna@nordljus.se", "job_title", "Ekonom", "Controller"),
                         op("anna@nordljus.se", "bank_account", OLD_ACCOUNT, ACCOUNT),
                         op("bo@nordljus.se", "given_name", "Bo", "Bosse", record_id="1002"),
                         op("cy@nordljus.se", "end_date", "2025-06-30", None, record_id="1003")],
                        columns=list(PLAN_COLUMNS))
    crona, path = write_import_file(plan, tmp_path / "import", RUN)
    huma = pd.DataFrame([{"target": "huma", "action": UPDATE, "employee": "dan@nordljus.se", "record_id": "u4",
                          "field": "job_title", "current_value": "Chef", "new_value": "VD", "rule": "default_winner",
                          "status": APPLIED, "error": None, "at": END, "created_id": None}],
                        columns=list(OUTCOME_COLUMNS))
    return pd.concat([crona, huma], ignore_index=True), path


def report_of(outcomes: pd.DataFrame, import_file=None, conflicts: pd.DataFrame | None = None):
    conflicts = pd.DataFrame(columns=list(CONFLICT_COLUMNS)) if conflicts is None else conflicts
    return build_report(RUN, outcomes, conflicts,
                        pd.DataFrame(columns=list(NOT_PLANNED_COLUMNS)), Policy(default_winner="huma"),
                        started_at=START, finished_at=END,
                        import_file=None if import_file is None else str(import_file))


def test_the_write_back_wrote_a_file_holding_the_full_account(written):
    outcomes, path = written  # what the rest relies on: the file is real and holds what must not travel
    assert path.is_file() and "1234567897" in path.read_text(encoding="iso-8859-1")
    assert outcomes["status"].value_counts().to_dict() == {AWAITING_IMPORT: 3, SKIPPED: 1, APPLIED: 1}


def test_awaiting_import_is_its_own_category_and_the_sync_is_not_converged(written):
    outcomes, path = written
    report = report_of(outcomes, path)
    assert report.categories == ("created", "updated", "awaiting import", "held", "skipped", "failed",
                                 "unverified", "drifted")
    assert report.counts["Crona"] == {"created": 0, "updated": 0, "awaiting import": 3, "held": 0, "skipped": 1,
                                      "failed": 0, "unverified": 0, "drifted": 0}
    assert report.counts["Huma"]["updated"] == 1 and report.counts["Huma"]["awaiting import"] == 0
    assert report.status_counts["awaiting import"] == 3 and report.status_counts["applied"] == 1
    assert report.outcome_label == "applied 1, awaiting import 3, skipped 1"
    assert not report.converged
    assert [(r["employee"], r["field"]) for r in report.awaiting_import] == [
        ("anna@nordljus.se", "job_title"), ("anna@nordljus.se", "bank_account"), ("bo@nordljus.se", "given_name")]
    assert [r["employee"] for r in report.skipped] == ["cy@nordljus.se"]
    assert report.failed == [] and report.held == []
    assert report.subject() == "humacrona sync: 1 applied, 0 failed, 0 unverified, 3 awaiting import, 1 skipped"


def test_every_form_names_the_file_by_its_full_path_and_says_what_to_do_once(written):
    outcomes, path = written
    report = report_of(outcomes, path)
    full = str(path)
    assert report.import_file == full
    assert report.import_line.startswith("Crona Lön: 3 operations written to the import file ")
    assert full in report.import_line and "awaits import" in report.import_line
    html, text, md = render_html(report), render_text(report), report.markdown()
    for shown in (html, text):
        assert full in shown
        assert shown.count("Import this file in Crona Lön (its PAXml import), then export the employees again") == 1
        assert "marks each operation applied or not applied" in shown
        # each awaiting operation points to the one place that says it
        assert shown.count(f"see \u201c{IMPORT_TITLE}\u201d below") == 3 + 1  # the rows and the headline
    assert "Import this file in Crona Lön" in md and f"### {IMPORT_TITLE}" in md and "### Awaiting import (3)" in md
    assert re.search(r"\*\*Crona Lön: 3 operations written to the import file .*awaits import", md)
    assert f"Import file: {markdown_text(full)}" in md  # the full path, as literal Markdown text
    assert "| Crona | 0 | 0 | 3 | 0 | 1 | 0 | 0 | 0 |" in md
    assert re.search(r'<h2 id="awaiting-import"[^>]*>Awaiting import \(3\)</h2>', html)
    assert 'class="operations awaiting-import"' in html
    assert html.index('id="awaiting-import"') < html.index('id="import"') < html.index(full, html.index('id="import"'))
    assert "Crona: created 0, updated 0, awaiting import 3, held 0, skipped 1" in text
    assert "PAXml 2.0 cannot clear a date" in text  # the skipped one keeps its own reason
    chart_statuses = set(re.findall(r'data-status="([^"]+)"', html))
    assert chart_statuses == {"awaiting import", "skipped", "applied"}
    assert 'bgcolor="#1565c0"' in html  # its own colour, not applied's green


def test_a_conflict_written_to_the_file_was_won_by_the_side_written_from(written):
    """Huma's value went into the import file: Huma won the conflict (its import is still to come), it is not
    left unresolved; a conflict whose write was skipped (a cleared date the file cannot carry) is."""
    outcomes, path = written
    conflicts = pd.DataFrame([{"employee": "anna@nordljus.se", "field": "job_title", "kind": "conflict"},
                              {"employee": "cy@nordljus.se", "field": "end_date", "kind": "conflict"}],
                             columns=list(CONFLICT_COLUMNS))
    by_field = {c["field"]: c for c in report_of(outcomes, path, conflicts).conflicts}
    assert (by_field["job_title"]["huma_won"], by_field["job_title"]["unresolved"]) == (1, 0)
    assert (by_field["end_date"]["huma_won"], by_field["end_date"]["unresolved"]) == (0, 1)


def test_the_email_names_the_file_and_never_attaches_it_nor_a_full_account(written):
    outcomes, path = written
    report = report_of(outcomes, path)
    message = build_email(report, sender="humacrona@nordljus.se", to="lon@nordljus.se", html=render_html(report),
                          text=render_text(report))
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email_policy.default)
    assert list(parsed.iter_attachments()) == []
    assert [part.get_content_type() for part in parsed.walk()] == ["multipart/alternative", "text/plain",
                                                                     "text/html"]
    assert not any(part.get_filename() for part in parsed.walk())
    plain, rich = parsed.get_body(("plain",)).get_content(), parsed.get_body(("html",)).get_content()
    assert str(path) in plain and str(path) in rich
    assert "awaiting import" in parsed["Subject"]
    for digits in ACCOUNT_DIGITS:
        assert digits not in plain and digits not in rich and digits.encode() not in raw
    assert "•••• 7897" in plain  # the account as the report shows it: its last four digits
    assert b"<personal" not in raw and b"anstid" not in raw  # nothing of the file's content


def test_without_the_file_the_operations_still_say_where_they_went(written):
    """The file is gone (moved by the administrator) when the report is made: each row keeps the write-back's own
    words, which name the file, and the headline still says operations await import."""
    outcomes, path = written
    report = report_of(outcomes)
    assert report.import_file == "" and not report.converged
    assert "awaits import" in report.import_line and "each operation's reason names it" in report.import_line
    assert all(path.name in r["reason"] and "Crona Lön" in r["reason"] for r in report.awaiting_import)
    text = render_text(report)
    assert f"{IMPORT_TITLE}:" not in text and "Awaiting import (3):" in text


def test_an_api_sync_report_is_unchanged(written):
    """Nothing awaits import: no such category, column, list or headline."""
    outcomes, _ = written
    api = report_of(outcomes[outcomes["status"] != AWAITING_IMPORT])
    assert "awaiting import" not in api.categories and "awaiting import" not in api.status_counts
    assert api.import_line == "" and api.awaiting_import == []
    for shown in (render_html(api), render_text(api), api.markdown(), api.subject()):
        assert "awaiting" not in shown.lower() and IMPORT_TITLE not in shown
