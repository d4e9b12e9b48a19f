"""Running `sync_users` / `plan_sync` against sandboxes with resources swapped, and reading both systems back.

A job that writes refuses a connection nobody confirmed: a test that writes calls `confirm` first, which does
what `humacrona check --confirm` does (check the connection, record the confirmation) in the test's own state
database, the one `resources` gives the ledger."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pandas as pd

from humacrona_pipeline.connection.check import confirm_connection
from humacrona_pipeline.connectors.crona import CRONA_COLUMNS, employee_row
from humacrona_pipeline.core.canonical import build_table
from humacrona_pipeline.core.fields import CRONA, HUMA
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.core.reconcile import reconcile
from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.apply.resources import LedgerResource
from humacrona_pipeline.defs.crona.resources import CronaResource
from humacrona_pipeline.defs.email.resources import EmailResource
from humacrona_pipeline.defs.huma.resources import HumaResource
from humacrona_pipeline.defs.policy import SyncPolicy
from humacrona_pipeline.state.confirmations import Confirmation


def state_url(home: Path) -> str:
    """The test's own state database (audit ledger, confirmations)."""
    return f"sqlite:///{home / 'ledger.sqlite'}"


def confirm(sandboxes, home: Path, by: str = "pytest") -> Confirmation:
    """The administrator's confirmation of the sandboxes' connection, recorded after its checks passed."""
    return confirm_connection(sandboxes.env, by, state_url(home))


def resources(sandboxes, policy: Policy, home: Path) -> dict:
    env = sandboxes.env
    return {
        "huma": HumaResource(base_url=env["HUMA_BASE_URL"], client_id=env["HUMA_CLIENT_ID"],
                             client_secret=env["HUMA_CLIENT_SECRET"]),
        "crona": CronaResource(base_url=env["CRONA_BASE_URL"], activation_code=env["CRONA_ACTIVATION_CODE"]),
        "policy": SyncPolicy.from_policy(policy),
        "ledger": LedgerResource(url=state_url(home)),
        "email": EmailResource(sender="humacrona@example.org", admin_address="hr-admin@example.org",
                               outbox_dir=str(home / "outbox")),
    }


def run(job: str, sandboxes, policy: Policy, home: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    located = build_defs(resources(sandboxes, policy, home))
    return located.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False,
        partition_key="default")


def huma_policy(**options) -> Policy:
    """Huma wins every conflict, gaps are filled, a first sync's mass change is approved."""
    return replace(Policy(default_winner="huma", approve_mass_change=True), **options)


def read_both(sandboxes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both systems as the extract assets read them, through the real clients."""
    env = sandboxes.env
    huma = HumaResource(base_url=env["HUMA_BASE_URL"], client_id=env["HUMA_CLIENT_ID"],
                        client_secret=env["HUMA_CLIENT_SECRET"]).client()
    crona = CronaResource(base_url=env["CRONA_BASE_URL"], activation_code=env["CRONA_ACTIVATION_CODE"]).client()

    async def go():
        async with huma, crona:
            return await huma.fetch_rows(), await crona.list_employees()

    huma_rows, crona_employees = asyncio.run(go())
    return pd.DataFrame(huma_rows), pd.DataFrame([employee_row(e) for e in crona_employees],
                                                 columns=list(CRONA_COLUMNS))


def reconcile_both(sandboxes, policy: Policy):
    huma_raw, crona_raw = read_both(sandboxes)
    return reconcile(build_table(huma_raw, HUMA, map_country_names=policy.map_country_names),
                     build_table(crona_raw, CRONA, map_country_names=policy.map_country_names))


def plan_resources(policy: SyncPolicy) -> dict:
    """What the reconcile assets need when materialised without the systems: the policy, and for `sync_plan`
    (which keeps every plan for a later apply, `defs.review`) the secrets its key comes from and a state
    database of its own (in memory)."""
    return {"policy": policy, "huma": HumaResource(client_secret="test-secret"),
            "crona": CronaResource(activation_code="test-code"), "ledger": LedgerResource(url="sqlite://")}
