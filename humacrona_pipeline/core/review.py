"""A reviewed plan: what `plan_sync` planned, kept so that `sync_users` can apply exactly that, later.

An administrator reviews a plan, then applies it. Between the two either system may change, so the plan is
kept with its *basis*: for every employee it writes, the values both systems held when it was made. The
apply (`rebuild`) compares the basis with the values read again, and an employee whose values changed is
`drifted`: not written, reported with what changed. The write-back checks once more right before each
employee's first write (`connectors.drift`).

Nothing kept here holds a full salary account: masked fields (`Field.masked`) are kept as a keyed hash
(`fingerprint`, HMAC-SHA256 with a key the operator's secrets give, `defs.review.review_key`) and their
masked display; the apply finds the full value again among the values read fresh whose fingerprint is the
planned one. Other values are kept as they are, as the audit ledger keeps them. A plan kept under another
key cannot be applied (`key_check`). Pure Python."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

import pandas as pd

from .canonical import CanonicalTable
from .display import display_value, present, visible
from .fields import BY_NAME, CRONA, FIELD_NAMES, HUMA, MATCH_KEY, SIDES, SYSTEM_NAMES
from .plan import SyncPlan
from .plan_columns import NOT_PLANNED_COLUMNS, PLAN_COLUMNS
from .schemas import RECORD_ID

FORMAT = 1
DRIFT_COLUMNS = (*PLAN_COLUMNS, "reason")  # an operation not written because its employee drifted, and why
_KEY_CHECK_TEXT = b"humacrona reviewed plan key check"


def fingerprint(key: bytes, field_name: str, value: object) -> str | None:
    """A keyed hash of one canonical value (None for nothing): equal values give equal fingerprints under
    one key, and without the key a fingerprint tells nothing about the value."""
    if not present(value):
        return None
    message = f"{field_name}\x00{value}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:24]  # 96 bits


def derive_key(*secrets: str) -> bytes:
    """The fingerprint key from the operator's secrets (the storage key when set, else the two systems'
    credentials): never stored, so a kept fingerprint cannot be tried against guessed accounts without them."""
    material = "\x00".join(s.strip() for s in secrets).encode("utf-8")
    return hmac.new(material, b"humacrona reviewed plan fingerprints v1", hashlib.sha256).digest()


def key_check(key: bytes) -> str:
    """What a kept plan stores to tell, at apply time, whether it was kept under the same key."""
    return hmac.new(key, _KEY_CHECK_TEXT, hashlib.sha256).hexdigest()[:16]


def _clean(value: object) -> object:
    return value if present(value) else None


def _kept(field_name: str, value: object, key: bytes) -> object:
    """A value as kept: itself, or for a masked field its fingerprint and masked display."""
    value = _clean(value)
    if value is None or not BY_NAME[field_name].masked:
        return value
    return {"fp": fingerprint(key, field_name, value), "shown": display_value(field_name, value)}


def _masked(kept: object) -> object:
    """A kept value as a drifted operation holds it: a masked field's display, any other value itself."""
    return kept.get("shown") if isinstance(kept, dict) else kept


def _shown(field_name: str, kept: object) -> str:
    if isinstance(kept, dict):
        return kept.get("shown") or ""
    return display_value(field_name, kept)


@dataclass
class Record:
    """One side's record of an employee when the plan was made: its id (None: absent) and every field's value
    as kept (`_kept`: a masked field as its fingerprint and display)."""

    record_id: str | None
    values: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, record_id: object, values: dict[str, object], key: bytes) -> Record:
        return cls(str(record_id), {n: _kept(n, values.get(n), key) for n in FIELD_NAMES})

    def to_json(self) -> dict:
        return {"record_id": self.record_id, "values": self.values}

    @classmethod
    def from_json(cls, data: dict) -> Record:
        return cls(data.get("record_id"), dict(data.get("values") or {}))


Basis = dict[str, dict[str, Record]]  # employee (work email) -> side -> its record when the plan was made


def _same(name: str, kept: object, value: object, key: bytes) -> bool:
    if isinstance(kept, dict):
        return fingerprint(key, name, value) == kept.get("fp")
    return kept == value


