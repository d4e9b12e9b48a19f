"""The webhook inbox as a Dagster resource: the same state database as the audit ledger, where the webhook
receiver stores every event."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...connection.connections import DEFAULT_NAME
from ..apply.resources import StateDatabaseResource

if TYPE_CHECKING:  # the inbox (SQLAlchemy) is imported by the sensor tick that reads it
    from ...state.inbox import Inbox


class InboxResource(StateDatabaseResource):
    """Where the accepted Huma webhook events are. One resource for every connection, not one per connection
    (`defs.partitions.PerConnection`): the sensor reads it in a tick, which has no run and so no partition; it
    opens each connection's inbox by name."""

    def inbox(self, connection: str = DEFAULT_NAME) -> Inbox:
        """The connection's inbox: only that connection's events, claims and ids."""
        from ...state.inbox import Inbox

        return Inbox(self.url, connection=connection)


def inbox_resource_from_env() -> InboxResource:
    return InboxResource.from_env()
