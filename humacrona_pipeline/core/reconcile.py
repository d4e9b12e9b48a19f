"""Matching by work email and the conflict table: what differs between Huma and Crona, and where it may go.

A value may go to a system when the side that has it may sync it (not quarantined) and the target's own
rules allow it: AnstNr never changes in Crona, and a phone or employment ID already held by another Huma
user cannot be given to this one. Whether it *will* go is the policy's decision (`core.plan`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .canonical import NOT_SYNCABLE, CanonicalTable
from .chars import pointers
from .fields import CRONA, FIELD_NAMES, FIELDS, HUMA, MATCH_KEY, SYSTEM_NAMES
from .schemas import RECORD_ID
from .unreadable import is_unreadable

MATCHED, HUMA_ONLY, CRONA_ONLY, UNMATCHED = "matched", "huma_only", "crona_only", "unmatched"
MATCH_COLUMNS = ("employee", "status", "huma_id", "crona_id", "employment_id", "can_create_in_huma",
                 "can_create_in_crona", "reason")
CONFLICT, MISSING_IN_HUMA, MISSING_IN_CRONA = "conflict", "missing_in_huma", "missing_in_crona"
CONFLICT_KINDS = (CONFLICT, MISSING_IN_HUMA, MISSING_IN_CRONA)
CONFLICT_COLUMNS = ("employee", "huma_id", "crona_id", "field", "huma_value", "crona_value", "kind", "to_huma",
                    "to_crona", "why_not_to_huma", "why_not_to_crona")
IMMUTABLE_REASON = "{label} cannot be changed in Crona; only Crona → Huma can resolve it"


@dataclass
class Reconciliation:
    """Everything the plan is made from: both canonical tables, the matches and the conflicts."""

    huma: CanonicalTable
    crona: CanonicalTable
    matches: pd.DataFrame
    conflicts: pd.DataFrame


# --- matching -------------------------------------------------------------------------------------


def _blocking_reasons(table: CanonicalTable) -> pd.Series:
    """Why each non-syncable record cannot be synced, by record id (reasons joined)."""
    rows = table.quarantine[table.quarantine["effect"] == NOT_SYNCABLE]
    if rows.empty:
        return pd.Series(dtype=object)
    return rows.groupby("record_id", sort=False)["reason"].agg("; ".join)


def _unreadable_by_email(table: CanonicalTable, reasons: pd.Series) -> dict:
    """work email -> why, for the table's records that could not be read (`core.unreadable`)."""
    unread = {record: why for record, why in reasons.items() if is_unreadable(why)}
    emails = table.emails_of(set(unread)) if unread else {}
    return {emails[r]: why for r, why in unread.items() if emails.get(r) is not None}


def match(huma: CanonicalTable, crona: CanonicalTable) -> pd.DataFrame:
    """One row per employee (`MATCH_COLUMNS`): matched pairs, one-sided employees with whether they could be
    created on the other side, and every record that could not be matched, with the reason."""
    key = MATCH_KEY.name
    hf, cf = huma.frame, crona.frame
    h_ok, c_ok = huma.syncable(), crona.syncable()
    h_reasons, c_reasons = _blocking_reasons(huma), _blocking_reasons(crona)
    # An email that one side could not match blocks the other side's record with that email too: creating it
    # there would make one more holder of the address.
    h_blocked = set(hf.loc[~h_ok, key].dropna())
    c_blocked = set(cf.loc[~c_ok, key].dropna())

    matched = _pairs(hf.loc[h_ok & ~hf[key].isin(c_blocked), [RECORD_ID, key, "employment_id"]],
                     cf.loc[c_ok & ~cf[key].isin(h_blocked), [RECORD_ID, key, "employment_id"]])
    _creatable(matched, huma, crona)

    unmatched = []
    # A record the other side could not read blocks this one with that reason: it exists, it is just not read.
    h_unread, c_unread = _unreadable_by_email(huma, h_reasons), _unreadable_by_email(crona, c_reasons)
    for table, ok, reasons, other_blocked, other_name, other_unread in (
            (huma, h_ok, h_reasons, c_blocked, SYSTEM_NAMES[CRONA], c_unread),
            (crona, c_ok, c_reasons, h_blocked, SYSTEM_NAMES[HUMA], h_unread)):
        unmatched += _unmatched_rows(table, ok, reasons, other_blocked, other_name, other_unread)
    out = pd.concat([matched, pd.DataFrame(unmatched, columns=list(MATCH_COLUMNS))], ignore_index=True) \
        if unmatched else matched
    if list(out.columns) != list(MATCH_COLUMNS):
        out = out[list(MATCH_COLUMNS)]
    return out if (out.dtypes == object).all() else out.astype(object)


