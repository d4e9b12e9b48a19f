"""The humacrona code location: what `workspace.yaml`, `dagster dev` and `dagster definitions validate` load."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from .defs.apply.assets import crona_writeback, huma_writeback, sync_report
from .defs.apply.checks import connection_confirmed, sync_applied_cleanly
from .defs.apply.interrupted import interrupted_writes
from .defs.apply.jobs import sync_users_job
from .defs.apply.resources import ledger_resource_from_env
from .defs.canonical.assets import crona_employees, huma_employees
from .defs.canonical.checks import crona_employees_schema, huma_employees_schema
from .defs.crona.assets import crona_employees_raw
from .defs.crona.resources import crona_resource_from_env
from .defs.email.resources import email_resource_from_env
from .defs.huma.assets import huma_users_raw
from .defs.huma.resources import huma_resource_from_env
from .defs.policy import policy_resource_from_env
from .defs.realtime.jobs import push_huma_changes
from .defs.realtime.resources import inbox_resource_from_env
from .defs.realtime.schedules import nightly_sync_users
from .defs.realtime.sensors import huma_changes_sensor
from .defs.reconcile.assets import employee_conflicts, employee_matches, sync_plan
from .defs.reconcile.checks import plan_within_guards
from .defs.reconcile.jobs import plan_sync_job
from .defs.storage import io_manager_from_env
from .defs.unreadable import crona_employees_readable, huma_users_readable

extract_job = dg.define_asset_job(
    "extract_employees",
    selection=dg.AssetSelection.groups("extract"),
    description="Read every employee from Huma and Crona Lön; writes nothing.",
)

ASSETS = [huma_users_raw, crona_employees_raw, huma_employees, crona_employees, employee_matches,
          employee_conflicts, interrupted_writes, sync_plan, crona_writeback, huma_writeback, sync_report]
ASSET_CHECKS = [huma_users_readable, crona_employees_readable, huma_employees_schema, crona_employees_schema,
                plan_within_guards, connection_confirmed,
                sync_applied_cleanly]
JOBS = [extract_job, plan_sync_job, sync_users_job, push_huma_changes]
SENSORS = [huma_changes_sensor]
SCHEDULES = [nightly_sync_users]
EXECUTOR = dg.in_process_executor
"""Every step of a run in the run's own process, one after another. Dagster's default (multiprocess) starts a
process per step, and each imports this code location (~2 s now, ~5 s when this was chosen): a `plan_sync` launched
from the UI took a minute instead of the ~10 s of `humacrona sync --dry-run`. The price: the Huma and Crona extractions
run one after the other, not side by side, which costs the shorter one, Crona's (under a second at 5,000 employees,
against ~10-20 s for Huma's; see benchmarks/ui_runs.py). It also lets the outputs stay in the run's memory when no
storage key is set (`defs/storage.py`)."""


def default_resources() -> dict[str, object]:
    """Every resource bound to its environment variables (`EnvVar`); nothing is read until a run needs it."""
    return {
        "huma": huma_resource_from_env(),
        "crona": crona_resource_from_env(),
        "policy": policy_resource_from_env(),
        "ledger": ledger_resource_from_env(),
        "email": email_resource_from_env(),
        "inbox": inbox_resource_from_env(),
        "io_manager": io_manager_from_env(),
    }


def build_defs(resources: Mapping[str, object] | None = None) -> dg.Definitions:
    """The code location; ``resources`` replace the environment-bound ones they name (`huma`, `crona`,
    `policy`, `ledger`, `email`, `inbox`, `io_manager`): the demo and the tests bind sandbox connections or another
    policy this way instead of patching anything."""
    return dg.Definitions(assets=ASSETS, asset_checks=ASSET_CHECKS, jobs=JOBS, sensors=SENSORS,
                          schedules=SCHEDULES, resources={**default_resources(), **(resources or {})},
                          executor=EXECUTOR)


defs = build_defs()
