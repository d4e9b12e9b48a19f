"""Matching by work email and the conflict table: what differs between Huma and Crona, and where it may go.

A value may go to a system when the side that has it may sync it (not quarantined) and the target's own
rules allow it: AnstNr never changes in Crona, and a phone or employment ID already held by another Huma
user cannot be given to this one. Whether it *will* go is the policy's decision (`core.plan`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .canonical import NOT_SYNCABLE, CanonicalTable
from .fields import BY_NAME, CRONA, FIELDS, HUMA, MATCH_KEY, SYSTEM_NAMES
from .schemas import RECORD_ID

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


def _owners(frame: pd.DataFrame, column: str) -> dict:
    """value -> record id of whoever holds it (the first, when several do)."""
    held = frame[[column, RECORD_ID]].dropna(subset=[column])
    return dict(zip(held[column].to_numpy()[::-1], held[RECORD_ID].to_numpy()[::-1]))


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

    h = hf.loc[h_ok & ~hf[key].isin(c_blocked), [RECORD_ID, key, "employment_id"]]
    c = cf.loc[c_ok & ~cf[key].isin(h_blocked), [RECORD_ID, key, "employment_id"]]
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
    _creatable(matched, huma, crona)

    unmatched = []
    for table, ok, reasons, other_blocked, other_name in (
            (huma, h_ok, h_reasons, c_blocked, SYSTEM_NAMES[CRONA]),
            (crona, c_ok, c_reasons, h_blocked, SYSTEM_NAMES[HUMA])):
        frame = table.frame
        for row in frame.loc[~ok | (ok & frame[key].isin(other_blocked))].itertuples(index=False):
            record = getattr(row, RECORD_ID)
            email = getattr(row, key)
            if record in reasons.index:
                reason = f"{table.system}: {reasons[record]}"
            else:
                reason = f"{table.system}: work email {email} could not be matched in {other_name}"
            unmatched.append({
                "employee": email, "status": UNMATCHED,
                "huma_id": record if table.side == HUMA else None,
                "crona_id": record if table.side == CRONA else None,
                "employment_id": getattr(row, "employment_id"),
                "can_create_in_huma": False if table.side == CRONA else None,
                "can_create_in_crona": False if table.side == HUMA else None,
                "reason": reason,
            })
    out = pd.concat([matched, pd.DataFrame(unmatched, columns=list(MATCH_COLUMNS))], ignore_index=True) \
        if unmatched else matched
    return out[list(MATCH_COLUMNS)].astype(object)


def _positions(table: CanonicalTable, record_ids: pd.Series) -> np.ndarray:
    """Row positions in the table's frame of the given record ids (all of which it holds)."""
    position = pd.Series(np.arange(len(table.frame)), index=table.frame[RECORD_ID].to_numpy())
    return position.reindex(record_ids.to_numpy()).to_numpy(dtype=np.int64)


def _creatable(matches: pd.DataFrame, huma: CanonicalTable, crona: CanonicalTable) -> None:
    """Fill `can_create_in_*` and `reason` of the one-sided rows in place: the target must get every field
    it requires (present and not quarantined), and its employment ID must be free there."""
    for status, source, target, column, id_column in (
            (HUMA_ONLY, huma, crona, "can_create_in_crona", "huma_id"),
            (CRONA_ONLY, crona, huma, "can_create_in_huma", "crona_id")):
        rows = np.flatnonzero((matches["status"] == status).to_numpy())
        if len(rows) == 0:
            continue
        at = _positions(source, matches[id_column].iloc[rows])
        quarantined = source.quarantined()
        problems: list[list[str]] = [[] for _ in rows]
        for f in FIELDS:
            if not f.required_in(target.side):
                continue
            values = source.frame[f.name].to_numpy()[at]
            missing = pd.isna(values)
            bad = quarantined[f.name].to_numpy()[at] & ~missing
            for k in np.flatnonzero(missing):
                problems[k].append(f"no {f.label}, which {target.system} requires")
            for k in np.flatnonzero(bad):
                problems[k].append(f"its {f.label} cannot be synced")
        taken = _owners(target.frame, "employment_id")
        emails = dict(zip(target.frame[RECORD_ID], target.frame[MATCH_KEY.name]))
        for k, employment_id in enumerate(source.frame["employment_id"].to_numpy()[at]):
            holder = taken.get(employment_id) if employment_id is not None else None
            if holder is not None:
                problems[k].append(f"employment ID {employment_id} is already held in {target.system} by"
                                   f" {emails.get(holder, holder)}")
        matches.loc[matches.index[rows], column] = [not p for p in problems]
        matches.loc[matches.index[rows], "reason"] = [
            f"cannot be created in {target.system}: " + "; ".join(p) if p else None for p in problems]


