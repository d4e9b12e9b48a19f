"""The humacrona code location: what `workspace.yaml`, `dagster dev` and `dagster definitions validate` load.

How it is put together: every asset, asset check, job, sensor and schedule defined at the top level of a module
in `DEFINITION_MODULES` is in it, and every resource of `defs.resources.RESOURCES`. So a new asset (check, job,
...) in one of those modules is in the code location as soon as it is written, a new module of them is one line
here, and a new resource one entry in `defs/resources.py`. dagster-open-platform gets the same from
`dg.components.load_defs(defs_module)`, which imports every module under `defs/`; this code location names its
modules instead, because `defs/realtime/push_worker.py` loads the whole code location when imported (it is the
webhook receiver's fork server), and Dagster's module loaders (`load_definitions_from_modules`) are in preview."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

import dagster as dg

from .defs import extract, unreadable
from .defs.apply import assets as apply_assets
from .defs.apply import checks as apply_checks
from .defs.apply import interrupted
from .defs.apply import jobs as apply_jobs
from .defs.canonical import assets as canonical_assets
from .defs.canonical import checks as canonical_checks
from .defs.crona import assets as crona_assets
from .defs.huma import assets as huma_assets
from .defs.realtime import jobs as realtime_jobs
from .defs.realtime import schedules, sensors
from .defs.reconcile import assets as reconcile_assets
from .defs.reconcile import checks as reconcile_checks
from .defs.reconcile import jobs as reconcile_jobs
from .defs.resources import resources_from_env

DEFINITION_MODULES: tuple[ModuleType, ...] = (
    huma_assets, crona_assets, unreadable, extract,  # extract
    canonical_assets, canonical_checks,  # canonical
    reconcile_assets, reconcile_checks, reconcile_jobs,  # reconcile: plan_sync
    interrupted, apply_assets, apply_checks, apply_jobs,  # apply: sync_users
    realtime_jobs, sensors, schedules,  # real time: push_huma_changes, its sensor, the nightly sync
)


def _defined(*kinds: type, but: tuple[type, ...] = ()) -> list:
    """The definitions of these kinds at the top level of `DEFINITION_MODULES`, each once (a module may import
    another's, e.g. a check its asset), in module order."""
    found: dict[int, object] = {}
    for module in DEFINITION_MODULES:
        for value in vars(module).values():
            if isinstance(value, kinds) and not isinstance(value, but):
                found.setdefault(id(value), value)
    return list(found.values())


ASSET_CHECKS = _defined(dg.AssetChecksDefinition)
ASSETS = _defined(dg.AssetsDefinition, but=(dg.AssetChecksDefinition,))
# What `dg.define_asset_job` returns: Dagster exports the function but not the class (it lives in a private
# module), so the class is read off one such job instead of imported from there.
ASSET_JOB = type(dg.define_asset_job("asset_job_kind"))
JOBS = _defined(dg.JobDefinition, ASSET_JOB)
SENSORS = _defined(dg.SensorDefinition)
SCHEDULES = _defined(dg.ScheduleDefinition)
EXECUTOR = dg.in_process_executor
"""Every step of a run in the run's own process, one after another. Dagster's default (multiprocess) starts a
process per step, and each imports this code location (~2 s now, ~5 s when this was chosen): a `plan_sync` launched
from the UI took a minute instead of the ~10 s of `humacrona sync --dry-run`. The price: the Huma and Crona extractions
run one after the other, not side by side, which costs the shorter one, Crona's (under a second at 5,000 employees,
against ~10-20 s for Huma's; see benchmarks/ui_runs.py). It also lets the outputs stay in the run's memory when no
storage key is set (`defs/storage.py`)."""


def build_defs(resources: Mapping[str, object] | None = None) -> dg.Definitions:
    """The code location; ``resources`` replace the environment-bound ones they name (the keys of
    `defs.resources.RESOURCES`): `humacrona sync` binds its policy file and the tests bind sandbox connections
    this way instead of patching anything."""
    return dg.Definitions(assets=ASSETS, asset_checks=ASSET_CHECKS, jobs=JOBS, sensors=SENSORS,
                          schedules=SCHEDULES, resources={**resources_from_env(), **(resources or {})},
                          executor=EXECUTOR)


defs = build_defs()
