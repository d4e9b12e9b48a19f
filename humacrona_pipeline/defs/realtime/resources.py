"""The webhook inbox as a Dagster resource: the same state database as the audit ledger (SQLite under
DAGSTER_HOME unless `HUMACRONA_STATE_URL` names another), where the webhook receiver stores every event."""

from __future__ import annotations

import os
from typing import Optional

import dagster as dg
from pydantic import Field

from ...state.inbox import Inbox
from ..apply.resources import STATE_URL_ENV


class InboxResource(dg.ConfigurableResource):
    """Where the accepted Huma webhook events are (the URL may hold a password: it comes from the environment)."""

    url: Optional[str] = Field(default=None, description="SQLAlchemy URL; unset: SQLite under DAGSTER_HOME.")

    def inbox(self) -> Inbox:
        return Inbox(self.url)


def inbox_resource_from_env() -> InboxResource:
    """Bound to `HUMACRONA_STATE_URL` only when it is set, so the code location loads without it."""
    if os.environ.get(STATE_URL_ENV):
        return InboxResource(url=dg.EnvVar(STATE_URL_ENV))
    return InboxResource()
