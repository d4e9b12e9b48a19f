"""The sync report: counts, conflicts resolved and who won, the lists with reasons, the Markdown summary,
the HTML page (escaped, nothing external, readable in email clients: a table chart, nothing wider than
700 px, inline styles) and the email; times in the administrator's zone; bank accounts always masked."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy as email_policy

import pandas as pd
import pytest

from humacrona_pipeline.core.outcomes import OUTCOME_COLUMNS
from humacrona_pipeline.core.plan import NOT_PLANNED_COLUMNS
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.core.reconcile import CONFLICT_COLUMNS
from humacrona_pipeline.report.email_message import build_email
from humacrona_pipeline.report.html import MAX_WIDTH, render_html, render_text, write_html
from humacrona_pipeline.report.summary import APPROVAL_TITLE, build_report
from humacrona_pipeline.report.times import UnknownTimeZone

# Valid Swedish salary accounts (tests/core/test_bank_accounts.py) in stored form.
ACCOUNT = "83279 1234567897"  # Swedbank 8327-9, 123 456 789-7
OLD_ACCOUNT = "83279 0147258925"  # Swedbank 8327-9, 014 725 892-5
LEAKS = ("1234567897", "123 456 789", "0147258925", "014 725 892", "83279")
EVIL = "<script>alert('x')</script>"
START, END = "2025-03-01T09:59:00+00:00", "2025-03-01T10:01:00+00:00"


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
                                      "unverified": 1, "drifted": 0}
    assert report.counts["Huma"] == {"created": 2, "updated": 1, "held": 0, "skipped": 1, "failed": 1,
                                     "unverified": 0, "drifted": 0}
    assert report.status_counts == {"applied": 4, "failed": 2, "unverified": 1, "drifted": 0, "held": 1,
                                    "skipped": 1}
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
    # The held row points to the one place that says how to approve it, instead of repeating it.
    assert report.held[0]["reason"].endswith(f"see \u201c{APPROVAL_TITLE}\u201d below")
    assert "approve_bank_account_change" not in report.held[0]["reason"]
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
    md = build_report("r", many, conflicts, not_planned, Policy(), started_at=START, finished_at=END).markdown()
    assert "_first 50 of 60; the HTML report lists them all_" in md


def test_html_escapes_values_and_is_self_contained(report):
    html = render_html(report)
    assert_masked(html)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert not re.search(r"\b(src|href)\s*=", html)  # nothing fetched
    assert "@import" not in html and "url(" not in html
    assert not re.findall(r"https?://", html)


def chart_rows(html: str) -> dict[tuple[str, str], str]:
    """The chart's rows by (field, status): the HTML of each `<tr class="bar">`."""
    chart = re.search(r'<table class="chart".*?(?=<h2)', html, re.S).group(0)
    rows = {}
    for piece in chart.split('<tr class="bar"')[1:]:
        key = re.match(r' data-field="([^"]+)" data-status="([^"]+)"', piece).groups()
        assert key not in rows, key
        rows[key] = piece
    return rows


def test_html_chart_is_a_table_email_clients_show_one_row_per_field_and_status(report):
    html = render_html(report)
    assert "<svg" not in html.lower()  # Gmail and Outlook drop inline SVG
    rows = chart_rows(html)
    assert set(rows) == {("bank_account", "held"), ("bank_account", "failed"), ("bank_account", "applied"),
                         ("job_title", "applied"), ("job_title", "unverified"), ("given_name", "applied"),
                         ("given_name", "failed"), ("given_name", "skipped")}
    # Each bar: a cell coloured by attribute (Outlook) and inline style, as wide as its share of the largest.
    given_applied, given_failed = rows[("given_name", "applied")], rows[("given_name", "failed")]
    assert '<table role="presentation" width="100%"' in given_applied  # 2 operations: the largest bar
    assert 'bgcolor="#2e7d32"' in given_applied and "background-color:#2e7d32" in given_applied
    assert 'title="given name, applied: 2"' in given_applied
    assert '<table role="presentation" width="50%"' in given_failed and 'bgcolor="#c62828"' in given_failed
    assert [b["operations"] for b in report.by_field_status if b["field"] == "given_name"] == [2, 1, 1]


def test_html_lists_every_operation_and_how_to_approve_held_ones(report):
    html = render_html(report)
    for kind, n in (("failed", 2), ("unverified", 1), ("held", 1), ("skipped", 1)):
        assert re.search(rf'<h2 id="{kind}"[^>]*>{kind.capitalize()} \({n}\)</h2>', html)
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
                started_at=START, finished_at=END)
    assert build_report("r", plain, **args).subject() == "humacrona sync: 4 applied, 2 failed, 0 unverified"
    converged = build_report("r", empty, **args)
    assert converged.converged and converged.outcome_label == "nothing to write"
    assert converged.subject() == "humacrona sync: in sync, nothing to write"
    assert "nothing to write" in render_html(converged) and "<svg" not in render_html(converged)
    dry = build_report("r", plain, **args, dry_run=True)
    assert dry.subject().startswith("humacrona sync (dry run): ") and "Dry run" in render_html(dry)