def _pairs(h: pd.DataFrame, c: pd.DataFrame) -> pd.DataFrame:
    """Matched pairs, then Huma-only, then Crona-only employees, of the syncable records of each side (record
    id, work email and employment ID); whether one-sided ones can be created is left to `_creatable`."""
    key = MATCH_KEY.name
    # Syncable work emails are unique per side, so an index lookup matches them (no sort, no merge).
    at = pd.Index(c[key].to_numpy()).get_indexer(h[key].to_numpy())
    hit = at >= 0
    c_left = np.ones(len(c), dtype=bool)
    c_left[at[hit]] = False
    h_emp, c_emp = h["employment_id"].to_numpy(), c["employment_id"].to_numpy()
    paired_emp = c_emp[at[hit]]
    paired_emp = np.where(pd.isna(paired_emp), h_emp[hit], paired_emp)
    none_h, none_c = [None] * int((~hit).sum()), [None] * int(c_left.sum())
    matched = pd.DataFrame({
        "employee": np.concatenate([h[key].to_numpy()[hit], h[key].to_numpy()[~hit], c[key].to_numpy()[c_left]]),
        "status": [MATCHED] * int(hit.sum()) + [HUMA_ONLY] * len(none_h) + [CRONA_ONLY] * len(none_c),
        "huma_id": np.concatenate([h[RECORD_ID].to_numpy()[hit], h[RECORD_ID].to_numpy()[~hit],
                                   np.array(none_c, dtype=object)]),
        "crona_id": np.concatenate([c[RECORD_ID].to_numpy()[at[hit]], np.array(none_h, dtype=object),
                                    c[RECORD_ID].to_numpy()[c_left]]),
        "employment_id": np.concatenate([paired_emp, h_emp[~hit], c_emp[c_left]]),
    })
    matched["can_create_in_huma"] = None
    matched["can_create_in_crona"] = None
    matched["reason"] = None
    return matched


def _unmatched_rows(table: CanonicalTable, ok: pd.Series, reasons: pd.Series, other_blocked: set, other_name: str,
                    other_unread: dict) -> list[dict]:
    """A `MATCH_COLUMNS` row for each of the table's records that cannot be matched: not syncable itself, or
    holding a work email the other side could not match, with the reason."""
    key = MATCH_KEY.name
    frame = table.frame
    rows = []
    for row in frame.loc[~ok | (ok & frame[key].isin(other_blocked))].itertuples(index=False):
        record = getattr(row, RECORD_ID)
        email = getattr(row, key)
        if record in reasons.index:
            reason = reasons[record] if is_unreadable(reasons[record]) else f"{table.system}: {reasons[record]}"
        elif email in other_unread:
            reason = other_unread[email]
        else:
            reason = f"{table.system}: work email {email} could not be matched in {other_name}"
        rows.append({
            "employee": email, "status": UNMATCHED,
            "huma_id": record if table.side == HUMA else None,
            "crona_id": record if table.side == CRONA else None,
            "employment_id": row.employment_id,
            "can_create_in_huma": False if table.side == CRONA else None,
            "can_create_in_crona": False if table.side == HUMA else None,
            "reason": reason,
        })
    return rows


