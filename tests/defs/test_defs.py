"""The whole code location loads, validates, and extracts both systems through Dagster."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from humacrona_pipeline.definitions import defs
from humacrona_pipeline.defs.crona.assets import crona_employees_raw
from humacrona_pipeline.defs.crona.resources import CronaResource
from humacrona_pipeline.defs.huma.assets import huma_users_raw
from humacrona_pipeline.defs.huma.resources import HumaResource

EXTRACT_ASSETS = {"huma_users_raw", "crona_employees_raw"}


def test_code_location_loads_with_every_asset_and_job():
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys >= EXTRACT_ASSETS
    assert defs.resolve_job_def("extract_employees") is not None


def test_every_definition_under_defs_is_in_the_code_location():
    """A module of definitions left out of `definitions.DEFINITION_MODULES` would drop its assets silently."""
    import importlib
    import pkgutil

    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

    from humacrona_pipeline import definitions
    from humacrona_pipeline import defs as package

    kinds = (dg.AssetsDefinition, dg.JobDefinition, UnresolvedAssetJobDefinition, dg.SensorDefinition,
             dg.ScheduleDefinition)
    worker = "humacrona_pipeline.defs.realtime.push_worker"  # the receiver's fork server: it loads the location
    defined = {}
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if info.name != worker:
            defined.update({id(v): v for v in vars(importlib.import_module(info.name)).values()
                            if isinstance(v, kinds)})
    located = {id(d) for d in (*definitions.ASSETS, *definitions.ASSET_CHECKS, *definitions.JOBS,
                               *definitions.SENSORS, *definitions.SCHEDULES)}
    assert [getattr(v, "name", v) for k, v in defined.items() if k not in located] == []
    assert located and defined.keys() == located


def test_every_resource_is_bound_and_a_given_one_replaces_only_its_own():
    from humacrona_pipeline.definitions import build_defs
    from humacrona_pipeline.defs.policy import SyncPolicy
    from humacrona_pipeline.defs.resources import RESOURCES

    assert set(defs.resources) == set(RESOURCES)
    policy = SyncPolicy(default_winner="huma")
    located = build_defs({"policy": policy})
    assert located.resources["policy"] is policy and set(located.resources) == set(RESOURCES)
    assert isinstance(located.resources["huma"], HumaResource)


def test_dagster_definitions_validate_cli_passes(tmp_path, dagster_home):
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "humacrona_pipeline.definitions"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secrets_are_bound_from_the_environment_not_the_code(monkeypatch):
    from humacrona_pipeline.connection.variables import VARIABLES
    from humacrona_pipeline.definitions import build_defs

    for variable in VARIABLES:
        monkeypatch.setenv(variable.name, "set-in-the-environment")
    located = build_defs()
    huma = located.resources["huma"]
    crona = located.resources["crona"]
    assert isinstance(huma, HumaResource) and isinstance(crona, CronaResource)
    # EnvVar-bound fields stay unresolved in the definitions: no secret is baked into the code location.
    assert isinstance(huma.client_secret, dg.EnvVar) and huma.client_secret.env_var_name == "HUMA_CLIENT_SECRET"
    assert isinstance(crona.activation_code, dg.EnvVar)
    assert crona.activation_code.env_var_name == "CRONA_ACTIVATION_CODE"


def _resources_for(sandboxes) -> dict:
    env = sandboxes.env
    return {
        "huma": HumaResource(
            base_url=env["HUMA_BASE_URL"], client_id=env["HUMA_CLIENT_ID"], client_secret=env["HUMA_CLIENT_SECRET"]
        ),
        "crona": CronaResource(base_url=env["CRONA_BASE_URL"], activation_code=env["CRONA_ACTIVATION_CODE"]),
    }


def test_extract_job_reads_every_employee_of_both_sandboxes(sandboxes, dagster_home):
    job = defs.resolve_job_def("extract_employees")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [huma_users_raw, crona_employees_raw],
            resources=_resources_for(sandboxes),
            instance=instance,partition_key="default")
    assert job is not None and result.success
    huma = result.output_for_node("huma_users_raw")
    crona = result.output_for_node("crona_employees_raw")

    seeded_huma = {u["id"] for u in sandboxes.seeded.huma_users}
    seeded_crona = {e["AnstNr"] for e in sandboxes.seeded.crona_employees}
    assert sorted(huma["id"]) == sorted(seeded_huma)
    assert sorted(crona["AnstNr"]) == sorted(seeded_crona)
    # Details and positions were fetched, not just the list (the list lacks these fields).
    assert huma["employmentId"].notna().sum() > 0
    assert huma["position.contractStartDate"].notna().sum() > 0


def test_extract_metadata_has_row_count_schema_and_a_masked_preview(sandboxes):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [huma_users_raw, crona_employees_raw],
            resources=_resources_for(sandboxes),
            instance=instance,partition_key="default")
    checked = 0
    for node in EXTRACT_ASSETS:
        metadata = result.asset_materializations_for_node(node)[0].metadata
        df = result.output_for_node(node)
        assert metadata["dagster/row_count"].value == len(df)
        assert {c.name for c in metadata["dagster/column_schema"].value.columns} == set(df.columns)
        preview = metadata["preview"].value
        head = df.head(5)
        # No bank account number appears in full in the preview, only its last four digits.
        for column in ("bankAccount.number", "UtbetKontoNr"):
            if column in head:
                for value in head[column].dropna():
                    digits = "".join(ch for ch in value if ch.isdigit())
                    if len(digits) > 4:
                        checked += 1
                        assert value not in preview and digits not in preview
                        assert digits[-4:] in preview
    assert checked > 0, "the preview should have shown some (masked) bank accounts"


def test_the_receivers_push_worker_imports_and_preloads_in_a_fresh_interpreter(tmp_path):
    """The webhook receiver's fork server imports the push worker, whose `preload` imports every module of the
    code location and builds the push's first plan: a module moved or renamed must fail here, not on the first
    webhook in production (the walk above leaves the worker out)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "import humacrona_pipeline.defs.realtime.push_worker as w; "
                           "print(w._PUSH.get_definition().name)"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "push_huma_changes"
