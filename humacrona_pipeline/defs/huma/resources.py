"""Huma connection as a Dagster resource: credentials arrive only through environment variables. A run of one
connection of the connections file gets that connection's API key and Huma scope (`defs.partitions`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from ...connection import scope
from ...connection.connections import Connection, resolve
from ...connection.scope import COMPANIES, ORGANISATION, SCOPE_KINDS
from ...connection.variables import HUMA, HUMA_BASE_URL, HUMA_CLIENT_ID, HUMA_CLIENT_SECRET
from ...connectors.problems import not_configured
from ..partitions import PerConnection

if TYPE_CHECKING:  # the client (httpx) is imported by the steps that connect, not when the code location loads
    from ...connectors.huma import HumaClient


class HumaResource(PerConnection, dg.ConfigurableResource):
    """Huma Open API client settings (client credentials from System settings → Open API), and the scope of Huma
    users the connection syncs."""

    base_url: str = Field(default="", description=f"The Huma Open API's address ({HUMA_BASE_URL}).")
    client_id: str = Field(default="", description=f"The API key's client id ({HUMA_CLIENT_ID}).")
    client_secret: str = Field(default="", repr=False,
                               description=f"The API key's client secret ({HUMA_CLIENT_SECRET}).")
    concurrency: int = 16
    timeout_s: float = 30.0
    group_id: str | None = Field(
        default=None, description="The Huma group new users join; unset: the organisation's one company group.")
    scope_kind: str = Field(default=ORGANISATION,
                            description=f"The users synced: {ORGANISATION}, or those of some {', '.join(SCOPE_KINDS)}.")
    scope_ids: list[str] = Field(default=[], description="The Huma group ids (UUIDs) of the scope.")

    def for_connection(self, connection: Connection) -> HumaResource:
        settings = resolve(connection)
        # A user created for a scope of one company joins that company; another scope creates nobody in Huma, and
        # HUMA_GROUP_ID (one organisation's group) is never another connection's.
        single_company = connection.scope_kind == COMPANIES and len(connection.scope_ids) == 1
        return self.model_copy(update={
            "base_url": settings.huma_base_url, "client_id": settings.huma_client_id,
            "client_secret": settings.huma_client_secret, "scope_kind": connection.scope_kind,
            "scope_ids": list(connection.scope_ids),
            "group_id": connection.scope_ids[0] if single_company else None})

    def creates_refused(self) -> str | None:
        """Why this connection creates nobody in Huma, or None (`scope.creates_refused`)."""
        return scope.creates_refused(self.scope_kind, self.scope_ids)

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
            scope=(self.scope_kind, self.scope_ids),
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
