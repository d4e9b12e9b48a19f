"""The sync report: counts, conflicts resolved and who won, the lists with reasons, the Markdown summary,
the HTML page (escaped, inline SVG chart, nothing external) and the email; bank accounts always masked."""

from __future__ import annotations

import email
import re
from email import policy as email_policy

import pandas as pd
import pytest

from humacrona_pipeline.core.outcomes import OUTCOME_COLUMNS
from humacrona_pipeline.core.plan import NOT_PLANNED_COLUMNS
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.core.reconcile import CONFLICT_COLUMNS
from humacrona_pipeline.report import build_email, build_report, render_html, render_text, write_html

# Valid Swedish salary accounts (tests/core/test_bank_accounts.py) in stored form.
ACCOUNT = "83279 1234567897"  # Swedbank 8327-9, 123 456 789-7
OLD_ACCOUNT = "83279 0147258925"  # Swedbank 8327-9, 014 725 892-5
LEAKS = ("1234567897", "123 456 789", "0147258925", "014 725 892", "83279")
EVIL = "<script>alert('x')</script>"


def op(target, action, employee, field, current, new, status, error=None, record_id="r1", rule="default_winner"):
    return {"target": target, "action": action, "employee": employee, "record_id": record_id, "field": field,
            "current_value": current, "new_value": new, "rule": rule, "status": status, "error": error,
            "at": "2025-03-01T10:00:00+00:00", "created_id": None}


@pytest.fixture
def outcomes() -> pd.DataFrame:
    rows = [
        op("crona", "held", "held@nordljus.se", "bank_account", OLD_ACCOUNT, ACCOUNT, "skipped",
           error="held: a changed salary account needs approval", rule="default_winner; hold_bank_account_changes"),
        op("crona", "update", "fail@nordljus.se", "bank_account", OLD_ACCOUNT, ACCOUNT, "failed",
           error=f"422 Unprocessable: UtbetKontoNr {ACCOUNT} (8327-9, 123 456 789-7) is not valid"),
        op("crona", "update", "anna@nordljus.se", "job_title", "Ekonom", "Lönespecialist", "applied"),
        op("crona", "update", "bo@nordljus.se", "job_title", "Chef", "VD", "unverified", error="read back 'Chef'"),
        op("huma", "update", "anna@nordljus.se", "given_name", "Ana", EVIL, "applied"),
        op("huma", "update", "cy@nordljus.se", "given_name", "Cy", "Cyrus", "failed", error=f"400 {EVIL}"),
        op("huma", "create", "new@nordljus.se", "given_name", None, "Nina", "applied", record_id=None),
        op("huma", "create", "new@nordljus.se", "bank_account", None, ACCOUNT, "applied", record_id=None),
        op("huma", "create", "dup@nordljus.se", "given_name", None, "Dan", "skipped",
           error="not attempted: the create of dup@nordljus.se failed", record_id=None),
    ]
    return pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))


@pytest.fixture
def conflicts() -> pd.DataFrame:
    rows = [
        {"employee": "anna@nordljus.se", "field": "job_title", "kind": "conflict"},  # Huma won (Crona written)
        {"employee": "bo@nordljus.se", "field": "job_title", "kind": "conflict"},  # unverified: still resolved
        {"employee": "anna@nordljus.se", "field": "given_name", "kind": "conflict"},  # Crona won
        {"employee": "cy@nordljus.se", "field": "given_name", "kind": "conflict"},  # failed: unresolved
        {"employee": "dora@nordljus.se", "field": "phone", "kind": "conflict"},  # skipped by the policy
        {"employee": "eva@nordljus.se", "field": "job_title", "kind": "missing_in_crona"},  # not a conflict
    ]
    return pd.DataFrame(rows, columns=list(CONFLICT_COLUMNS))


@pytest.fixture
def not_planned() -> pd.DataFrame:
    rows = [("dora@nordljus.se", None, "phone", "policy decision", "default_winner: skip (no side wins)"),
            ("x@nordljus.se", "crona", None, "policy decision", "create_in_crona: none"),
            ("bad@nordljus.se", "crona", "bank_account", "not allowed", "invalid salary account")]
    return pd.DataFrame(rows, columns=list(NOT_PLANNED_COLUMNS))


@pytest.fixture
def report(outcomes, conflicts, not_planned):
    return build_report("run-42", outcomes, conflicts, not_planned, Policy(default_winner="huma"),
                        started_at="2025-03-01T09:59:00+00:00", finished_at="2025-03-01T10:01:00+00:00")


