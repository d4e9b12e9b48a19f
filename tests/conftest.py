"""Fixtures shared across the suite: running sandboxes reached over real HTTP on ephemeral ports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from humacrona_pipeline.connection.connections import CONNECTIONS_FILE_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
# The code location reads its connections (its partitions) when first imported: the suite's is the one connection
# of today's variables, `default`, whatever the shell that runs the tests has set. A test with a connections file
# names its connection `default` too, or runs the code location in a process of its own.
os.environ.pop(CONNECTIONS_FILE_ENV, None)
# Huma's and Crona's reference documents (../shared/reference): tests find them through reference_files.py.


@pytest.fixture(scope="session")
def sandboxes():
    """Both sandboxes seeded with 60 people (seed 7), served on ephemeral ports for the whole session.

    Read-only tests share it; a test that writes starts its own."""
    from humacrona_sandbox.runner import SandboxOptions, start_sandboxes

    with start_sandboxes(SandboxOptions(employees=60, seed=7, huma_port=0, crona_port=0)) as running:
        yield running


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    """A throw-away Dagster instance directory for tests that launch runs."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home
