"""How the demo and `humacrona dev` confirm the sandboxes (humacrona_sandbox.product.confirm_sandboxes): when
`humacrona check --confirm` fails or hangs, one clear line says so and the caller stops, instead of a
traceback."""

from __future__ import annotations

import os

from humacrona_sandbox import product


def _environment(tmp_path) -> dict[str, str]:
    """This environment without any connection variable, with a Dagster home of its own."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HUMACRONA_", "HUMA_", "CRONA_", "DAGSTER_"))}
    env["DAGSTER_HOME"] = str(tmp_path)
    return env


def test_a_check_that_does_not_finish_in_time_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(product, "CONFIRM_TIMEOUT_S", 0.01)  # shorter than the command takes to start
    assert product.confirm_sandboxes(_environment(tmp_path), "pytest", indent="  ") is False
    said = capsys.readouterr().out.splitlines()
    assert said == ["  humacrona check --confirm did not finish within 0.01 s: the sandboxes are not confirmed."]


def test_a_failed_check_says_so_and_shows_what_the_check_printed(tmp_path, capsys):
    """No connection variables: `humacrona check` refuses, and its own words follow, indented."""
    assert product.confirm_sandboxes(_environment(tmp_path), "pytest", indent="  ") is False
    header, *rest = capsys.readouterr().out.splitlines()
    assert header.startswith("  humacrona check --confirm failed (exit code ") and header.endswith("not confirmed:")
    assert rest and all(text.startswith("    ") for text in rest), rest