def assert_masked(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, leak


def test_counts_per_system(report):
    assert report.counts["Crona"] == {"created": 0, "updated": 1, "held": 1, "skipped": 0, "failed": 1,
                                      "unverified": 1}
    assert report.counts["Huma"] == {"created": 2, "updated": 1, "held": 0, "skipped": 1, "failed": 1,
                                     "unverified": 0}
    assert report.status_counts == {"applied": 4, "failed": 2, "unverified": 1, "held": 1, "skipped": 1}
    assert report.outcome_label == "applied 4, failed 2, unverified 1, held 1, skipped 1"
    assert not report.converged


def test_conflicts_resolved_per_field_and_winner(report):
    by_field = {c["field"]: c for c in report.conflicts}
    assert by_field["job_title"] == {"field": "job_title", "label": "job title", "conflicts": 2, "huma_won": 2,
                                     "crona_won": 0, "unresolved": 0}
    assert (by_field["given_name"]["crona_won"], by_field["given_name"]["unresolved"]) == (1, 1)
    assert (by_field["phone"]["conflicts"], by_field["phone"]["unresolved"]) == (1, 1)
    assert [c["field"] for c in report.conflicts] == ["given_name", "phone", "job_title"]  # field-table order


def test_lists_carry_reasons_and_masked_values(report):
    assert [r["employee"] for r in report.failed] == ["fail@nordljus.se", "cy@nordljus.se"]
    assert report.failed[0]["new_value"] == "•••• 7897"
    assert report.failed[0]["current_value"] == "•••• 8925"
    assert report.failed[0]["reason"].startswith("422 Unprocessable: UtbetKontoNr •••• 7897")
    assert report.unverified[0]["reason"] == "read back 'Chef'"
    assert report.held[0]["reason"] == "held: a changed salary account needs approval"
    assert report.skipped[0]["reason"].startswith("not attempted")
    assert report.not_planned == {"policy decision": 2, "not allowed": 1}
    assert_masked(repr(report.__dict__))


def test_markdown_summary(report):
    md = report.markdown()
    assert_masked(md)
    assert "| Crona | 0 | 1 | 1 | 0 | 1 | 1 |" in md
    assert "### Failed (2)" in md and "### Held (1)" in md and "### Unverified (1)" in md
    assert "approve_bank_account_change: true" in md and "  - email: held@nordljus.se" in md
    assert "<script>" not in md and "&lt;script&gt;" in md  # Markdown cells carry no HTML
    assert "| policy decision | 2 |" in md


def test_markdown_lists_are_capped(outcomes, conflicts, not_planned):
    many = pd.concat([outcomes.iloc[[5]]] * 60, ignore_index=True)
    md = build_report("r", many, conflicts, not_planned, Policy(), started_at="a", finished_at="b").markdown()
    assert "_first 50 of 60; the HTML report lists them all_" in md


def test_html_escapes_values_and_is_self_contained(report):
    html = render_html(report)
    assert_masked(html)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert not re.search(r"\b(src|href)\s*=", html)  # nothing fetched
    assert "@import" not in html and "url(" not in html
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}


def test_html_chart_has_one_bar_per_field_and_status(report):
    html = render_html(report)
    svg = re.search(r"<svg\b.*?</svg>", html, re.S).group(0)
    bars = re.findall(r'<rect class="bar" data-field="([^"]+)" data-status="([^"]+)"', svg)
    expected = {("bank_account", "held"), ("bank_account", "failed"), ("bank_account", "applied"),
                ("job_title", "applied"), ("job_title", "unverified"), ("given_name", "applied"),
                ("given_name", "failed"), ("given_name", "skipped")}
    assert len(bars) == len(set(bars)) == len(expected)
    assert set(bars) == expected
    given_applied = re.search(r'data-field="given_name" data-status="applied".*?<title>([^<]+)</title>', svg, re.S)
    assert given_applied.group(1) == "given name, applied: 2"
    assert [b["operations"] for b in report.by_field_status if b["field"] == "given_name"] == [2, 1, 1]


def test_html_lists_every_operation_and_how_to_approve_held_ones(report):
    html = render_html(report)
    for kind, n in (("failed", 2), ("unverified", 1), ("held", 1), ("skipped", 1)):
        assert f'<h2 id="{kind}">{kind.capitalize()} ({n})</h2>' in html
    assert "employees:\n  - email: held@nordljus.se\n    approve_bank_account_change: true" in html
    assert "read back &#39;Chef&#39;" in html
    assert "default_winner" in html and "huma" in html  # the policy summary


def test_text_summary(report):
    text = render_text(report)
    assert_masked(text)
    assert "applied 4, failed 2" in text
    assert "Crona: created 0, updated 1, held 1, skipped 0, failed 1, unverified 1" in text
    assert "approve_bank_account_change: true" in text
    assert "fail@nordljus.se salary bank account: •••• 8925 -> •••• 7897: 422" in text


def test_email_message(report):
    html, text = render_html(report), render_text(report)
    message = build_email(report, sender="humacrona@nordljus.se", to="admin@nordljus.se", html=html, text=text)
    assert message["Subject"] == "humacrona sync: 4 applied, 2 failed, 1 unverified, 1 held, 1 skipped"
    assert message["To"] == "admin@nordljus.se" and message["From"] == "humacrona@nordljus.se"
    assert message.get_content_type() == "multipart/alternative"
    parsed = email.message_from_bytes(message.as_bytes(), policy=email_policy.default)
    plain, rich = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain.get_content().rstrip("\n") == text.rstrip("\n")
    assert rich.get_content().rstrip("\n") == html.rstrip("\n")
    assert_masked(message.as_string())
    assert_masked(plain.get_content() + rich.get_content())


def test_subject_examples(outcomes):
    empty = pd.DataFrame(columns=list(OUTCOME_COLUMNS))
    plain = outcomes[outcomes["status"].isin(["applied", "failed"]) & (outcomes["action"] != "held")]
    args = dict(conflicts=pd.DataFrame(columns=list(CONFLICT_COLUMNS)),
                not_planned=pd.DataFrame(columns=list(NOT_PLANNED_COLUMNS)), policy=Policy(),
                started_at="a", finished_at="b")
    assert build_report("r", plain, **args).subject() == "humacrona sync: 4 applied, 2 failed, 0 unverified"
    converged = build_report("r", empty, **args)
    assert converged.converged and converged.outcome_label == "nothing to write"
    assert converged.subject() == "humacrona sync: in sync, nothing to write"
    assert "nothing to write" in render_html(converged) and "<svg" not in render_html(converged)
    dry = build_report("r", plain, **args, dry_run=True)
    assert dry.subject().startswith("humacrona sync (dry run): ") and "Dry run" in render_html(dry)


def test_write_html(report, tmp_path):
    path = write_html(report, tmp_path / "reports")
    assert path == tmp_path / "reports" / "sync-report-run-42.html"
    assert path.read_text(encoding="utf-8") == render_html(report)
