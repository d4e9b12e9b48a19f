"""Crona Lön connection as a Dagster resource: the Aktiveringskod arrives only through the environment."""

from __future__ import annotations

import dagster as dg

from ...connectors.crona import CronaClient


class CronaResource(dg.ConfigurableResource):
    """Crona Lön API-koppling settings (the Aktiveringskod Crona shows when the connection is created)."""

    base_url: str
    activation_code: str
    concurrency: int = 4
    timeout_s: float = 30.0

    def client(self) -> CronaClient:
        return CronaClient(
            self.base_url,
            self.activation_code,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
        )


def crona_resource_from_env() -> CronaResource:
    return CronaResource(
        base_url=dg.EnvVar("CRONA_BASE_URL"),
        activation_code=dg.EnvVar("CRONA_ACTIVATION_CODE"),
    )
