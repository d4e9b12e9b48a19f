"""The two canonical tables as a plan leaves them: what a dry run shows as "after"."""

from __future__ import annotations

import pandas as pd

from .fields import CRONA, HUMA, MATCH_KEY
from .plan import SyncPlan
from .plan_columns import CREATE, HELD
from .reconcile import Reconciliation
from .schemas import RECORD_ID

__all__ = ["apply_to_tables"]


def apply_to_tables(rec: Reconciliation, sync_plan: SyncPlan, *, include_held: bool = False
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two canonical frames as they will be once the plan's writes have succeeded (a dry run's "after").

    Created employees get the new record id `new:<email>` in Huma and their employment ID in Crona."""
    frames = {HUMA: rec.huma.frame.copy(), CRONA: rec.crona.frame.copy()}
    ops = sync_plan.operations
    if not include_held:
        ops = ops[ops["action"] != HELD]
    for target, frame in frames.items():
        position = pd.Series(frame.index, index=frame[RECORD_ID])
        updates = ops[(ops["target"] == target) & (ops["action"] != CREATE)]
        for row in updates.itertuples(index=False):
            frame.at[position[row.record_id], row.field] = row.new_value
        creates = ops[(ops["target"] == target) & (ops["action"] == CREATE)]
        new_rows = []
        for employee, group in creates.groupby("employee", sort=False):
            record = dict.fromkeys(frame.columns)
            record.update(zip(group["field"], group["new_value"]))
            record[MATCH_KEY.name] = employee
            record[RECORD_ID] = record["employment_id"] if target == CRONA else f"new:{employee}"
            new_rows.append(record)
        if new_rows:
            frames[target] = pd.concat([frame, pd.DataFrame(new_rows, columns=frame.columns, dtype=object)],
                                       ignore_index=True)
    return frames[HUMA], frames[CRONA]
