"""The run's verdict on Crona's PAXml channel: operations awaiting their import are not a failure, and the check
says where the file is instead of claiming that everything was applied and verified."""

from __future__ import annotations

from humacrona_pipeline.defs.apply.checks import sync_applied_cleanly


def _report(**statuses: int) -> dict:
    return {"report_path": "/tmp/report.html", "statuses": statuses, "converged": False,
            "import_file": "/srv/crona/import/humacrona-import-r1.xml"}


def test_operations_awaiting_import_pass_and_name_the_file():
    result = sync_applied_cleanly(_report(**{"awaiting import": 3, "applied": 2}))
    assert result.passed
    assert "3 operations" in result.description and "humacrona-import-r1.xml" in result.description
    assert "awaiting import" in result.description and "every operation applied" not in result.description
    assert result.metadata["awaiting_import"].value == 3


def test_a_failed_write_still_fails_beside_awaiting_ones():
    result = sync_applied_cleanly(_report(**{"awaiting import": 3, "failed": 1}))
    assert not result.passed and "1 failed" in result.description


def test_without_awaiting_rows_the_verdict_is_unchanged():
    assert sync_applied_cleanly(_report(applied=2)).description == "every operation applied and verified"


def test_operations_all_skipped_are_never_called_applied():
    """E.g. an earlier import file still awaits its import: every Crona operation of this sync is skipped."""
    result = sync_applied_cleanly(_report(skipped=5))
    assert result.passed and "applied and verified" not in result.description
    assert result.description.startswith("nothing applied; 5 operations skipped")
