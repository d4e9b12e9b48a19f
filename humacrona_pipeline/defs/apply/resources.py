"""Where the audit ledger lives, as a Dagster resource: SQLite under DAGSTER_HOME unless
`HUMACRONA_STATE_URL` names another database (any SQLAlchemy URL, e.g. PostgreSQL)."""

from __future__ import annotations

import os
from typing import Optional

import dagster as dg
from pydantic import Field

from ...state.ledger import Ledger

STATE_URL_ENV = "HUMACRONA_STATE_URL"


class LedgerResource(dg.ConfigurableResource):
    """The durable record of every attempted write (the URL may hold a password: it comes from the environment)."""

    url: Optional[str] = Field(default=None, description="SQLAlchemy URL; unset: SQLite under DAGSTER_HOME.")

    def ledger(self) -> Ledger:
        return Ledger(self.url)


def ledger_resource_from_env() -> LedgerResource:
    """Bound to `HUMACRONA_STATE_URL` only when it is set, so the code location loads without it."""
    if os.environ.get(STATE_URL_ENV):
        return LedgerResource(url=dg.EnvVar(STATE_URL_ENV))
    return LedgerResource()