def changes(side: str, before: Record, now: dict | None, key: bytes) -> list[str]:
    """What differs between one side's record at review time and ``now`` (a canonical row, None: absent),
    in words with values masked ("Crona family name: “Berg” → “Lind”"); empty when nothing changed."""
    system = SYSTEM_NAMES[side]
    if before.record_id is None:
        if now is None:
            return []
        return [f"now in {system} (record {visible(now.get(RECORD_ID))}), absent when the plan was reviewed"]
    if now is None:
        return [f"no longer in {system} (record {visible(before.record_id)})"]
    found = []
    for name in FIELD_NAMES:
        kept, value = before.values.get(name), _clean(now.get(name))
        if not _same(name, kept, value, key):
            was, is_now = _shown(name, kept), display_value(name, value)
            found.append(f"{system} {BY_NAME[name].label}: “{was or 'nothing'}” → “{is_now or 'nothing'}”")
    return found


@dataclass
class ReviewedPlan:
    """A plan as kept for a later apply: operations and not-planned rows (masked fields as fingerprints), the
    basis of every employee it writes, and the run that made it."""

    run_id: str
    made_at: str
    key_check: str
    operations: list[dict]
    not_planned: list[dict]
    matched_employees: int
    basis: Basis

    def __repr__(self) -> str:
        return f"ReviewedPlan(run_id={self.run_id!r}, operations={len(self.operations)})"

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "run_id": self.run_id, "made_at": self.made_at, "key_check": self.key_check,
            "operations": self.operations, "not_planned": self.not_planned,
            "matched_employees": self.matched_employees,
            "basis": {e: {s: r.to_json() for s, r in sides.items()} for e, sides in self.basis.items()},
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ReviewedPlan:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"a kept plan of format {data.get('format')!r}; this version reads format {FORMAT}")
        return cls(data["run_id"], data["made_at"], data["key_check"], data["operations"], data["not_planned"],
                   int(data["matched_employees"]),
                   {e: {s: Record.from_json(r) for s, r in sides.items()} for e, sides in data["basis"].items()})


class _Rows:
    """One table's rows as plain dicts, looked up by record id or work email (the first row holding it)."""

    def __init__(self, table: CanonicalTable) -> None:
        frame = table.frame
        self.columns = {c: frame[c].to_numpy(dtype=object) for c in (RECORD_ID, *FIELD_NAMES)}
        self.by_id: dict[str, int] = {}
        self.by_email: dict[str, int] = {}
        for at, (record_id, email) in enumerate(zip(self.columns[RECORD_ID], self.columns[MATCH_KEY.name])):
            self.by_id.setdefault(str(record_id), at)
            if present(email):
                self.by_email.setdefault(str(email), at)
        self.unsyncable = ({str(i) for i in frame.loc[~table.syncable().to_numpy(), RECORD_ID]}
                           if len(frame) else set())

    def row(self, at: int | None) -> dict | None:
        return None if at is None else {c: _clean(values[at]) for c, values in self.columns.items()}


def keep(sync_plan: SyncPlan, huma: CanonicalTable, crona: CanonicalTable, key: bytes, run_id: str,
         made_at: str) -> ReviewedPlan:
    """The plan as kept for review: its operations and their employees' basis on both sides."""
    records = sync_plan.operations[list(PLAN_COLUMNS)].to_dict("records")
    operations = [{c: _kept(r["field"], r[c], key) if c in ("current_value", "new_value") else _clean(r[c])
                   for c in PLAN_COLUMNS} for r in records]
    ids: dict[str, dict[str, str]] = {}
    for r in operations:
        found = ids.setdefault(str(r["employee"]), {})
        if r["record_id"] is not None:
            found.setdefault(r["target"], str(r["record_id"]))
    tables = {HUMA: _Rows(huma), CRONA: _Rows(crona)}
    basis: Basis = {}
    for employee, written in ids.items():
        sides = {}
        for side, rows in tables.items():
            at = rows.by_id.get(written[side]) if side in written else rows.by_email.get(employee)
            row = rows.row(at)
            sides[side] = Record(None) if row is None else Record.of(row[RECORD_ID], row, key)
        basis[employee] = sides
    not_planned = [{c: _clean(r.get(c)) for c in NOT_PLANNED_COLUMNS}
                   for r in sync_plan.not_planned.to_dict("records")]
    return ReviewedPlan(run_id, made_at, key_check(key), operations, not_planned, sync_plan.matched_employees, basis)


