"""Crona Lön connection as a Dagster resource: the Aktiveringskod arrives only through the environment. The
channel is the API (default) or PAXml files (`connection.crona_channel`): then reads come from Crona's export
and writes go to an import file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from ...connection.connections import Connection, resolve
from ...connection.crona_channel import (
    CRONA_CHANNEL,
    CRONA_PAXML_DIR,
    CRONA_PAXML_EXPORT,
    CRONA_PAXML_IMPORT_DIR,
    CronaChannel,
)
from ...connection.variables import CRONA, CRONA_ACTIVATION_CODE, CRONA_BASE_URL
from ...connectors.problems import NOT_CONFIGURED, ConnectionProblem, not_configured
from ..huma.resources import bound
from ..partitions import PerConnection

if TYPE_CHECKING:  # the clients (httpx, lxml) are imported by the steps that connect, not when the code location loads
    from ...connectors.crona import CronaClient
    from ...connectors.paxml.export_reader import PaxmlExport


class CronaResource(PerConnection, dg.ConfigurableResource):
    """Crona Lön API-koppling settings (the Aktiveringskod Crona shows when the connection is created), or the
    PAXml channel's folder or paths."""

    base_url: str = Field(default="", description=f"The Crona Lön API's address ({CRONA_BASE_URL}).")
    activation_code: str = Field(default="", repr=False,
                                 description=f"The API-koppling's Aktiveringskod ({CRONA_ACTIVATION_CODE}).")
    channel: str = Field(default="api", description=f"'api' or 'paxml' ({CRONA_CHANNEL}).")
    paxml_dir: str = Field(default="", description=f"PAXml: a folder with export/ and import/ ({CRONA_PAXML_DIR}).")
    paxml_export: str = Field(default="", description=f"PAXml: Crona's export file ({CRONA_PAXML_EXPORT}).")
    paxml_import_dir: str = Field(default="", description=f"PAXml: where import files go ({CRONA_PAXML_IMPORT_DIR}).")
    concurrency: int = 4
    timeout_s: float = 30.0

    def for_connection(self, connection: Connection) -> CronaResource:
        settings, channel = resolve(connection), connection.crona_channel
        return self.model_copy(update={
            "base_url": settings.crona_base_url, "activation_code": settings.crona_activation_code,
            "channel": channel.kind, "paxml_dir": channel.folder, "paxml_export": channel.export,
            "paxml_import_dir": channel.import_dir})

    def channel_settings(self) -> CronaChannel:
        return CronaChannel(self.channel.strip().lower() or "api", self.paxml_dir.strip(),
                            self.paxml_export.strip(), self.paxml_import_dir.strip())

    @property
    def paxml(self) -> bool:
        return self.channel_settings().paxml

    @property
    def identity(self) -> str:
        """Crona's side of the connection, as a confirmation names it: the base URL, or the PAXml folder."""
        settings = self.channel_settings()
        return settings.identity() if settings.paxml else self.base_url

    def client(self) -> CronaClient | PaxmlExport:
        """A client (the API's, or the PAXml export's reader); `ConnectionProblem` (one line naming the
        variables) when a setting is missing."""
        settings = self.channel_settings()
        problem = settings.problem()
        if problem is not None:
            raise ConnectionProblem(CRONA, problem, kind=NOT_CONFIGURED, variables=(CRONA_CHANNEL,))
        if settings.paxml:
            from ...connectors.paxml.export_reader import PaxmlExport

            try:
                return PaxmlExport(settings.export_file())
            except FileNotFoundError as missing:
                raise ConnectionProblem(CRONA, str(missing), kind=NOT_CONFIGURED,
                                        variables=(CRONA_PAXML_DIR, CRONA_PAXML_EXPORT)) from None
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


def _optional(name: str) -> dict:
    return {name: dg.EnvVar(name)} if (os.environ.get(name) or "").strip() else {}


def crona_resource_from_env() -> CronaResource:
    """Bound to the environment; the channel's variables only when set, so the API default needs none."""
    fields = {CRONA_CHANNEL: "channel", CRONA_PAXML_DIR: "paxml_dir", CRONA_PAXML_EXPORT: "paxml_export",
              CRONA_PAXML_IMPORT_DIR: "paxml_import_dir"}
    optional = {field: value for name, field in fields.items() for value in _optional(name).values()}
    return CronaResource(
        base_url=bound(CRONA_BASE_URL),
        activation_code=bound(CRONA_ACTIVATION_CODE),
        **optional,
    )