def test_a_connections_report_names_it_where_an_administrator_of_several_looks(outcomes):
    """One of several connections: the subject, the title and both bodies name it (hostile text made visible)."""
    args = dict(conflicts=pd.DataFrame(columns=list(CONFLICT_COLUMNS)),
                not_planned=pd.DataFrame(columns=list(NOT_PLANNED_COLUMNS)), policy=Policy(),
                started_at=START, finished_at=END)
    report = build_report("r", outcomes, **args, connection="nordljus-ab")
    assert report.subject().startswith("humacrona sync [nordljus-ab]: ")
    assert "nordljus-ab" in render_html(report) and render_text(report).startswith("humacrona sync [nordljus-ab] r")
    hostile = build_report("r", outcomes, **args, connection="ab\nBcc: x@evil")
    assert "\n" not in hostile.subject()


def test_write_html(report, tmp_path):
    path = write_html(report, tmp_path / "reports")
    assert path == tmp_path / "reports" / "sync-report-run-42.html"
    assert path.read_text(encoding="utf-8") == render_html(report)


# --- read as an administrator reads it: numbers in words, times, the approval, email clients ---------------


def conflicts_of(n_fields: dict[str, int]) -> pd.DataFrame:
    rows = [{"employee": f"e{i}@nordljus.se", "field": f, "kind": "conflict"}
            for f, n in n_fields.items() for i in range(n)]
    return pd.DataFrame(rows, columns=list(CONFLICT_COLUMNS))


def test_counts_and_nouns_agree_in_every_form(outcomes, not_planned):
    report = build_report("r", outcomes, conflicts_of({"given_name": 1, "job_title": 2}), not_planned, Policy(),
                          started_at=START, finished_at=END)
    text, md, html = render_text(report), report.markdown(), render_html(report)
    assert "  given name: 1 conflict; " in text and "  job title: 2 conflicts; " in text
    for shown in (text, md, html, report.subject()):
        assert not re.search(r"(?<![\d.,])1 (conflicts|employees|operations|errors|values)\b", shown), shown
    none = build_report("r", outcomes, conflicts_of({}), not_planned, Policy(), started_at=START, finished_at=END)
    assert "Conflicts resolved:\n  no conflicts\n" in render_text(none)


def test_times_are_in_stockholm_time_with_utc_beside_them(outcomes, conflicts, not_planned):
    def shown(started: str, **zone) -> tuple[str, str, str]:
        report = build_report("r", outcomes, conflicts, not_planned, Policy(), started_at=started,
                              finished_at=started, **zone)
        return render_html(report), render_text(report), report.markdown()

    html, text, md = shown("2025-01-15T10:00:05+00:00")  # winter: CET, +01:00
    assert '<span class="time" title="2025-01-15 10:00:05 UTC">2025-01-15 11:00:05 +01:00</span>' in html
    assert "times in Europe/Stockholm" in html
    assert "2025-01-15 11:00:05 +01:00 (2025-01-15 10:00:05 UTC)" in text and "Times in Europe/Stockholm." in text
    assert "2025-01-15 11:00:05 +01:00 (2025-01-15 10:00:05 UTC)" in md
    html, text, _ = shown("2025-07-15T22:30:00Z")  # summer: CEST, +02:00, and past midnight in Stockholm
    assert 'title="2025-07-15 22:30:00 UTC">2025-07-16 00:30:00 +02:00</span>' in html
    assert "2025-07-16 00:30:00 +02:00 (2025-07-15 22:30:00 UTC)" in text


def test_times_in_another_configured_zone(outcomes, conflicts, not_planned):
    report = build_report("r", outcomes, conflicts, not_planned, Policy(), timezone="America/New_York",
                          started_at=datetime(2025, 1, 15, 10, 0, 5, tzinfo=UTC),
                          finished_at=datetime(2025, 7, 15, 10, 0, 5, tzinfo=UTC))
    html = render_html(report)
    assert 'title="2025-01-15 10:00:05 UTC">2025-01-15 05:00:05 -05:00</span>' in html
    assert 'title="2025-07-15 10:00:05 UTC">2025-07-15 06:00:05 -04:00</span>' in html
    assert "times in America/New_York" in html and "Europe/Stockholm" not in html


