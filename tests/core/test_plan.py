"""The plan: what the policy asks for, within the rules that always hold."""

from humacrona_pipeline.core.canonical import validate_table
from humacrona_pipeline.core.fields import CRONA, HUMA
from humacrona_pipeline.core.plan import plan
from humacrona_pipeline.core.planned_tables import apply_to_tables
from humacrona_pipeline.core.policy import policy_from_mapping
from humacrona_pipeline.core.reconcile import reconcile
from tests.core.core_testkit import ACCOUNT_A, ACCOUNT_B, ADDRESS_SE_2, person, table

E1 = "anna.berg1@nordljus.se"


def make(huma_people, crona_people, **policy):
    rec = reconcile(table(HUMA, huma_people), table(CRONA, crona_people))
    return rec, plan(rec, policy_from_mapping(policy))


def ops(p):
    return {(r.target, r.action, r.employee, r.field, r.new_value) for r in p.operations.itertuples()}


def test_default_policy_only_fills_gaps():
    rec, p = make([person(1, job_title="Lönechef", private_email=None)], [person(1)])
    assert ops(p) == {("huma", "update", E1, "private_email", "anna1@gmail.com")}
    skipped = p.not_planned.set_index("field").loc["job_title"]
    assert "skip" in skipped["reason"] and skipped["category"] == "policy decision"


def test_winners_choose_the_direction_and_the_rule_is_recorded():
    _, p = make([person(1, job_title="Lönechef", address=ADDRESS_SE_2)], [person(1)],
                default_winner="huma", field_winners={"address": "crona"})
    rows = p.operations.set_index("field")
    assert rows.loc["job_title", "target"] == "crona" and rows.loc["job_title", "rule"] == "default_winner"
    assert rows.loc["job_title", "current_value"] == "Lönespecialist"
    assert rows.loc["address", "target"] == "huma" and rows.loc["address", "rule"] == "field_winners.address"


def test_anstnr_is_never_updated_in_crona():
    _, p = make([person(1)], [person(1, employment_id="2001")], default_winner="huma")
    assert p.operations.empty
    assert "cannot be changed in Crona" in p.not_planned.iloc[0]["reason"]
    _, p = make([person(1)], [person(1, employment_id="2001")], default_winner="crona")
    assert ops(p) == {("huma", "update", E1, "employment_id", "2001")}


def test_changing_an_existing_salary_account_is_held_unless_approved():
    h, c = [person(1, bank_account=ACCOUNT_A)], [person(1, bank_account=ACCOUNT_B)]
    _, p = make(h, c, default_winner="huma")
    row = p.operations.iloc[0]
    assert (row["target"], row["action"], row["field"]) == ("crona", "held", "bank_account")
    assert "hold_bank_account_changes" in row["rule"]
    _, p = make(h, c, default_winner="huma", employees=[{"email": E1, "approve_bank_account_change": True}])
    assert p.operations.iloc[0]["action"] == "update"
    _, p = make(h, [person(1)], default_winner="huma")  # filling an empty account is not a change
    assert p.operations.iloc[0]["action"] == "update"


def test_nothing_invalid_goes_to_crona():
    _, p = make([person(1, bank_account="6789 123456788")], [person(1)], default_winner="huma")
    assert p.operations.empty
    assert "check digit" in p.not_planned.iloc[0]["reason"]
    assert p.not_planned.iloc[0]["category"] == "not allowed"


def test_a_phone_is_never_planned_for_two_huma_users():
    h = [person(1, phone=None), person(2, phone=None)]
    c = [person(1, phone="+46709999999"), person(2, phone="+46709999999")]
    _, p = make(h, c)
    assert len(p.operations) == 0  # both Crona values are duplicates there: quarantined
    h = [person(1, phone=None)]
    c = [person(1, phone="+46709999999")]
    crona_only = person(3, phone="+46709999999", employment_id="1003")
    _, p = make(h, c + [dict(crona_only)], create_in_huma="all")
    planned_phones = p.operations[(p.operations["field"] == "phone") & (p.operations["target"] == "huma")]
    assert len(planned_phones) <= 1


def test_never_clear_and_follow_winner():
    h, c = [person(1, private_email=None)], [person(1)]
    _, p = make(h, c, missing_values="follow_winner", default_winner="huma")
    assert p.operations.empty and "never_clear" in p.not_planned.iloc[0]["reason"]
    _, p = make(h, c, missing_values="follow_winner", default_winner="huma", never_clear=False)
    assert ops(p) == {("crona", "update", E1, "private_email", None)}
    _, p = make(h, c, missing_values="leave")
    assert p.operations.empty and p.not_planned.iloc[0]["reason"] == "missing_values: leave"


