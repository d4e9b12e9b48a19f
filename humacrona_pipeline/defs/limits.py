"""The names the deployment's run limits act on (deploy/dagster-postgres.yaml, `concurrency:`): the pool of each
external API, which the steps calling it join, and the run tag naming the connection a run syncs, limited to one
run per value. tests/deploy/ keeps these names and the deploy files equal."""

from __future__ import annotations

from ..connection.connections import DEFAULT_NAME

HUMA_POOL = "huma_api"  # steps that call Huma's Open API
CRONA_POOL = "crona_api"  # steps that call Crona Lön (its API, or its PAXml files)
CONNECTION_TAG = "humacrona/connection"  # the connection a run syncs: at most one sync run per value at a time
SYNC_RUN_TAGS = {CONNECTION_TAG: DEFAULT_NAME}  # the one connection of today's variables (issue 14 partitions it)
