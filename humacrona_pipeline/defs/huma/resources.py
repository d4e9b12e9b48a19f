"""Huma connection as a Dagster resource: credentials arrive only through environment variables."""

from __future__ import annotations

import os
from typing import Optional

import dagster as dg
from pydantic import Field

from ...connectors.huma import HumaClient


class HumaResource(dg.ConfigurableResource):
    """Huma Open API client settings (client credentials from System settings → Open API)."""

    base_url: str
    client_id: str
    client_secret: str
    concurrency: int = 16
    timeout_s: float = 30.0
    group_id: Optional[str] = Field(
        default=None, description="The Huma group new users join; unset: the organisation's one company group.")

    def client(self) -> HumaClient:
        return HumaClient(
            self.base_url,
            self.client_id,
            self.client_secret,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
        )


GROUP_ENV = "HUMA_GROUP_ID"


def huma_resource_from_env() -> HumaResource:
    optional = {"group_id": dg.EnvVar(GROUP_ENV)} if os.environ.get(GROUP_ENV) else {}
    return HumaResource(
        base_url=dg.EnvVar("HUMA_BASE_URL"),
        client_id=dg.EnvVar("HUMA_CLIENT_ID"),
        client_secret=dg.EnvVar("HUMA_CLIENT_SECRET"),
        **optional,
    )
