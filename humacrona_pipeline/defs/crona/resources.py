"""Crona Lön connection as a Dagster resource: the Aktiveringskod arrives only through the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from ...connection.variables import CRONA, CRONA_ACTIVATION_CODE, CRONA_BASE_URL
from ...connectors.problems import not_configured
from ..huma.resources import bound

if TYPE_CHECKING:  # the client (httpx) is imported by the steps that connect, not when the code location loads
    from ...connectors.crona import CronaClient


class CronaResource(dg.ConfigurableResource):
    """Crona Lön API-koppling settings (the Aktiveringskod Crona shows when the connection is created)."""

    base_url: str = Field(default="", description=f"The Crona Lön API's address ({CRONA_BASE_URL}).")
    activation_code: str = Field(default="",
                                 description=f"The API-koppling's Aktiveringskod ({CRONA_ACTIVATION_CODE}).")
    concurrency: int = 4
    timeout_s: float = 30.0

    def client(self) -> CronaClient:
        """A client; `ConnectionProblem` (one line naming the variables) when a setting is missing."""
        from ...connectors.crona import CronaClient

        problem = not_configured(CRONA, {CRONA_BASE_URL: self.base_url, CRONA_ACTIVATION_CODE: self.activation_code})
        if problem is not None:
            raise problem
        return CronaClient(
            self.base_url.strip(),
            self.activation_code.strip(),
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
        )


def crona_resource_from_env() -> CronaResource:
    return CronaResource(
        base_url=bound(CRONA_BASE_URL),
        activation_code=bound(CRONA_ACTIVATION_CODE),
    )
