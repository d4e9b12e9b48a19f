"""The webhook inbox as a Dagster resource: the same state database as the audit ledger, where the webhook
receiver stores every event."""

from __future__ import annotations

from ...state.inbox import Inbox
from ..apply.resources import StateDatabaseResource


class InboxResource(StateDatabaseResource):
    """Where the accepted Huma webhook events are."""

    def inbox(self) -> Inbox:
        return Inbox(self.url)


def inbox_resource_from_env() -> InboxResource:
    return InboxResource.from_env()
