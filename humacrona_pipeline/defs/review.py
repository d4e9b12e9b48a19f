"""Applying a reviewed plan: the key its fingerprints are made with, and the store its plans are kept in.

Every planning run keeps its plan (`state.plans`); `sync_users` given that run's id (the `sync_plan`
config ``reviewed_plan``, from the Launchpad or `humacrona sync --plan RUN_ID`) applies exactly that plan,
except to employees that changed since (`core.review`, `connectors.drift`)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from .crona.resources import CronaResource
from .huma.resources import HumaResource
from .storage import STORAGE_KEY_ENV

PLAN_OPTION = "reviewed_plan"


class SyncPlanConfig(dg.Config):
    """How `sync_plan` plans: anew (the default), or the plan a `plan_sync` run kept, as it was reviewed."""

    reviewed_plan: str = Field(
        default="",
        description="The run id of a plan_sync run whose plan to apply exactly as reviewed: an employee that "
        "changed in either system since is not written and is reported `drifted`. Empty: plan anew from what "
        "both systems hold now (the default).")


def review_key(huma: HumaResource, crona: CronaResource) -> bytes:
    """The fingerprint key: from `HUMACRONA_STORAGE_KEY` when set, else from the Huma client secret and the
    Crona Aktiveringskod (read from the environment, never stored)."""
    from ..core.review import derive_key

    storage_key = os.environ.get(STORAGE_KEY_ENV, "").strip()
    if storage_key:
        return derive_key(storage_key)
    return derive_key(huma.client_secret, crona.activation_code)