def test_an_unknown_time_zone_is_one_clear_line(outcomes, conflicts, not_planned):
    with pytest.raises(UnknownTimeZone) as raised:
        build_report("r", outcomes, conflicts, not_planned, Policy(), timezone="Europe/Stockholmm",
                     started_at=START, finished_at=END)
    message = str(raised.value)
    assert "\n" not in message
    assert "HUMACRONA_TIMEZONE" in message and "'Europe/Stockholmm'" in message and "Europe/Stockholm," in message


def test_how_to_approve_held_changes_is_said_once_for_every_held_employee(outcomes, conflicts, not_planned):
    second = outcomes.iloc[[0]].assign(employee="bo@nordljus.se", record_id="r2")
    report = build_report("r", pd.concat([outcomes, second], ignore_index=True), conflicts, not_planned, Policy(),
                          started_at=START, finished_at=END)
    snippet = ("employees:\n  - email: bo@nordljus.se\n    approve_bank_account_change: true\n"
               "  - email: held@nordljus.se\n    approve_bank_account_change: true")
    assert report.approval_snippet == snippet
    for shown in (render_html(report), render_text(report), report.markdown()):
        assert shown.count("approve_bank_account_change: true") == 2  # once per held employee
        assert shown.count("employees:\n") == 1
        assert len(re.findall(rf"(?m)(^|>|### ){APPROVAL_TITLE}(:|<|$)", shown)) == 1
        assert shown.count(f"see \u201c{APPROVAL_TITLE}\u201d below") == 2  # each held row points to it
    html = render_html(report)
    assert html.index('<h2 id="held"') < html.index('id="approve"') < html.index("<h2", html.index('id="approve"'))


def test_nothing_in_the_html_is_wider_than_an_email_reading_pane(outcomes, conflicts, not_planned):
    long_reason = "400 " + "x" * 180 + " " + ", ".join(f"field{i}" for i in range(40))
    long_email = "maria-josefina.lindqvist-andersson-" + "y" * 60 + "@nordljus-personalservice.se"
    wide = pd.concat([outcomes, outcomes.iloc[[5]].assign(employee=long_email, error=long_reason)],
                     ignore_index=True)
    policy = Policy(default_winner="huma", field_winners={f: "crona" for f in
                                                          ("address", "bank_account", "job_title", "phone")})
    html = render_html(build_report("r", wide, conflicts, not_planned, policy, started_at=START, finished_at=END))
    assert MAX_WIDTH == 700
    assert "<style" not in html.lower()  # inline styles only: what email clients keep
    assert 'class="report" style="max-width:700px;box-sizing:border-box;' in html
    assert all(int(w) <= MAX_WIDTH for w in re.findall(r"max-width:(\d+)px", html))
    assert all(int(w) <= MAX_WIDTH for w in re.findall(r'\bwidth="(\d+)"', html))
    assert all(int(w) <= MAX_WIDTH for w in re.findall(r"[^-]width:(\d+)px", html))
    tables = re.findall(r"<table\b[^>]*>", html)
    for table in tables:  # a share of its container, or at most 700 px (Outlook's fixed-width frame)
        assert re.search(r'width="(\d+%|[1-6]\d\d|700)"', table), table
    content = [t for t in tables if re.search(r'class="(counts|chart|conflicts|operations|not-planned|policy)\b', t)]
    assert len(content) >= 6 and all("max-width:700px" in t for t in content)
    # The longest values wrap inside their cells instead of widening the table.
    for value in (long_reason[:60], long_email[:40]):
        cell = re.search(rf'<td style="([^"]*)"><bdi>{re.escape(value)}', html)
        assert cell and "word-break:break-word" in cell.group(1) and "overflow-wrap:anywhere" in cell.group(1)
    assert re.search(r'<pre class="approval" style="[^"]*white-space:pre-wrap;word-break:break-all;', html)
    policy_cell = re.search(r'<th [^>]*>field_winners</th><td style="([^"]*)">', html)
    assert "word-break:break-word" in policy_cell.group(1)


def test_the_email_html_is_what_email_clients_show(report):
    message = build_email(report, sender="humacrona@nordljus.se", to="admin@nordljus.se",
                          html=render_html(report), text=render_text(report))
    parsed = email.message_from_bytes(message.as_bytes(), policy=email_policy.default)
    rich = parsed.get_body(("html",)).get_content()
    assert "<svg" not in rich.lower() and "<style" not in rich.lower()
    assert len(chart_rows(rich)) == len(report.by_field_status)
    assert parsed["To"] == "admin@nordljus.se"


def test_without_a_recipient_the_message_has_no_empty_to(report):
    message = build_email(report, sender="humacrona@nordljus.se", to=None, html=render_html(report),
                          text=render_text(report))
    assert message["To"] is None
