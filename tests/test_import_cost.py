"""Loading the code location imports no heavy library: the UI, the daemon and every run worker import
`humacrona_pipeline.definitions` before doing anything, so pandas, pandera, SQLAlchemy, httpx, Jinja2 and the
rest are imported by the steps that use them. Checked in a fresh interpreter, after Dagster has resolved every
job, asset, check, sensor and schedule and made the snapshot its UI shows; and the types the UI shows are the
ones a class annotation would give (`defs.types`). Timings are benchmarks/import_time.py's, not a test's."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg
import pandas as pd
import pytest
from dagster._core.types.dagster_type import resolve_dagster_type

from humacrona_pipeline import definitions
from humacrona_pipeline.defs import types

DEFERRED = ("pandas", "numpy", "pyarrow", "pandera", "hypothesis", "sqlalchemy", "httpx", "cryptography", "jinja2",
            "phonenumbers", "pycountry")
PROBE = """
import json, sys
import dagster as dg
from dagster._core.remote_representation.external_data import RepositorySnap
from humacrona_pipeline.definitions import defs

dg.Definitions.validate_loadable(defs)
repo = defs.get_repository_def()
RepositorySnap.from_def(repo)  # what the code server sends the UI when it loads the location
graph = defs.resolve_asset_graph()


def output_type(assets_def, key):
    return assets_def.node_def.output_def_named(assets_def.get_output_name_for_asset_key(key)).dagster_type.display_name


print(json.dumps({
    "jobs": sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")),
    "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
    "checks": sorted(f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys),
    "sensors": sorted(sensor.name for sensor in repo.sensor_defs),
    "schedules": sorted(schedule.name for schedule in repo.schedule_defs),
    "output_types": {key.to_user_string(): output_type(graph.get(key).assets_def, key)
                     for key in graph.get_all_asset_keys() if graph.get(key).is_materializable},
    "loaded": sorted(m for m in sys.argv[1:] if m in sys.modules),
}))
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict:
    """What a fresh interpreter that loaded the code location resolved, and which heavy libraries it imported."""
    home = tmp_path_factory.mktemp("dagster_home")
    env = {"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(home), "HOME": str(home)}
    result = subprocess.run([sys.executable, "-c", PROBE, *DEFERRED], capture_output=True, text=True,
                            timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_loading_the_code_location_imports_no_heavy_library(loaded):
    assert loaded["loaded"] == []


def test_every_definition_resolves_in_that_light_process(loaded):
    assert loaded["jobs"] == sorted(job.name for job in definitions.JOBS)
    assert loaded["assets"] == sorted(asset.key.to_user_string() for asset in definitions.ASSETS)
    assert loaded["checks"] == sorted(f"{key.asset_key.to_user_string()}:{key.name}"
                                      for check in definitions.ASSET_CHECKS for key in check.check_keys)
    assert loaded["sensors"] == [sensor.name for sensor in definitions.SENSORS]
    assert loaded["schedules"] == [schedule.name for schedule in definitions.SCHEDULES]


def test_the_ui_shows_each_assets_type_by_its_class_name(loaded):
    shown = loaded["output_types"]
    assert shown["huma_users_raw"] == shown["employee_conflicts"] == shown["crona_writeback"] == "DataFrame"
    assert shown["huma_employees"] == shown["crona_employees"] == "CanonicalTable"
    assert shown["sync_plan"] == "SyncPlan"
    assert shown["sync_report"] == "dict"


NAMED = [value for value in vars(types).values() if isinstance(value, types.ClassByName)]


@pytest.mark.parametrize("named", NAMED, ids=lambda t: t.class_name)
def test_each_type_is_the_one_its_class_annotation_gives(named):
    inferred = resolve_dagster_type(named.python_type)
    assert (named.key, named.display_name, named.description, named.unique_name if named.has_unique_name else None) \
        == (inferred.key, inferred.display_name, inferred.description,
            inferred.unique_name if inferred.has_unique_name else None)
    assert named.typing_type is named.python_type
    assert named.python_type.__module__ + "." + named.python_type.__name__ == named.qualified_name


def test_the_type_check_still_checks_the_class():
    assert dg.check_dagster_type(types.DataFrame, pd.DataFrame()).success
    failed = dg.check_dagster_type(types.DataFrame, [{"id": 1}])
    assert not failed.success and "pandas.core.frame.DataFrame" in failed.description
