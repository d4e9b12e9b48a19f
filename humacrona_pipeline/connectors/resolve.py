"""Resolve the writes a killed run left ``pending`` in the audit ledger, before the next run plans.

A run records each operation as ``pending`` before its request and completes the row after the answer
(`state.ledger`); a run killed in between leaves rows nobody knows the end of, and the next run would not plan
them again when they did happen. So each employee with pending rows is read back from the system it was
written to — Crona: ``GET /anstallda/{AnstNr}`` (a create's AnstNr is the one it was planned with); Huma:
``GET /users/{id}`` with positions, or for a create the user found by work email — and each row's field, in
canonical form and stored as the ledger stores it (a bank account: masked, last four digits), is compared
with the row's ``value_after``: equal is ``applied``, anything else ``not applied``. A record that does not
exist holds none of the values: ``not applied``. An employee that cannot be read (the system refused or did
not answer) stays ``pending`` with a note, for the next run to try again; nothing is guessed.

Writes to Crona's PAXml channel are ``awaiting import`` until a later export shows them: they are concluded
the same way, from the export (`paxml.export_reader`); an export taken before the import file was written
cannot show it, so those rows stay ``awaiting import``.

    resolution = resolve_pending(ledger, huma.client, crona.client, except_run=run_id)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from ..core.canonical import to_canonical
from ..core.display import present
from ..core.fields import CRONA, HUMA, SYSTEM_NAMES
from ..core.outcomes import APPLIED, AWAITING_IMPORT
from ..state.ledger import NOT_APPLIED, PENDING, Ledger, stored_value
from . import crona as crona_api
from .crona import CronaClient
from .http import ApiError, NotFoundError, run_bounded
from .huma import HumaClient
from .huma_wire import USER_ID
from .paxml import PaxmlError

UNREADABLE = "still pending: {system} could not be read back ({error}); tried again next run"
OLDER_EXPORT = ("still pending: the run was interrupted around its PAXml import file, and Crona's export is older "
                "than that; concluded from the first export taken after it")
STALE_IMPORT = ("not applied after its PAXml import file: Crona's newer export does not hold it (the file was not "
                "imported, or Crona Lön refused it); the next sync plans it again")


@dataclass
class Resolution:
    """What the read-back concluded: the ledger rows by new status (``applied``, ``not applied``, ``pending``)."""

    rows: pd.DataFrame = field(default_factory=pd.DataFrame)  # the pending rows read, with `status` and `note`

    def counts(self) -> dict[str, int]:
        if self.rows.empty:
            return {}
        return {str(k): int(v) for k, v in self.rows["status"].value_counts().items()}


def _canonical(raw: dict, side: str) -> dict:
    canon, _ = to_canonical(pd.DataFrame([raw]), side)
    return {k: (v if present(v) else None) for k, v in canon.iloc[0].to_dict().items()}


async def _read_crona(client: CronaClient, anstnr: str) -> dict | None:
    found = await client.find_employee(anstnr)
    return None if found is None else _canonical(crona_api.employee_row(found), CRONA)


async def _read_huma(client: HumaClient, user_id: str | None, email: str) -> tuple[dict | None, str | None]:
    if user_id is None:  # a create: Huma gave the user its id only when it was created
        user = await client.find_user_by_email(email)
        if user is None:
            return None, None
        user_id = str(user[USER_ID])
    try:
        return _canonical(await client.fetch_row(user_id), HUMA), user_id
    except NotFoundError:
        return None, user_id


def _record_key(row: Mapping) -> tuple[str, str | None, str]:
    """Whom to read for one pending row: (system, record id or None, employee)."""
    record_id = row["record_id"] if present(row["record_id"]) else None
    return str(row["system"]), None if record_id is None else str(record_id), str(row["employee"])


def _older_than(row: Mapping, exported_at: datetime | None) -> bool:
    """Whether a PAXml export was taken before the row's import file was written (it cannot show the import)."""
    if exported_at is None or not present(row["at"]):
        return False
    written = datetime.fromisoformat(str(row["at"]).replace("Z", "+00:00"))
    return exported_at < written.replace(microsecond=0)  # an export's time may carry whole seconds only


