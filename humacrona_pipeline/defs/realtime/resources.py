"""The webhook inbox as a Dagster resource: the same state database as the audit ledger, where the webhook
receiver stores every event."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..apply.resources import StateDatabaseResource

if TYPE_CHECKING:  # the inbox (SQLAlchemy) is imported by the sensor tick that reads it
    from ...state.inbox import Inbox


class InboxResource(StateDatabaseResource):
    """Where the accepted Huma webhook events are."""

    def inbox(self) -> Inbox:
        from ...state.inbox import Inbox

        return Inbox(self.url)


def inbox_resource_from_env() -> InboxResource:
    return InboxResource.from_env()