def _now_rows(employee: str, before: dict[str, Record], tables: dict[str, _Rows]) -> tuple[dict, list[str]]:
    """Each side's current row of the employee (None: absent) and what cannot be compared."""
    now, problems = {}, []
    for side, rows in tables.items():
        record = before[side]
        if record.record_id is not None:
            now[side] = rows.row(rows.by_id.get(record.record_id))
            if now[side] is not None and record.record_id in rows.unsyncable:
                problems.append(f"{SYSTEM_NAMES[side]} record {visible(record.record_id)} cannot be read or"
                                " synced now")
        else:
            now[side] = rows.row(rows.by_email.get(employee))
    return now, problems


def rebuild(reviewed: ReviewedPlan, huma: CanonicalTable, crona: CanonicalTable, key: bytes) -> SyncPlan:
    """The reviewed plan against the values read now: the operations of every employee whose values on both
    sides are still those the plan was made from (masked fields' full values found again by fingerprint),
    and, in ``drifted``, every operation of the others with what changed (`DRIFT_COLUMNS`, values masked).
    The plan's basis goes with it for the write-back's last check."""
    if reviewed.key_check != key_check(key):
        raise ValueError(f"the plan of run {reviewed.run_id} was kept under other credentials (another"
                         " HUMACRONA_STORAGE_KEY, Huma client secret or Crona Aktiveringskod); plan again")
    tables = {HUMA: _Rows(huma), CRONA: _Rows(crona)}
    by_employee: dict[str, list[dict]] = {}
    for op in reviewed.operations:
        by_employee.setdefault(str(op["employee"]), []).append(op)
    kept, drifted = [], []
    for employee, ops in by_employee.items():
        before = reviewed.basis.get(employee)
        if before is None:
            reasons, now = ["the kept plan holds no basis for this employee"], {}
        else:
            now, reasons = _now_rows(employee, before, tables)
            for side in SIDES:
                reasons += changes(side, before[side], now[side], key)
        resolved = [] if reasons else _resolve(ops, now, key, reasons)
        if reasons:
            reason = "changed since the plan was reviewed: " + "; ".join(reasons)
            drifted += [{**{c: op[c] for c in PLAN_COLUMNS if c not in ("current_value", "new_value")},
                         "current_value": _masked(op["current_value"]), "new_value": _masked(op["new_value"]),
                         "reason": reason} for op in ops]
        else:
            kept += resolved
    operations = pd.DataFrame(kept, columns=list(PLAN_COLUMNS), dtype=object)
    not_planned = pd.DataFrame(reviewed.not_planned, columns=list(NOT_PLANNED_COLUMNS), dtype=object)
    return SyncPlan(operations, not_planned, reviewed.matched_employees,
                    drifted=pd.DataFrame(drifted, columns=list(DRIFT_COLUMNS), dtype=object),
                    reviewed_run_id=reviewed.run_id,
                    basis={e: reviewed.basis[e] for e in {str(o["employee"]) for o in kept}})


def _resolve(ops: list[dict], now: dict[str, dict | None], key: bytes, reasons: list[str]) -> list[dict]:
    """The operations with the full value of each fingerprinted one, from the employee's current rows."""
    out = []
    for op in ops:
        row = dict(op)
        for column in ("current_value", "new_value"):
            kept = op[column]
            if not isinstance(kept, dict):
                continue
            name = op["field"]
            found = [r.get(name) for r in now.values() if r is not None
                     and fingerprint(key, name, _clean(r.get(name))) == kept.get("fp")]
            if not found:
                reasons.append(f"the {BY_NAME[name].label} the plan holds ({kept.get('shown')}) is on neither side")
                return []
            row[column] = found[0]
        out.append(row)
    return out


__all__ = ["DRIFT_COLUMNS", "Basis", "Record", "ReviewedPlan", "changes", "derive_key", "fingerprint", "keep",
           "key_check", "rebuild"]
