"""`extract_employees`: read both systems (the `extract` group: `huma/assets.py`, `crona/assets.py`), write nothing."""

from __future__ import annotations

import dagster as dg

extract_job = dg.define_asset_job(
    "extract_employees",
    selection=dg.AssetSelection.groups("extract"),
    description="Read every employee from Huma and Crona Lön; writes nothing.",
)
