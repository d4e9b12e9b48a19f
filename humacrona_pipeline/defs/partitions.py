"""Connections as Dagster partitions: every asset of `extract_employees`, `plan_sync` and `sync_users`, and the
push job, is partitioned by connection name, so a run syncs one connection and a backfill over all partitions is
"Sync users" for every connection in one launch.

Static partitions, read from the connections file (`HUMACRONA_CONNECTIONS_FILE`) when the code location loads:
the file is deployment configuration, checked in full before any run (a bad file stops the code location from
loading with one line per problem), and a changed file is a code-location reload away, with no sensor lag and no
partition that exists in the instance but no longer in the file. Without the file the one partition is `default`,
the connection of today's variables.

A run's resources are its connection's: each per-connection resource answers `create_resource` with a copy
holding the values of the connection its run's partition names (`for_connection`), read from the file and the
environment when the run starts. Without a file they are used as bound (the `default` connection)."""

from __future__ import annotations

import os
import warnings
from typing import Self

import dagster as dg

from ..connection.connections import CONNECTIONS_FILE_ENV, DEFAULT_NAME, Connection, load_connections

PARTITION_TAG = "dagster/partition"  # the tag Dagster gives a partition's run: the connection it syncs
CONNECTIONS: tuple[Connection, ...] = load_connections()
CONNECTION_PARTITIONS = dg.StaticPartitionsDefinition([c.name for c in CONNECTIONS])
# The checks are partitioned like their assets, so that a check judges its own connection's table (an unpartitioned
# check of a partitioned asset loads every partition). Dagster 1.13 calls a check's partitions a preview.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec",
                        category=dg.PreviewWarning)


def connections_file() -> str | None:
    return (os.environ.get(CONNECTIONS_FILE_ENV) or "").strip() or None


def run_connection_name(context: dg.InitResourceContext) -> str:
    """The connection a run syncs: its partition key; `default` for a run without one."""
    run = context.run
    return (run.tags.get(PARTITION_TAG) if run is not None else None) or DEFAULT_NAME


def _no_connection() -> dg.Failure:
    return dg.Failure(description="this run has no connection: launch it for one partition (the Launchpad's "
                      f"Partition field: {', '.join(CONNECTION_PARTITIONS.get_partition_keys())}), or backfill every "
                      "partition to sync every connection", allow_retries=False)


def require_partition(context: dg.AssetExecutionContext) -> str:
    """The connection a run of the sync's jobs syncs; a run launched without one (the Launchpad allows it, after a
    warning) fails at its first step, with what to do, before anything is read."""
    if not context.has_partition_key:
        raise _no_connection()
    return context.partition_key


def shown_connection(name: str) -> str:
    """A connection's name as a report shows it: "" for the one connection of today's variables."""
    return name if connections_file() else ""


def file_connection(name: str) -> Connection:
    """The connection of that name in the connections file, read now (with the variables it names)."""
    found = {c.name: c for c in load_connections()}
    if name not in found:
        raise dg.Failure(description=f"connection {name!r} is not in {connections_file()} ({CONNECTIONS_FILE_ENV}); "
                         f"its connections: {', '.join(found)}. Reload the code location after changing the file.",
                         allow_retries=False)
    return found[name]


class PerConnection:
    """A resource with one set of values per connection: a run gets the copy for its partition's connection."""

    def for_connection(self, connection: Connection) -> Self:
        """This resource with the connection's values (from the connections file)."""
        raise NotImplementedError

    def named(self, name: str) -> Self:
        """This resource for a connection known only by name when there is no connections file (`default`)."""
        return self

    def create_resource(self, context: dg.InitResourceContext) -> Self:
        if not connections_file():
            return self.named(run_connection_name(context))
        if context.run is not None and PARTITION_TAG not in context.run.tags:
            raise _no_connection()  # a run of the connections file is always one connection's
        return self.for_connection(file_connection(run_connection_name(context)))