def _held(table: CanonicalTable, record_ids: np.ndarray) -> np.ndarray:
    """Row positions of record ids the table must hold (a match names its records)."""
    at = table.positions(record_ids)
    if (at < 0).any():
        raise KeyError(f"{table.system} holds no record {record_ids[np.flatnonzero(at < 0)[0]]!r}")
    return at


def _creatable(matches: pd.DataFrame, huma: CanonicalTable, crona: CanonicalTable) -> None:
    """Fill `can_create_in_*` and `reason` of the one-sided rows in place: the target must get every field
    it requires (present and not quarantined), and its employment ID must be free there."""
    statuses = matches["status"].to_numpy()
    for status, source, target, column, id_column in (
            (HUMA_ONLY, huma, crona, "can_create_in_crona", "huma_id"),
            (CRONA_ONLY, crona, huma, "can_create_in_huma", "crona_id")):
        rows = np.flatnonzero(statuses == status)
        if len(rows) == 0:
            continue
        at = _held(source, matches[id_column].to_numpy()[rows])
        present, quarantined = source.present(), source.quarantined()
        problems: list[list[str]] = [[] for _ in rows]
        for k, f in enumerate(FIELDS):
            if not f.required_in(target.side):
                continue
            has = present[k, at]
            for r in np.flatnonzero(~has):
                problems[r].append(f"no {f.label}, which {target.system} requires")
            for r in np.flatnonzero(quarantined[f.name].to_numpy()[at] & has):
                problems[r].append(f"its {f.label} cannot be synced")
        employment_ids = source.frame["employment_id"].to_numpy()[at]
        taken = target.first_holders("employment_id", employment_ids[pd.notna(employment_ids)])
        emails = target.emails_of({holder for holder in taken.values() if holder is not None})
        for r, employment_id in enumerate(employment_ids):
            holder = taken.get(employment_id) if employment_id is not None else None
            if holder is not None:
                problems[r].append(f"employment ID {employment_id} is already held in {target.system} by"
                                   f" {emails.get(holder, holder)}")
        matches.loc[matches.index[rows], column] = [not p for p in problems]
        matches.loc[matches.index[rows], "reason"] = [
            f"cannot be created in {target.system}: " + "; ".join(p) if p else None for p in problems]


def _quarantine_reasons(table: CanonicalTable) -> dict[tuple[str, str], str]:
    q = table.quarantine
    return {(r, f): reason for r, f, reason in zip(q["record_id"], q["field"], q["reason"])}


def _sort_key(values: np.ndarray) -> np.ndarray:
    """Something that sorts like ``values`` (ascending, blanks last: pandas' sort_values); text as fixed-width
    numpy strings, which sort in C by code point as Python compares str."""
    if all(type(v) is str and not v.endswith("\x00") for v in values):
        return np.array(values.tolist(), dtype=str)
    codes, _ = pd.factorize(values, sort=True)
    return np.where(codes < 0, codes.max() + 1, codes)


