"""Who confirmed, and when, that they have the authority to connect a Huma organisation and a Crona Lön company.

Huma's own integrations ask the administrator to tick "I am authorised to connect ..." before anything is
synced; `humacrona check --confirm` records that here, after every check of the connection passed, and
every job that writes (`sync_users`, `push_huma_changes`) refuses a connection nobody confirmed.

A connection is its name (the connections file's; `default` for the one of today's variables) + Huma base URL +
Huma client id + Crona base URL (a new API key, or another Huma organisation or Crona Lön company, is a new
connection; two connections of one Crona Lön server are confirmed each on its own). No secret is stored, nor
anything derived from one. A table from before connections gets the name column, its rows `default`'s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ..connection.connections import DEFAULT_NAME
from . import db

STATEMENT = "I am authorised to connect this Huma organisation and this Crona Lön company"
CONFIRM_COMMAND = "humacrona check --confirm"

confirmations_table = sa.Table(
    "connection_confirmations", db.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("huma_base_url", sa.String(512), nullable=False),
    sa.Column("huma_client_id", sa.String(256), nullable=False),
    sa.Column("crona_base_url", sa.String(512), nullable=False),
    sa.Column("huma_organisation", sa.String(256)),  # organizationId from Huma's token answer
    sa.Column("crona_company", sa.String(512)),  # foretag from Crona's token answer: namn (orgnr)
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("confirmed_by", sa.String(256), nullable=False),
    sa.Column("confirmed_at", sa.String(40), nullable=False),  # UTC ISO 8601
    sa.Column("connection", sa.String(64), nullable=False, server_default=DEFAULT_NAME),
    sa.Index("ix_connection_confirmations_connection", "huma_base_url", "huma_client_id", "crona_base_url"),
)


def _url(value: str) -> str:
    return (value or "").strip().rstrip("/")


@dataclass(frozen=True)
class ConnectionIdentity:
    """What identifies a connection (never a secret)."""

    huma_base_url: str
    huma_client_id: str
    crona_base_url: str
    connection: str = DEFAULT_NAME  # the connections file's name for it

    def __post_init__(self) -> None:
        object.__setattr__(self, "huma_base_url", _url(self.huma_base_url))
        object.__setattr__(self, "huma_client_id", (self.huma_client_id or "").strip())
        object.__setattr__(self, "crona_base_url", _url(self.crona_base_url))

    def described(self) -> str:
        named = f"connection {self.connection}: " if self.connection != DEFAULT_NAME else ""
        return f"{named}Huma {self.huma_base_url}, Crona {self.crona_base_url}"

    def not_confirmed_line(self) -> str:
        command = CONFIRM_COMMAND + (f" --connection {self.connection}" if self.connection != DEFAULT_NAME else "")
        return f"this connection ({self.described()}) has not been confirmed: run `{command}` as the administrator"


@dataclass(frozen=True)
class Confirmation:
    connection: ConnectionIdentity
    confirmed_by: str
    confirmed_at: str
    statement: str
    huma_organisation: str | None = None
    crona_company: str | None = None


class NotConfirmed(Exception):
    """A job that writes was asked to run on a connection nobody confirmed; `str()` says how to confirm."""

    def __init__(self, connection: ConnectionIdentity):
        self.connection = connection
        super().__init__(connection.not_confirmed_line())


class Confirmations(db.StateStore):
    """The confirmations table in the state database."""

    added_columns = (confirmations_table, ("connection",))  # a table from before connections

    def record(self, connection: ConnectionIdentity, confirmed_by: str, *, huma_organisation: str | None = None,
               crona_company: str | None = None, statement: str = STATEMENT,
               at: datetime | None = None) -> Confirmation:
        """Record that ``confirmed_by`` confirmed ``statement`` for ``connection`` now (UTC)."""
        who = " ".join((confirmed_by or "").split())
        if not who:
            raise ValueError("a confirmation needs the name of who confirms")
        moment = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        row = {"huma_base_url": connection.huma_base_url, "huma_client_id": connection.huma_client_id,
               "crona_base_url": connection.crona_base_url, "connection": connection.connection,
               "huma_organisation": huma_organisation,
               "crona_company": crona_company, "statement": statement, "confirmed_by": who, "confirmed_at": moment}
        with db.write_transaction(self.engine) as conn:
            conn.execute(confirmations_table.insert().values(**row))
        return Confirmation(connection, who, moment, statement, huma_organisation, crona_company)

    def latest(self, connection: ConnectionIdentity) -> Confirmation | None:
        """The newest confirmation of exactly this connection, or None."""
        t = confirmations_table
        query = (sa.select(t).where(t.c.huma_base_url == connection.huma_base_url,
                                    t.c.huma_client_id == connection.huma_client_id,
                                    t.c.crona_base_url == connection.crona_base_url,
                                    t.c.connection == connection.connection)
                 .order_by(t.c.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return Confirmation(connection, row["confirmed_by"], row["confirmed_at"], row["statement"],
                            row["huma_organisation"], row["crona_company"])

    def require(self, connection: ConnectionIdentity) -> Confirmation:
        """The connection's confirmation; `NotConfirmed` (with the how-to line) when there is none."""
        found = self.latest(connection)
        if found is None:
            raise NotConfirmed(connection)
        return found
