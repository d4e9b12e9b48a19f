"""The humacrona code location: what `workspace.yaml`, `dagster dev` and `dagster definitions validate` load."""

from __future__ import annotations

import dagster as dg

from .defs.crona.assets import crona_employees_raw
from .defs.crona.resources import crona_resource_from_env
from .defs.huma.assets import huma_users_raw
from .defs.huma.resources import huma_resource_from_env

extract_job = dg.define_asset_job(
    "extract_employees",
    selection=dg.AssetSelection.groups("extract"),
    description="Read every employee from Huma and Crona Lön; writes nothing.",
)

defs = dg.Definitions(
    assets=[huma_users_raw, crona_employees_raw],
    jobs=[extract_job],
    resources={"huma": huma_resource_from_env(), "crona": crona_resource_from_env()},
)
