"""Fixtures of the Dagster wiring's tests."""

from __future__ import annotations

import pytest

from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from tests.defs.sync_testkit import confirm


@pytest.fixture
def sandboxes30(dagster_home):
    """Fresh sandboxes (30 people, seed 5) whose connection the administrator confirmed (a push writes nothing
    otherwise)."""
    with start_sandboxes(SandboxOptions(employees=30, seed=5, huma_port=0, crona_port=0)) as running:
        confirm(running, dagster_home)
        yield running
