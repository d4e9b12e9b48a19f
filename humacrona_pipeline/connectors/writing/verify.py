"""The read-back after a write: every applied operation compared with the record as it now reads."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ...core.canonical import to_canonical
from ...core.display import display_value
from ...core.fields import BY_NAME
from ...core.outcomes import APPLIED, UNVERIFIED
from ..http import ApiError, run_bounded
from .employees import Scrubber, clean, error_text


def shown(field_name: str, value: object) -> str:
    text = display_value(field_name, value)
    return repr(text) if text else "nothing"


async def verify_outcomes(outcomes: pd.DataFrame, side: str, read: Callable, workers: int) -> pd.DataFrame:
    """``read(record_id)`` -> one raw row of ``side``; every applied operation compared with it. The rows read
    are made canonical in one pass (per record, pandas' fixed cost dominated a large run)."""
    frame = outcomes.reset_index(drop=True).astype(object)
    if frame.empty:
        return frame
    rows = frame.to_dict("records")
    applied = [i for i, row in enumerate(rows) if row["status"] == APPLIED]
    record_of = {i: clean(rows[i]["created_id"]) or clean(rows[i]["record_id"]) for i in applied}
    records = list(dict.fromkeys(r for r in record_of.values() if r is not None))

    async def fetch(record_id) -> dict | str:
        try:
            return await read(str(record_id))
        except ApiError as exc:
            return f"could not be read back to verify it: {error_text(exc)}"

    found = dict(zip(records, await run_bounded(records, fetch, workers)))
    readable = [r for r in records if not isinstance(found[r], str)]
    if readable:
        canon, _ = to_canonical(pd.DataFrame([found[r] for r in readable], dtype=object), side)
        for record_id, values in zip(readable, canon.to_dict("records")):
            found[record_id] = {k: clean(v) for k, v in values.items()}
    by_email: dict[str, list[dict]] = {}
    for row in rows:
        by_email.setdefault(row["employee"], []).append(row)
    scrubbers: dict[str, Scrubber] = {}
    for i in applied:
        record_id, name, email = record_of[i], rows[i]["field"], rows[i]["employee"]
        if email not in scrubbers:
            scrubbers[email] = Scrubber(by_email[email])
        if record_id is None:
            error = "could not be read back to verify it: no record id"
        elif isinstance(found[record_id], str):
            error = found[record_id]
        else:
            expected, got = clean(rows[i]["new_value"]), found[record_id].get(name)
            if expected == got:
                continue
            error = (f"{BY_NAME[name].label}: expected {shown(name, expected)}, found {shown(name, got)}"
                     f" when read back")
        frame.at[i, "status"] = UNVERIFIED
        frame.at[i, "error"] = scrubbers[email](error)
    return frame
