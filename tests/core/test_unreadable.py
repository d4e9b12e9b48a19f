"""An employee whose record could not be read (`core.unreadable`) is excluded the way a not-syncable employee is:
matching blocks the other system's record with the same work email, and the plan writes nothing for either,
listing both as unreadable with the reason, however eager the policy is to create one-sided employees."""

import pandas as pd

from humacrona_pipeline.connectors.huma import HUMA_COLUMNS, unreadable_row
from humacrona_pipeline.core.canonical import NOT_SYNCABLE, build_table
from humacrona_pipeline.core.fields import CRONA, HUMA
from humacrona_pipeline.core.plan import UNREADABLE, plan
from humacrona_pipeline.core.policy import Policy
from humacrona_pipeline.core.reconcile import UNMATCHED, reconcile
from humacrona_pipeline.core.unreadable import (
    UNREADABLE_COLUMN,
    quarantine_unreadable,
    unreadable_share,
)
from tests.core.core_testkit import person, table

REASON = "unreadable in Huma: GET /users/u1: HTTP 500 Internal Server Error after 6 attempts"


def _huma_with_one_unreadable() -> tuple[pd.DataFrame, object]:
    listed = {"id": "u1", "givenName": "Anna", "familyName": "Berg1", "email": "Anna.Berg1@nordljus.se"}
    raw = pd.DataFrame([unreadable_row(listed, REASON)], columns=[*HUMA_COLUMNS, UNREADABLE_COLUMN])
    return raw, quarantine_unreadable(build_table(raw, HUMA), raw)


def test_the_unreadable_record_is_not_syncable_with_its_reason_alone():
    raw, huma = _huma_with_one_unreadable()
    assert unreadable_share(raw) == 1.0
    assert list(huma.syncable()) == [False]
    # Its blank fields are not reported as missing values: the one reason is that it could not be read.
    assert huma.quarantine[["record_id", "work_email", "reason", "effect"]].values.tolist() == [
        ["u1", "anna.berg1@nordljus.se", REASON, NOT_SYNCABLE]]


def test_nothing_is_planned_for_an_unreadable_employee_on_either_side():
    _, huma = _huma_with_one_unreadable()
    crona = table(CRONA, [person(1), person(2)])
    rec = reconcile(huma, crona)
    rows = rec.matches[rec.matches["employee"] == "anna.berg1@nordljus.se"]
    assert set(rows["status"]) == {UNMATCHED} and list(rows["reason"]) == [REASON, REASON]
    assert rows["can_create_in_huma"].tolist() == [None, False]

    eager = Policy(default_winner="huma", create_in_huma="all", create_in_crona="all")
    result = plan(rec, eager)
    assert not (result.operations["employee"] == "anna.berg1@nordljus.se").any()
    skipped = result.not_planned[result.not_planned["employee"] == "anna.berg1@nordljus.se"]
    assert skipped[["category", "reason"]].values.tolist() == [[UNREADABLE, REASON], [UNREADABLE, REASON]]
    # Somebody Huma really lacks is still created there.
    assert set(result.operations.loc[result.operations["action"] == "create", "employee"]) == {
        "anna.berg2@nordljus.se"}