def test_required_fields_are_never_cleared():
    _, p = make([person(1, employment_id=None)], [person(1)], missing_values="follow_winner",
                default_winner="huma", never_clear=False)
    assert p.operations.empty and "cannot hold an employee without" in p.not_planned.iloc[0]["reason"]


def test_creates_follow_the_selection_and_leave_out_invalid_values():
    h = [person(1), person(2, bank_account="6789 123456788")]
    _, p = make(h, [person(1)], create_in_crona=["anna.berg2@nordljus.se"])
    created = p.operations[p.operations["action"] == "create"]
    assert set(created["employee"]) == {"anna.berg2@nordljus.se"} and set(created["target"]) == {"crona"}
    assert "bank_account" not in set(created["field"])
    assert "left out of the new Crona employee" in p.not_planned.set_index("field").loc["bank_account", "reason"]
    _, p = make(h, [person(1)])
    assert p.operations.empty and "create_in_crona: none" in p.not_planned.iloc[0]["reason"]


def test_missing_required_field_is_not_created():
    _, p = make([person(1), person(2, employment_id=None)], [person(1)], create_in_crona="all")
    assert p.operations.empty
    assert "no employment ID, which Crona requires" in p.not_planned.iloc[0]["reason"]


def test_dates_never_end_before_they_start():
    h = [person(1, start_date="2024-06-01")]
    c = [person(1, start_date="2020-01-01", end_date="2023-12-31")]
    _, p = make(h, c, default_winner="huma", missing_values="leave")
    assert p.operations.empty
    assert any("before it starts" in r for r in p.not_planned["reason"])


def test_guards():
    people = [person(i) for i in range(10)]
    changed = [person(i, job_title="Chef") if i < 3 else person(i) for i in range(10)]
    rec, p = make(changed, people, default_winner="huma")
    policy = policy_from_mapping({"max_update_share": 0.2})
    assert p.update_share() == 0.3 and p.guard_violations(policy)
    assert not p.guard_violations(policy_from_mapping({"max_update_share": 0.3}))
    _, p = make([person(i) for i in range(3)], [], create_in_crona="all")
    assert p.created_employees() == 3
    assert p.guard_violations(policy_from_mapping({"max_creates": 2}))


def test_applying_the_plan_and_planning_again_gives_an_empty_plan():
    h = [person(1, job_title="Chef", bank_account=ACCOUNT_A), person(2, phone=None), person(4)]
    c = [person(1, bank_account=ACCOUNT_B), person(2), person(3)]
    policy = policy_from_mapping({"default_winner": "huma", "create_in_huma": "all", "create_in_crona": "all"})
    rec = reconcile(table(HUMA, h), table(CRONA, c))
    first = plan(rec, policy)
    assert len(first.operations) > 0
    hf, cf = apply_to_tables(rec, first, include_held=True)
    again = plan(reconcile(validate_table(hf, HUMA), validate_table(cf, CRONA)), policy)
    assert again.operations.empty


def test_a_huma_position_is_not_planned_without_the_start_date_and_title_huma_needs_to_create_it():
    from humacrona_pipeline.core.plan import NOT_ALLOWED, plan
    from humacrona_pipeline.core.policy import Policy
    from humacrona_pipeline.core.reconcile import reconcile

    # Huma has no position (no dates, no title); Crona has a start date but no job title.
    huma = table("huma", [person(1, start_date=None, end_date=None, job_title=None)])
    crona = table("crona", [person(1, job_title=None)])
    result = plan(reconcile(huma, crona), Policy())
    ops = result.operations
    assert ops[(ops["target"] == "huma") & ops["field"].isin(["start_date", "end_date", "job_title"])].empty
    skipped = result.not_planned[(result.not_planned["target"] == "huma")
                                 & (result.not_planned["field"] == "start_date")]
    assert skipped["category"].tolist() == [NOT_ALLOWED]
    assert "cannot create a position without a job title" in skipped["reason"].item()

    # With the title there too, the whole position is planned.
    crona = table("crona", [person(1)])
    ops = plan(reconcile(huma, crona), Policy()).operations
    assert {"start_date", "job_title"} <= set(ops.loc[ops["target"] == "huma", "field"])
