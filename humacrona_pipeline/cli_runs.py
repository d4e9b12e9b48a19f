"""What a failed run of `humacrona sync` means, in the few lines a terminal should show: a misconfiguration
reads as one line on stderr, not as the step's log and traceback (the run itself, with every event, is in
the instance for the Dagster UI)."""

from __future__ import annotations

import dagster as dg

from .defs.connection import PROBLEM_KEY


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def problem_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """The one-line misconfigurations (connection problems, an unconfirmed connection) the run's steps failed
    with, each once, in the order they happened."""
    lines: list[str] = []
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        failure = event.step_failure_data.user_failure_data
        if (failure is not None and PROBLEM_KEY in (failure.metadata or {}) and failure.description
                and failure.description not in lines):
            lines.append(failure.description)
    return lines


def failure_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """Every other failure, one line each: the failed step with its first line, and each failed check."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            text = (data.user_failure_data.description if data.user_failure_data else None) or data.error.message
            lines.append(f"{event.step_key} failed: {_first_line(text)}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            lines.append(f"check {evaluation.check_name} failed: {_first_line(evaluation.description)}")
    return lines
