"""Matching by work email and the conflict table."""

from humacrona_pipeline.core.fields import CRONA, HUMA
from humacrona_pipeline.core.reconcile import reconcile
from tests.core.core_testkit import ACCOUNT_A, ACCOUNT_B, person, table


def kinds(rec):
    return {(r.employee, r.field, r.kind) for r in rec.conflicts.itertuples()}


def test_identical_tables_have_no_conflicts():
    people = [person(i) for i in range(5)]
    rec = reconcile(table(HUMA, people), table(CRONA, people))
    assert rec.conflicts.empty
    assert set(rec.matches["status"]) == {"matched"}


def test_conflict_and_missing_kinds():
    h = table(HUMA, [person(1, job_title="Lönechef", private_email=None, bank_account=ACCOUNT_A)])
    c = table(CRONA, [person(1, phone=None)])
    rec = reconcile(h, c)
    e = "anna.berg1@nordljus.se"
    assert kinds(rec) == {(e, "job_title", "conflict"), (e, "private_email", "missing_in_huma"),
                          (e, "phone", "missing_in_crona"), (e, "bank_account", "missing_in_crona")}
    row = rec.conflicts.set_index("field").loc["private_email"]
    assert row["to_huma"] and not row["to_crona"] and row["why_not_to_crona"] == "Huma has no value"


def test_one_sided_employees_and_whether_they_can_be_created():
    h = table(HUMA, [person(1), person(2, employment_id=None)])
    c = table(CRONA, [person(3), person(4, employment_id="1001", work_email="other@nordljus.se")])
    m = reconcile(h, c).matches.set_index("employee")
    assert m.loc["anna.berg1@nordljus.se", "status"] == "huma_only"
    # AnstNr 1001 is taken in Crona by somebody else: cannot be created there.
    assert m.loc["anna.berg1@nordljus.se", "can_create_in_crona"] is False
    assert "already held in Crona by other@nordljus.se" in m.loc["anna.berg1@nordljus.se", "reason"]
    assert m.loc["anna.berg2@nordljus.se", "can_create_in_crona"] is False
    assert "no employment ID, which Crona requires" in m.loc["anna.berg2@nordljus.se", "reason"]
    assert m.loc["anna.berg3@nordljus.se", "status"] == "crona_only"
    assert m.loc["anna.berg3@nordljus.se", "can_create_in_huma"] is True


def test_same_email_different_employment_id_only_crona_can_resolve():
    rec = reconcile(table(HUMA, [person(1)]), table(CRONA, [person(1, employment_id="2001")]))
    row = rec.conflicts.iloc[0]
    assert (row["field"], row["kind"]) == ("employment_id", "conflict")
    assert row["to_huma"] and not row["to_crona"]
    assert "cannot be changed in Crona" in row["why_not_to_crona"]


def test_email_twice_on_one_side_is_not_matched_and_reported():
    h = table(HUMA, [person(1), person(2, work_email="anna.berg1@nordljus.se")])
    c = table(CRONA, [person(1)])
    m = reconcile(h, c).matches
    assert set(m["status"]) == {"unmatched"} and len(m) == 3  # two Huma records and the Crona one
    crona_row = m[m["crona_id"].notna()].iloc[0]
    assert "could not be matched" in crona_row["reason"]
    assert crona_row["can_create_in_huma"] is False


def test_quarantined_values_may_not_travel():
    h = table(HUMA, [person(1, bank_account="6789 123456788")])  # wrong check digit
    c = table(CRONA, [person(1, bank_account=ACCOUNT_B)])
    row = reconcile(h, c).conflicts.iloc[0]
    assert row["field"] == "bank_account" and row["to_huma"] and not row["to_crona"]
    assert "check digit" in row["why_not_to_crona"] and "123456788" not in row["why_not_to_crona"]


def test_phone_held_by_another_huma_user_may_not_go_to_huma():
    h = table(HUMA, [person(1), person(2)])
    c = table(CRONA, [person(1, phone=person(2)["phone"]), person(2, phone=None)])
    rows = reconcile(h, c).conflicts.set_index(["employee", "field"])
    row = rows.loc[("anna.berg1@nordljus.se", "phone")]
    assert not row["to_huma"] and "already held by Huma user anna.berg2@nordljus.se" in row["why_not_to_huma"]
    assert row["to_crona"]


def test_formatting_differences_never_conflict():
    from humacrona_pipeline.core.canonical import build_table
    from tests.core.core_testkit import crona_raw, huma_raw
    from tests.core.test_canonical import crona_employee, huma_user
    h = build_table(huma_raw([huma_user(1, phone="0701234561", email="ASA.BERG1@nordljus.se")]), HUMA)
    c = build_table(crona_raw([crona_employee(1, Mobil="+46 70 123 45 61", PostNr="11455")]), CRONA)
    assert reconcile(h, c).conflicts.empty
