"""The run limits of deploy/ act on names the code location uses: the steps that call Huma or Crona join their
API's pool, and a sync run carries the connection tag the instance limits to one run per value. A name changed on
one side only would leave the limit silently doing nothing."""

from __future__ import annotations

import dagster as dg

from humacrona_pipeline.definitions import defs
from humacrona_pipeline.defs.limits import CONNECTION_TAG, CRONA_POOL, HUMA_POOL
from humacrona_pipeline.defs.partitions import CONNECTION_PARTITIONS
from tests.deploy.deploy_files import INSTANCE_FILES, SECTION, load
from tests.test_readme import _section

API_STEPS = {"huma_users_raw": HUMA_POOL, "huma_writeback": HUMA_POOL,
             "crona_employees_raw": CRONA_POOL, "crona_writeback": CRONA_POOL}


def test_the_steps_that_call_an_api_join_its_pool():
    pools = {asset.op.name: asset.op.pool for asset in defs.assets
             if isinstance(asset, dg.AssetsDefinition) and asset.op.name in API_STEPS}
    assert pools == API_STEPS


def test_a_sync_run_carries_the_connection_tag_the_instance_limits():
    """Every run of the sync's jobs is one connection's partition, and Dagster tags it with the partition: the tag
    the instance limits to one run per value."""
    for name in ("extract_employees", "plan_sync", "sync_users"):
        job = defs.resolve_job_def(name)
        assert job.partitions_def is not None and job.partitions_def.get_partition_keys() == ["default"], name
        assert job.get_tags_for_partition_key("default", selected_asset_keys=None)[CONNECTION_TAG] == "default", name
    for path in INSTANCE_FILES:
        limits = load(path)["concurrency"]["runs"]["tag_concurrency_limits"]
        assert [(limit["key"], limit["limit"]) for limit in limits] == [(CONNECTION_TAG, 1)], path


def test_readme_names_the_pools_the_code_uses():
    section = _section(SECTION)
    assert f"`{HUMA_POOL}`" in section and f"`{CRONA_POOL}`" in section and f"`{CONNECTION_TAG}`" in section


def test_a_sync_runs_on_an_instance_with_the_deploy_limits(tmp_path, monkeypatch):
    """The limits are accepted by a run: a pooled step claims its slot and the run succeeds (no API: the pooled
    steps are replaced by stand-ins with the same pools)."""
    config = load(INSTANCE_FILES[1])  # the SQLite one: same limits, no server
    pooled = [dg.asset(name=name, pool=pool, partitions_def=CONNECTION_PARTITIONS)(lambda: 1)
              for name, pool in API_STEPS.items()]
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides={"concurrency": config["concurrency"]}) as instance:
        result = dg.materialize(pooled, instance=instance, partition_key="default")
        assert result.success
        assert instance.get_run_by_id(result.run_id).tags[CONNECTION_TAG] == "default"
        assert instance.event_log_storage.get_concurrency_info(HUMA_POOL).slot_count == 2


def test_the_pool_slots_of_a_killed_run_are_given_back():
    """Only the daemon frees the slots a dead run's steps held, and only with this setting: without it two killed
    workers would block an API's pool (default limit 2) for good."""
    for path in INSTANCE_FILES:
        monitoring = load(path)["run_monitoring"]
        assert monitoring["enabled"] is True and 0 < monitoring["free_slots_after_run_end_seconds"] <= 600, path
