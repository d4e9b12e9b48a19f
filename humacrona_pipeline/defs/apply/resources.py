"""The state database as Dagster resources: SQLite under DAGSTER_HOME unless `HUMACRONA_STATE_URL` names another
database (any SQLAlchemy URL, e.g. PostgreSQL). The audit ledger and the webhook inbox live in it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from ...connection.connections import DEFAULT_NAME, Connection
from ...state.home import STATE_URL_ENV
from ..partitions import PerConnection

if TYPE_CHECKING:  # the ledger (SQLAlchemy, pandas) is imported by the steps that use it
    from ...state.ledger import Ledger


class StateDatabaseResource(dg.ConfigurableResource):
    """A table of the state database (the URL may hold a password: it comes from the environment)."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; unset: SQLite under DAGSTER_HOME.")

    @classmethod
    def from_env(cls):
        """Bound to `HUMACRONA_STATE_URL` only when it is set, so the code location loads without it."""
        return cls(url=dg.EnvVar(STATE_URL_ENV)) if os.environ.get(STATE_URL_ENV) else cls()


class LedgerResource(PerConnection, StateDatabaseResource):
    """The durable record of every attempted write, one connection's rows (a run's: its partition's)."""

    connection: str = Field(default=DEFAULT_NAME, description="The connection whose rows these are.")

    def named(self, name: str) -> LedgerResource:
        return self.model_copy(update={"connection": name})

    def for_connection(self, connection: Connection) -> LedgerResource:
        return self.named(connection.name)

    def ledger(self) -> Ledger:
        from ...state.ledger import Ledger

        return Ledger(self.url, connection=self.connection)


def ledger_resource_from_env() -> LedgerResource:
    return LedgerResource.from_env()