def _quarantine_reasons(table: CanonicalTable) -> dict[tuple[str, str], str]:
    q = table.quarantine
    return {(r, f): reason for r, f, reason in zip(q["record_id"], q["field"], q["reason"])}


def conflicts(huma: CanonicalTable, crona: CanonicalTable, matches: pd.DataFrame) -> pd.DataFrame:
    """The long conflict table (`CONFLICT_COLUMNS`): one row per matched employee and field whose normalised
    values differ or are missing on one side, with whether the value may go to Huma / to Crona and why not."""
    pairs = matches[matches["status"] == MATCHED]
    h_at = _positions(huma, pairs["huma_id"])
    c_at = _positions(crona, pairs["crona_id"])
    # Only pairs whose fingerprints differ can need attention: compare those field by field.
    differ = np.flatnonzero(huma.fingerprints()[h_at] != crona.fingerprints()[c_at])
    pairs, h_at, c_at = pairs.iloc[differ], h_at[differ], c_at[differ]
    hq, cq = huma.quarantined(), crona.quarantined()
    h_present, c_present = huma.present()[h_at], crona.present()[c_at]
    employees = pairs["employee"].to_numpy()
    huma_ids = pairs["huma_id"].to_numpy()
    crona_ids = pairs["crona_id"].to_numpy()
    h_reasons, c_reasons = _quarantine_reasons(huma), _quarantine_reasons(crona)
    huma_emails = None

    parts = []
    for column, f in enumerate(FIELDS):
        hv = huma.frame[f.name].to_numpy()[h_at]
        cv = crona.frame[f.name].to_numpy()[c_at]
        h_has = h_present[:, column]
        c_has = c_present[:, column]
        attention = (h_has != c_has) | (h_has & c_has & (hv != cv))
        if not attention.any():
            continue
        rows = np.flatnonzero(attention)
        h_in, c_in = h_has[rows], c_has[rows]
        h_bad = hq[f.name].to_numpy()[h_at][rows] & h_in
        c_bad = cq[f.name].to_numpy()[c_at][rows] & c_in
        kind = np.where(h_in & c_in, CONFLICT, np.where(h_in, MISSING_IN_CRONA, MISSING_IN_HUMA))
        to_huma = c_in & ~c_bad
        to_crona = h_in & ~h_bad
        not_huma = np.where(c_in, None, "Crona has no value").astype(object)
        not_crona = np.where(h_in, None, "Huma has no value").astype(object)
        for k in np.flatnonzero(c_bad):
            not_huma[k] = c_reasons.get((crona_ids[rows[k]], f.name), "Crona's value is quarantined")
        for k in np.flatnonzero(h_bad):
            not_crona[k] = h_reasons.get((huma_ids[rows[k]], f.name), "Huma's value is quarantined")
        if f.immutable_in_crona:
            blocked = to_crona & c_in
            to_crona = to_crona & ~blocked
            not_crona[blocked] = IMMUTABLE_REASON.format(label=f.label)
        if f.unique_in_huma and not f.match_key:
            owners = _owners(huma.frame, f.name)
            for k in np.flatnonzero(to_huma):
                owner = owners.get(cv[rows[k]])
                if owner is not None and owner != huma_ids[rows[k]]:
                    if huma_emails is None:
                        huma_emails = dict(zip(huma.frame[RECORD_ID], huma.frame[MATCH_KEY.name]))
                    to_huma[k] = False
                    not_huma[k] = f"{f.label} {cv[rows[k]]} is already held by Huma user {huma_emails[owner]}"
        parts.append(pd.DataFrame({
            "employee": employees[rows], "huma_id": huma_ids[rows], "crona_id": crona_ids[rows],
            "field": f.name, "huma_value": hv[rows], "crona_value": cv[rows], "kind": kind,
            "to_huma": to_huma, "to_crona": to_crona, "why_not_to_huma": not_huma, "why_not_to_crona": not_crona,
        }))
    if not parts:
        return pd.DataFrame(columns=list(CONFLICT_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    order = {f.name: i for i, f in enumerate(FIELDS)}
    out = out.assign(_f=out["field"].map(order)).sort_values(["employee", "_f"], kind="stable")
    return out.drop(columns="_f").reset_index(drop=True)[list(CONFLICT_COLUMNS)]


def reconcile(huma: CanonicalTable, crona: CanonicalTable) -> Reconciliation:
    """Match both tables and compute their conflicts."""
    matches = match(huma, crona)
    return Reconciliation(huma, crona, matches, conflicts(huma, crona, matches))


__all__ = ["CONFLICT", "CONFLICT_COLUMNS", "CONFLICT_KINDS", "CRONA_ONLY", "HUMA_ONLY", "MATCHED", "MATCH_COLUMNS",
           "MISSING_IN_CRONA", "MISSING_IN_HUMA", "Reconciliation", "UNMATCHED", "conflicts",
           "match", "reconcile"]
