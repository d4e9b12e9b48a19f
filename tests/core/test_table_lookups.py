"""Matching and conflicts through the tables' lookups (positions, blanks, first holders) against the plain
field-by-field definitions they replace.

`reference_conflicts` and `reference_creatable` below are the straightforward readings of the rules: every
field of every matched pair compared, owners found in dicts over every row. The fast versions must give the
very same frames, on tables with blanks written as None or NaN, duplicated values and duplicated ids."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humacrona_pipeline.core.canonical import CANONICAL_COLUMNS, NOT_SYNCABLE, validate_table
from humacrona_pipeline.core.chars import pointers
from humacrona_pipeline.core.fields import CRONA, FIELD_NAMES, FIELDS, HUMA, MATCH_KEY
from humacrona_pipeline.core.reconcile import (
    CONFLICT,
    CONFLICT_COLUMNS,
    CRONA_ONLY,
    HUMA_ONLY,
    IMMUTABLE_REASON,
    MATCHED,
    MISSING_IN_CRONA,
    MISSING_IN_HUMA,
    conflicts,
    match,
)
from humacrona_pipeline.core.schemas import RECORD_ID
from tests.core.core_testkit import ACCOUNT_A, ACCOUNT_B, ACCOUNT_C, ADDRESS_SE_2, person

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the definitions ----------------------------------------------------------------------------------


def _positions(table, record_ids) -> np.ndarray:
    """The row of each id (the last, for an id held twice: such a record is never matched, but may be looked at)."""
    position = {r: k for k, r in enumerate(table.frame[RECORD_ID].tolist())}
    return np.array([position[r] for r in record_ids], dtype=np.int64)


def _owners(frame: pd.DataFrame, column: str) -> dict:
    held = frame[[column, RECORD_ID]].dropna(subset=[column])
    return dict(zip(held[column].to_numpy()[::-1], held[RECORD_ID].to_numpy()[::-1]))


def reference_conflicts(huma, crona, matches) -> pd.DataFrame:
    pairs = matches[matches["status"] == MATCHED]
    h_at, c_at = _positions(huma, pairs["huma_id"]), _positions(crona, pairs["crona_id"])
    hq, cq = huma.quarantined(), crona.quarantined()
    q = {side: {(r, f): why for r, f, why in zip(t.quarantine["record_id"], t.quarantine["field"],
                                                  t.quarantine["reason"])}
         for side, t in ((HUMA, huma), (CRONA, crona))}
    huma_emails = dict(zip(huma.frame[RECORD_ID], huma.frame[MATCH_KEY.name]))
    rows = []
    for k in range(len(pairs)):
        h, c = h_at[k], c_at[k]
        employee, huma_id, crona_id = pairs["employee"].iloc[k], pairs["huma_id"].iloc[k], pairs["crona_id"].iloc[k]
        for f in FIELDS:
            hv, cv = huma.frame[f.name].iloc[h], crona.frame[f.name].iloc[c]
            h_in, c_in = bool(pd.notna(hv)), bool(pd.notna(cv))
            if h_in == c_in and (not h_in or hv == cv):
                continue
            h_bad, c_bad = bool(hq[f.name].iloc[h]) and h_in, bool(cq[f.name].iloc[c]) and c_in
            to_huma, to_crona = c_in and not c_bad, h_in and not h_bad
            not_huma = None if c_in else "Crona has no value"
            not_crona = None if h_in else "Huma has no value"
            if c_bad:
                not_huma = q[CRONA].get((crona_id, f.name), "Crona's value is quarantined")
            if h_bad:
                not_crona = q[HUMA].get((huma_id, f.name), "Huma's value is quarantined")
            if f.immutable_in_crona and to_crona and c_in:
                to_crona, not_crona = False, IMMUTABLE_REASON.format(label=f.label)
            if f.unique_in_huma and not f.match_key and to_huma:
                owner = _owners(huma.frame, f.name).get(cv)
                if owner is not None and owner != huma_id:
                    to_huma = False
                    not_huma = f"{f.label} {cv} is already held by Huma user {huma_emails[owner]}"
            kind = CONFLICT if h_in and c_in else (MISSING_IN_CRONA if h_in else MISSING_IN_HUMA)
            rows.append({"employee": employee, "huma_id": huma_id, "crona_id": crona_id, "field": f.name,
                         "huma_value": hv, "crona_value": cv, "kind": kind, "to_huma": to_huma, "to_crona": to_crona,
                         "why_not_to_huma": not_huma, "why_not_to_crona": not_crona, "_f": FIELD_NAMES.index(f.name)})
    if not rows:
        return pd.DataFrame(columns=list(CONFLICT_COLUMNS))
    out = pd.DataFrame(rows, dtype=object).astype({"to_huma": bool, "to_crona": bool})
    out = out.sort_values(["employee", "_f"], kind="stable")
    return out.drop(columns="_f").reset_index(drop=True)[list(CONFLICT_COLUMNS)]


def reference_creatable(matches, huma, crona) -> pd.DataFrame:
    """`can_create_in_*` and `reason` of the one-sided rows, as the rules say."""
    out = matches[["can_create_in_huma", "can_create_in_crona", "reason"]].copy()
    for status, source, target, column, id_column in ((HUMA_ONLY, huma, crona, "can_create_in_crona", "huma_id"),
                                                      (CRONA_ONLY, crona, huma, "can_create_in_huma", "crona_id")):
        taken = _owners(target.frame, "employment_id")
        emails = dict(zip(target.frame[RECORD_ID], target.frame[MATCH_KEY.name]))
        for i in np.flatnonzero((matches["status"] == status).to_numpy()):
            at = _positions(source, [matches[id_column].iloc[i]])[0]
            problems = []
            for f in FIELDS:
                if not f.required_in(target.side):
                    continue
                value = source.frame[f.name].iloc[at]
                if pd.isna(value):
                    problems.append(f"no {f.label}, which {target.system} requires")
                elif source.quarantined()[f.name].iloc[at]:
                    problems.append(f"its {f.label} cannot be synced")
            employment_id = source.frame["employment_id"].iloc[at]
            holder = taken.get(employment_id) if employment_id is not None else None
            if holder is not None:
                problems.append(f"employment ID {employment_id} is already held in {target.system} by"
                                f" {emails.get(holder, holder)}")
            out.iloc[i, out.columns.get_loc(column)] = not problems
            out.iloc[i, out.columns.get_loc("reason")] = (
                f"cannot be created in {target.system}: " + "; ".join(problems) if problems else None)
    return out


# --- tables with everything that can go wrong --------------------------------------------------------

OTHER = {"employment_id": "2001", "given_name": "Åsa", "family_name": "Öhman", "address": ADDRESS_SE_2,
         "phone": "+46709999999", "start_date": "2019-05-01", "end_date": "2030-01-01", "bank_account": ACCOUNT_B,
         "private_email": "other@gmail.com", "job_title": "HR-partner"}
INVALID = {"address": "Storgatan 1\n\nStockholm\nSverige", "phone": "12345", "start_date": "2024-02-30",
           "end_date": "2001-01-01", "bank_account": "5000 1234561", "private_email": "not an email",
           "work_email": "Anna@", "employment_id": "1000"}


@st.composite
def people(draw, n: int) -> list[dict]:
    out = []
    for i in range(n):
        p = person(i, bank_account=draw(st.sampled_from([None, ACCOUNT_A, ACCOUNT_C])))
        for name in FIELD_NAMES:
            change = draw(st.sampled_from(["keep"] * 6 + ["blank", "other", "invalid", "copy"]))
            if change == "blank":
                p[name] = None
            elif change == "other" and name in OTHER:
                p[name] = OTHER[name]
            elif change == "invalid" and name in INVALID:
                p[name] = INVALID[name]
            elif change == "copy" and i:  # another employee's value: a duplicate where it must be unique
                p[name] = out[draw(st.integers(0, i - 1))][name]
        out.append(p)
    return out


def _table(side: str, rows: list[dict], ids: list, nan: bool):
    frame = pd.DataFrame([{"record_id": r, **p} for r, p in zip(ids, rows)], columns=list(CANONICAL_COLUMNS),
                         dtype=object)
    frame = frame.astype(object).where(frame.notna(), np.nan if nan else None)
    return validate_table(frame, side)


@st.composite
def reconciliations(draw):
    n = draw(st.integers(0, 7))
    pool = draw(people(n))
    huma = [dict(p) for p in pool if draw(st.integers(0, 5))] + draw(people(draw(st.integers(0, 2))))
    crona = [{**p, **draw(st.fixed_dictionaries({}, optional={k: st.sampled_from([OTHER[k], None]) for k in OTHER}))}
             for p in pool if draw(st.integers(0, 5))]
    huma_ids = [f"h{i}" if draw(st.integers(0, 9)) else draw(st.sampled_from(["h0", None])) for i in range(len(huma))]
    crona_ids = [p["employment_id"] if draw(st.integers(0, 9)) else "1000" for p in crona]
    nan = draw(st.booleans())
    return _table(HUMA, huma, huma_ids, nan), _table(CRONA, crona, crona_ids, nan)


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for column in want.columns:
        for a, b in zip(got[column].tolist(), want[column].tolist()):
            assert type(a) is type(b) and (a == b or (a != a and b != b)), (column, a, b)


@SETTINGS
@given(reconciliations())
def test_conflicts_and_creatable_are_the_definitions(tables):
    huma, crona = tables
    matches = match(huma, crona)
    assert_same_frame(conflicts(huma, crona, matches), reference_conflicts(huma, crona, matches))
    assert_same_frame(matches[["can_create_in_huma", "can_create_in_crona", "reason"]],
                      reference_creatable(matches, huma, crona))
    # A table that promises text or None only (as build_table's do) finds its blanks by identity, alike.
    if not any(isinstance(v, float)
               for v in huma.frame.to_numpy().ravel().tolist() + crona.frame.to_numpy().ravel().tolist()):
        huma_text, crona_text = (dataclasses.replace(t, text_only=True) for t in (huma, crona))
        assert (huma_text.present() == huma.present()).all()
        assert_same_frame(conflicts(huma_text, crona_text, matches), reference_conflicts(huma, crona, matches))


@SETTINGS
@given(reconciliations())
def test_table_lookups_are_the_definitions(tables):
    for table in tables:
        frame, ids = table.frame, table.frame[RECORD_ID]
        assert (table.present() == frame[list(FIELD_NAMES)].notna().to_numpy().T).all()
        assert (pointers(table.by_field()) == pointers(frame[list(FIELD_NAMES)].to_numpy().T)).all()  # the very values
        blocked = set(table.quarantine.loc[table.quarantine["effect"] == NOT_SYNCABLE, "record_id"].tolist())
        assert table.syncable().tolist() == (~ids.isin(blocked)).tolist()
        last = {r: k for k, r in enumerate(ids.tolist())}
        wanted = [r for r in ids.tolist() if pd.notna(r)] + ["nobody"]  # (a blank id names nobody)
        assert table.positions(wanted).tolist() == [last.get(r, -1) for r in wanted]
        for column in ("phone", "employment_id", "work_email"):
            owners = _owners(frame, column)
            values = [v for v in frame[column].tolist() if pd.notna(v)] + ["+46700000000"]
            assert table.first_holders(column, values) == {v: owners[v] for v in values if v in owners}
        emails = {r: e for r, e in zip(ids, frame[MATCH_KEY.name]) if pd.notna(r)}
        assert table.emails_of(set(emails)) == emails
        quarantined = table.quarantined()
        for name in FIELD_NAMES:
            held = set(table.quarantine.loc[table.quarantine["field"] == name, "record_id"].tolist())
            assert quarantined[name].tolist() == ids.isin(held).tolist(), name


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reconciliations())
def test_quarantine_reads_cells_by_label(tables):
    """The quarantine rows of a frame labelled any way are those of the same frame labelled 0, 1, 2, ..."""
    for table in tables:
        frame = table.frame.copy()
        frame.index = [10 * k + 3 for k in range(len(frame))]
        again = validate_table(frame, table.side)
        assert_same_frame(again.quarantine, table.quarantine)
        assert again.schema_errors == table.schema_errors


def test_planned_holders_behave_like_a_dict_over_every_huma_row():
    from humacrona_pipeline.core.huma_holders import HumaHolders

    huma = _table(HUMA, [person(0), person(1, phone="+46701234500"), person(2, phone=None)], ["h0", "h1", "h2"],
                  nan=False)
    holders = HumaHolders(huma, "phone")
    holders.prefetch(np.array(["+46701234500", None, "+46709999999"], dtype=object))
    assert holders.get("+46701234500") == "h0"  # the first holder of a duplicated phone
    assert holders.get("+46709999999") is None and holders.get(float("nan")) is None
    assert holders.get("+46701234501") is None  # never prefetched: looked up when asked
    holders["+46709999999"] = "new:a@x.se"
    assert holders.get("+46709999999") == "new:a@x.se"
    assert holders.pop("+46709999999") == "new:a@x.se" and holders.get("+46709999999") is None
