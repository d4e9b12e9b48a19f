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
    pairs = h.merge(c, on=key, how="outer", suffixes=("_h", "_c"), indicator=True)
    status = np.select([pairs["_merge"] == "both", pairs["_merge"] == "left_only"], [MATCHED, HUMA_ONLY],
                       CRONA_ONLY)
    matched = pd.DataFrame({
        "employee": pairs[key],
        "status": status,
        "huma_id": pairs[f"{RECORD_ID}_h"],
        "crona_id": pairs[f"{RECORD_ID}_c"],
        "employment_id": pairs["employment_id_c"].where(pairs["employment_id_c"].notna(), pairs["employment_id_h"]),
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
    order = {MATCHED: 0, HUMA_ONLY: 1, CRONA_ONLY: 2, UNMATCHED: 3}
    out = out.assign(_order=out["status"].map(order)).sort_values(["_order", "employee"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)[list(MATCH_COLUMNS)].astype(object)


def creation_problems(source: CanonicalTable, target: CanonicalTable, record_index: int) -> list[str]:
    """Why the source's employee (row ``record_index``) cannot be created in the target system; [] if it can."""
    row = source.frame.loc[record_index]
    quarantined = source.quarantined().loc[record_index] if not source.quarantine.empty else None
    return _creation_problems(row, quarantined, target, _owners(target.frame, "employment_id"))


def _creation_problems(row: pd.Series, quarantined: pd.Series | None, target: CanonicalTable,
                       target_ids: dict) -> list[str]:
    problems = []
    for f in FIELDS:
        if not f.required_in(target.side):
            continue
        if row[f.name] is None:
            problems.append(f"no {f.label}, which {target.system} requires")
        elif quarantined is not None and quarantined[f.name]:
            problems.append(f"its {f.label} cannot be synced")
    employment_id = row["employment_id"]
    if employment_id is not None and employment_id in target_ids:
        holder = target.frame.loc[target.frame[RECORD_ID] == target_ids[employment_id], MATCH_KEY.name]
        email = holder.iloc[0] if len(holder) else "?"
        problems.append(f"employment ID {employment_id} is already held in {target.system} by {email}")
    return problems


def _creatable(matches: pd.DataFrame, huma: CanonicalTable, crona: CanonicalTable) -> None:
    """Fill `can_create_in_*` and `reason` of the one-sided rows in place."""
    for status, source, target, column, id_column in (
            (HUMA_ONLY, huma, crona, "can_create_in_crona", "huma_id"),
            (CRONA_ONLY, crona, huma, "can_create_in_huma", "crona_id")):
        rows = matches.index[matches["status"] == status]
        if len(rows) == 0:
            continue
        position = pd.Series(source.frame.index, index=source.frame[RECORD_ID])
        quarantined = source.quarantined()
        target_ids = _owners(target.frame, "employment_id")
        for i in rows:
            index = position[matches.at[i, id_column]]
            problems = _creation_problems(source.frame.loc[index], quarantined.loc[index], target, target_ids)
            matches.at[i, column] = not problems
            matches.at[i, "reason"] = (f"cannot be created in {target.system}: " + "; ".join(problems)
                                       if problems else None)


# --- conflicts ------------------------------------------------------------------------------------


def _quarantine_reasons(table: CanonicalTable) -> dict[tuple[str, str], str]:
    q = table.quarantine
    return {(r, f): reason for r, f, reason in zip(q["record_id"], q["field"], q["reason"])}


def conflicts(huma: CanonicalTable, crona: CanonicalTable, matches: pd.DataFrame) -> pd.DataFrame:
    """The long conflict table (`CONFLICT_COLUMNS`): one row per matched employee and field whose normalised
    values differ or are missing on one side, with whether the value may go to Huma / to Crona and why not."""
    pairs = matches[matches["status"] == MATCHED]
    h_pos = pd.Series(huma.frame.index, index=huma.frame[RECORD_ID])
    c_pos = pd.Series(crona.frame.index, index=crona.frame[RECORD_ID])
    h_index = h_pos.reindex(pairs["huma_id"]).to_numpy()
    c_index = c_pos.reindex(pairs["crona_id"]).to_numpy()
    hf = huma.frame.loc[h_index].reset_index(drop=True)
    cf = crona.frame.loc[c_index].reset_index(drop=True)
    hq = huma.quarantined().loc[h_index].reset_index(drop=True)
    cq = crona.quarantined().loc[c_index].reset_index(drop=True)
    employees = pairs["employee"].to_numpy()
    huma_ids = pairs["huma_id"].to_numpy()
    crona_ids = pairs["crona_id"].to_numpy()
    h_reasons, c_reasons = _quarantine_reasons(huma), _quarantine_reasons(crona)

    parts = []
    for f in FIELDS:
        hv = hf[f.name].to_numpy(dtype=object)
        cv = cf[f.name].to_numpy(dtype=object)
        h_has = pd.notna(hv)
        c_has = pd.notna(cv)
        differ = h_has & c_has & (hv != cv)
        attention = differ | (h_has ^ c_has)
        if not attention.any():
            continue
        rows = np.flatnonzero(attention)
        kind = np.where(differ[rows], CONFLICT, np.where(h_has[rows], MISSING_IN_CRONA, MISSING_IN_HUMA))
        to_huma = c_has[rows] & ~cq[f.name].to_numpy()[rows]
        to_crona = h_has[rows] & ~hq[f.name].to_numpy()[rows]
        not_huma: list[str | None] = [None if c_has[r] else "Crona has no value" for r in rows]
        not_crona: list[str | None] = [None if h_has[r] else "Huma has no value" for r in rows]
        for k, r in enumerate(rows):
            if c_has[r] and cq.at[r, f.name]:
                not_huma[k] = c_reasons.get((crona_ids[r], f.name), "Crona's value is quarantined")
            if h_has[r] and hq.at[r, f.name]:
                not_crona[k] = h_reasons.get((huma_ids[r], f.name), "Huma's value is quarantined")
        if f.immutable_in_crona:
            for k, r in enumerate(rows):
                if to_crona[k] and c_has[r]:
                    to_crona[k] = False
                    not_crona[k] = IMMUTABLE_REASON.format(label=f.label)
        if f.unique_in_huma and not f.match_key:
            owners = _owners(huma.frame, f.name)
            for k, r in enumerate(rows):
                owner = owners.get(cv[r]) if to_huma[k] else None
                if owner is not None and owner != huma_ids[r]:
                    to_huma[k] = False
                    email = huma.frame.loc[h_pos[owner], MATCH_KEY.name]
                    not_huma[k] = f"{f.label} {cv[r]} is already held by Huma user {email}"
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
           "MISSING_IN_CRONA", "MISSING_IN_HUMA", "Reconciliation", "UNMATCHED", "conflicts", "creation_problems",
           "match", "reconcile"]