def _conclude(row: Mapping, found: dict | None, error: str | None, exported_at: datetime | None = None) -> dict:
    system = SYSTEM_NAMES.get(str(row["system"]), str(row["system"]))
    awaiting = row["status"] == AWAITING_IMPORT
    if error is not None:  # stays open; an awaited import keeps its note (the file and what to do)
        if awaiting:
            return {"status": AWAITING_IMPORT, "note": row["error"]}
        return {"status": PENDING, "note": UNREADABLE.format(system=system, error=error)}
    if _older_than(row, exported_at):  # an export taken before the file was written cannot show the import
        return {"status": row["status"], "note": row["error"] if awaiting else OLDER_EXPORT}
    why = STALE_IMPORT if awaiting else "resolved after an interrupted run"
    if found is None:
        return {"status": NOT_APPLIED, "note": f"{why}: {system} has no such record"}
    name = row["field"]
    now = stored_value(name, found.get(name))
    if now == (row["value_after"] if present(row["value_after"]) else None):
        return {"status": APPLIED, "note": None}
    return {"status": NOT_APPLIED, "note": f"{why}: {system} does not hold the new value"}


async def _resolve(rows: pd.DataFrame, huma: Callable[[], HumaClient] | None,
                   crona: Callable[[], CronaClient] | None) -> list[dict]:
    keys = list(dict.fromkeys(_record_key(r) for r in rows.to_dict("records")))
    factories = {HUMA: huma, CRONA: crona}
    clients: dict[str, object] = {}

    async def read(key: tuple[str, str | None, str]) -> tuple[dict | None, str | None, str | None]:
        """(canonical row or None when it does not exist, the record id, error text or None)."""
        system, record_id, email = key
        try:
            if clients.get(system) is None:
                return None, record_id, "no client to read it with"
            if system == CRONA:
                if record_id is None:
                    return None, None, "the operation names no AnstNr"
                return await _read_crona(clients[CRONA], record_id), record_id, None
            found, user_id = await _read_huma(clients[HUMA], record_id, email)
            return found, user_id, None
        except ApiError as exc:
            return None, record_id, " ".join(str(exc).split()) or type(exc).__name__

    async def with_open(system: str, items: list) -> list:
        factory = factories.get(system)
        if factory is None or not items:
            return [await read(k) for k in items]
        clients[system] = client = factory()  # only now: a system without pending rows need not be configured
        try:
            async with client:
                return await run_bounded(items, read, client.concurrency)
        except (PaxmlError, OSError) as exc:  # Crona's PAXml export cannot be read: every row stays open
            clients[system] = None
            return [(None, key[1], " ".join(str(exc).split())) for key in items]

    results: dict[tuple, tuple] = {}
    for system in (CRONA, HUMA):
        mine = [k for k in keys if k[0] == system]
        results.update(zip(mine, await with_open(system, mine)))
    others = [k for k in keys if k not in results]  # a system this version does not know: stays pending
    results.update({k: (None, k[1], "unknown system") for k in others})

    exported_at = getattr(clients.get(CRONA), "exported_at", None)  # the PAXml channel's export time
    out = []
    for row in rows.to_dict("records"):
        found, record_id, error = results[_record_key(row)]
        exported = exported_at if str(row["system"]) == CRONA else None
        out.append({"id": row["id"], "record_id": record_id, **_conclude(row, found, error, exported)})
    return out


def resolve_pending(ledger: Ledger, huma: Callable[[], HumaClient] | None, crona: Callable[[], CronaClient] | None,
                    *, except_run: str | None = None) -> Resolution:
    """Read back every employee with ``pending`` ledger rows (other than ``except_run``'s), conclude each row
    (``applied`` / ``not applied`` with `resolved_at`, or still ``pending`` with a note) and store that in one
    transaction. ``huma`` and ``crona`` make a client; each is called only when its system has pending rows."""
    pending = ledger.pending(except_run=except_run)
    if pending.empty:
        return Resolution(pending.assign(status=pd.Series(dtype=object), note=pd.Series(dtype=object)))
    concluded = asyncio.run(_resolve(pending, huma, crona))
    ledger.resolve(concluded)
    by_id = {c["id"]: c for c in concluded}
    frame = pending.copy()
    frame["status"] = [by_id[i]["status"] for i in frame["id"]]
    frame["note"] = [by_id[i]["note"] for i in frame["id"]]
    return Resolution(frame)


__all__ = ["Resolution", "resolve_pending"]
