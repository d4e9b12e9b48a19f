"""The names the deployment's run limits act on (deploy/dagster-postgres.yaml, `concurrency:`): the pool of each
external API, which the steps calling it join, and the run tag naming the connection a run syncs, limited to one
run per value. tests/deploy/ keeps these names and the deploy files equal."""

from __future__ import annotations

from .partitions import PARTITION_TAG

HUMA_POOL = "huma_api"  # steps that call Huma's Open API
CRONA_POOL = "crona_api"  # steps that call Crona Lön (its API, or its PAXml files)
# The connection a run syncs: its partition, the tag Dagster gives every run of a partition (a backfill's too), so
# the instance's limit of one run per value is one run per connection at a time.
CONNECTION_TAG = PARTITION_TAG