def conflicts(huma: CanonicalTable, crona: CanonicalTable, matches: pd.DataFrame) -> pd.DataFrame:
    """The long conflict table (`CONFLICT_COLUMNS`): one row per matched employee and field whose normalised
    values differ or are missing on one side, with whether the value may go to Huma / to Crona and why not.
    Rows are ordered by employee, then in `FIELDS` order."""
    pairs = (matches["status"] == MATCHED).to_numpy()
    employees = matches["employee"].to_numpy()[pairs]
    huma_ids, crona_ids = matches["huma_id"].to_numpy()[pairs], matches["crona_id"].to_numpy()[pairs]
    h_at, c_at = _held(huma, huma_ids), _held(crona, crona_ids)
    h_has, c_has = huma.present()[:, h_at], crona.present()[:, c_at]  # field by field, a column per pair
    h_values, c_values = huma.by_field(), crona.by_field()
    # Every field of every pair: a value on one side only, or two that differ. The very same object on
    # both sides (a name or a date read once for both) is equal without being read.
    attention = h_has != c_has
    field_at, pair = np.nonzero(h_has & c_has & (pointers(h_values)[:, h_at] != pointers(c_values)[:, c_at]))
    attention[field_at, pair] = h_values[field_at, h_at[pair]] != c_values[field_at, c_at[pair]]
    # The rows in field order, pairs in match order within a field; then sorted by employee, stably.
    field_at, pair = np.nonzero(attention)
    if not len(pair):
        return pd.DataFrame(columns=list(CONFLICT_COLUMNS))
    order = np.argsort(_sort_key(employees[pair]), kind="stable")  # field order kept within an employee
    field_at, pair = field_at[order], pair[order]

    h_in, c_in = h_has[field_at, pair], c_has[field_at, pair]
    h_bad = huma.quarantined().to_numpy()[h_at[pair], field_at] & h_in
    c_bad = crona.quarantined().to_numpy()[c_at[pair], field_at] & c_in
    hv, cv = h_values[field_at, h_at[pair]], c_values[field_at, c_at[pair]]
    to_huma, to_crona = c_in & ~c_bad, h_in & ~h_bad
    not_huma = np.where(c_in, None, "Crona has no value").astype(object)
    not_crona = np.where(h_in, None, "Huma has no value").astype(object)
    if c_bad.any():
        reasons = _quarantine_reasons(crona)
        for k in np.flatnonzero(c_bad):
            not_huma[k] = reasons.get((crona_ids[pair[k]], FIELDS[field_at[k]].name), "Crona's value is quarantined")
    if h_bad.any():
        reasons = _quarantine_reasons(huma)
        for k in np.flatnonzero(h_bad):
            not_crona[k] = reasons.get((huma_ids[pair[k]], FIELDS[field_at[k]].name), "Huma's value is quarantined")
    for k, f in enumerate(FIELDS):
        if f.immutable_in_crona:
            blocked = np.flatnonzero((field_at == k) & to_crona & c_in)
            to_crona[blocked] = False
            not_crona[blocked] = IMMUTABLE_REASON.format(label=f.label)
        if f.unique_in_huma and not f.match_key:
            rows = np.flatnonzero((field_at == k) & to_huma)
            owners = huma.first_holders(f.name, cv[rows])
            taken = [(r, owners[cv[r]]) for r in rows.tolist()
                     if owners.get(cv[r]) is not None and owners[cv[r]] != huma_ids[pair[r]]]
            emails = huma.emails_of({owner for _, owner in taken})
            for r, owner in taken:
                to_huma[r] = False
                not_huma[r] = f"{f.label} {cv[r]} is already held by Huma user {emails[owner]}"
    kinds = np.where(h_in & c_in, CONFLICT, np.where(h_in, MISSING_IN_CRONA, MISSING_IN_HUMA))
    return pd.DataFrame({
        "employee": employees[pair], "huma_id": huma_ids[pair], "crona_id": crona_ids[pair],
        "field": np.array(FIELD_NAMES, dtype=object)[field_at], "huma_value": hv, "crona_value": cv,
        "kind": kinds.astype(object), "to_huma": to_huma, "to_crona": to_crona, "why_not_to_huma": not_huma,
        "why_not_to_crona": not_crona,
    }, columns=list(CONFLICT_COLUMNS))


def reconcile(huma: CanonicalTable, crona: CanonicalTable) -> Reconciliation:
    """Match both tables and compute their conflicts."""
    matches = match(huma, crona)
    return Reconciliation(huma, crona, matches, conflicts(huma, crona, matches))


__all__ = ["CONFLICT", "CONFLICT_COLUMNS", "CONFLICT_KINDS", "CRONA_ONLY", "HUMA_ONLY", "MATCHED", "MATCH_COLUMNS",
           "MISSING_IN_CRONA", "MISSING_IN_HUMA", "Reconciliation", "UNMATCHED", "conflicts",
           "match", "reconcile"]
