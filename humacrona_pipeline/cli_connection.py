"""Which connection `humacrona check` and `humacrona sync` act on: `--connection` among the connections file's
(HUMACRONA_CONNECTIONS_FILE), the file's only one, or without a file the one connection of the HUMA_*/CRONA_*
variables (`default`); and the policy a sync of it runs with. Every mistake is a ValueError carrying the one line to
print. Nothing heavy is imported until a command runs (`--help` stays light)."""

from __future__ import annotations

import argparse
import os

from .terminal import shown


def add_connection_option(parser) -> None:
    parser.add_argument("--connection", metavar="NAME",
                        help="the connection of the connections file (HUMACRONA_CONNECTIONS_FILE) to act on; needed "
                        "when it has several (without the file: the one connection of HUMA_*/CRONA_*)")


def chosen_connection(args: argparse.Namespace, command: str):
    """The connection a command acts on: `--connection` among the connections file's, the file's only one, or
    without a file the one of today's variables (`default`); a ValueError carries the one line to print."""
    from .connection.connections import CONNECTIONS_FILE_ENV, ConnectionsError, load_connections

    try:
        connections = {c.name: c for c in load_connections()}
    except ConnectionsError as error:
        raise ValueError(f"humacrona {command}: the connections file is not valid:\n{error}") from None
    if args.connection is None and len(connections) == 1:
        return next(iter(connections.values()))
    if args.connection in connections:
        return connections[args.connection]
    where = os.environ.get(CONNECTIONS_FILE_ENV) or f"no connections file ({CONNECTIONS_FILE_ENV})"
    asked = "give --connection" if args.connection is None else f"--connection {shown(args.connection)!r} is not one"
    raise ValueError(f"humacrona {command}: {asked}: the connections of {where} are {', '.join(connections)}")


def connection_settings(args: argparse.Namespace, command: str):
    """The connection and its `Settings` (its secrets read from the variables it names)."""
    from .connection.connections import resolve

    connection = chosen_connection(args, command)
    return connection, resolve(connection)


def sync_policy(args: argparse.Namespace, connection):
    """The policy `cmd_sync` runs with: `--policy`, or the connection's in the connections file."""
    from .connection.connections import CONNECTIONS_FILE_ENV
    from .defs.policy import SyncPolicy

    in_file = bool(os.environ.get(CONNECTIONS_FILE_ENV))
    if in_file and args.policy is not None:
        raise ValueError(f"humacrona sync: connection {connection.name!r} has its policy in the connections file "
                         f"({connection.policy or 'the default policy'}); leave out --policy")
    if not in_file and args.policy is None:
        raise ValueError("humacrona sync: --policy is required: the resolution policy YAML (see policy.example.yaml)")
    path = args.policy if args.policy is not None else connection.policy
    try:
        return SyncPolicy.from_file(path) if path is not None else SyncPolicy(), path
    except ValueError as error:
        raise ValueError(f"humacrona sync: {error}") from error
