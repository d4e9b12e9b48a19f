"""Fixtures of the deployment's tests."""

from __future__ import annotations

import pytest

from tests.postgres_server import running_deployment_databases


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server with a deployment's two databases, for one test module."""
    with running_deployment_databases() as server:
        yield server
