"""Huma connection as a Dagster resource: credentials arrive only through environment variables."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from ...connection.variables import HUMA, HUMA_BASE_URL, HUMA_CLIENT_ID, HUMA_CLIENT_SECRET
from ...connectors.problems import not_configured

if TYPE_CHECKING:  # the client (httpx) is imported by the steps that connect, not when the code location loads
    from ...connectors.huma import HumaClient


class HumaResource(dg.ConfigurableResource):
    """Huma Open API client settings (client credentials from System settings → Open API)."""

    base_url: str = Field(default="", description=f"The Huma Open API's address ({HUMA_BASE_URL}).")
    client_id: str = Field(default="", description=f"The API key's client id ({HUMA_CLIENT_ID}).")
    client_secret: str = Field(default="", description=f"The API key's client secret ({HUMA_CLIENT_SECRET}).")
    concurrency: int = 16
    timeout_s: float = 30.0
    group_id: str | None = Field(
        default=None, description="The Huma group new users join; unset: the organisation's one company group.")

    def client(self) -> HumaClient:
        """A client; `ConnectionProblem` (one line naming the variables) when a setting is missing."""
        from ...connectors.huma import HumaClient

        problem = not_configured(HUMA, {HUMA_BASE_URL: self.base_url, HUMA_CLIENT_ID: self.client_id,
                                        HUMA_CLIENT_SECRET: self.client_secret})
        if problem is not None:
            raise problem
        return HumaClient(
            self.base_url.strip(),
            self.client_id.strip(),
            self.client_secret.strip(),
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
        )


GROUP_ENV = "HUMA_GROUP_ID"


def bound(name: str) -> dg.EnvVar | str:
    """`EnvVar(name)` when the variable is set; else "" so that the run starts and the step that needs it
    fails with one line naming the variable (an unset EnvVar fails the whole run's config instead)."""
    return dg.EnvVar(name) if (os.environ.get(name) or "").strip() else ""


def huma_resource_from_env() -> HumaResource:
    optional = {"group_id": dg.EnvVar(GROUP_ENV)} if os.environ.get(GROUP_ENV) else {}
    return HumaResource(
        base_url=bound(HUMA_BASE_URL),
        client_id=bound(HUMA_CLIENT_ID),
        client_secret=bound(HUMA_CLIENT_SECRET),
        **optional,
    )
