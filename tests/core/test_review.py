"""A reviewed plan kept and rebuilt (`core.review`): unchanged employees keep exactly their reviewed operations,
with full values found again by fingerprint; any change on either side, a record gone or one appeared makes
the employee drifted, with what changed shown masked; nothing kept holds a full salary account."""

import json

import pytest

from humacrona_pipeline.core.bank_accounts import mask
from humacrona_pipeline.core.fields import CRONA, HUMA
from humacrona_pipeline.core.plan import plan
from humacrona_pipeline.core.policy import policy_from_mapping
from humacrona_pipeline.core.reconcile import reconcile
from humacrona_pipeline.core.review import ReviewedPlan, derive_key, fingerprint, keep, rebuild
from tests.core.core_testkit import ACCOUNT_A, ACCOUNT_B, ACCOUNT_C, person, table

KEY = derive_key("huma-secret", "crona-code")
POLICY = policy_from_mapping({"default_winner": "huma", "hold_bank_account_changes": False,
                              "create_in_crona": "all", "approve_mass_change": True})


def _huma():
    return [person(1, family_name="Lind"), person(2, bank_account=ACCOUNT_A), person(3, job_title="Chef"),
            person(4, work_email="ny@nordljus.se", employment_id="2004")]


def _crona():
    return [person(1), person(2, bank_account=ACCOUNT_B), person(3)]


def _kept(huma_people=None, crona_people=None):
    huma, crona = table(HUMA, huma_people or _huma()), table(CRONA, crona_people or _crona())
    planned = plan(reconcile(huma, crona), POLICY)
    return planned, keep(planned, huma, crona, KEY, "run-1", "2026-12-06T10:00:00+00:00")


def _ops(sync_plan):
    return sorted((r.target, r.action, r.employee, r.field, str(r.new_value))
                  for r in sync_plan.operations.itertuples())


def test_unchanged_systems_give_back_exactly_the_reviewed_plan_with_full_values():
    planned, kept = _kept()
    assert len(planned.operations) >= 4  # a name, a title, an account, a create
    again = ReviewedPlan.from_json(kept.to_json())
    rebuilt = rebuild(again, table(HUMA, _huma()), table(CRONA, _crona()), KEY)
    assert _ops(rebuilt) == _ops(planned) and rebuilt.drifted.empty
    account = rebuilt.operations[rebuilt.operations["field"] == "bank_account"].iloc[0]
    assert account["new_value"] == ACCOUNT_A and account["current_value"] == ACCOUNT_B
    assert rebuilt.reviewed_run_id == "run-1" and set(rebuilt.basis) == set(planned.operations["employee"])


def test_nothing_kept_holds_a_full_salary_account():
    _, kept = _kept()
    text = kept.to_json()
    for account in (ACCOUNT_A, ACCOUNT_B):
        assert account not in text and account.replace(" ", "") not in text.replace(" ", "")
        assert mask(account) in text
    assert fingerprint(KEY, "bank_account", ACCOUNT_A) in text


@pytest.mark.parametrize("side, n, change, said", [
    (HUMA, 1, {"family_name": "Lind-Berg"}, "Huma family name: “Lind” → “Lind-Berg”"),
    (CRONA, 1, {"phone": "+46701234599"}, "Crona mobile phone"),
    (CRONA, 3, {"job_title": None}, "Crona job title: “Lönespecialist” → “nothing”"),
    (HUMA, 2, {"bank_account": ACCOUNT_C}, "Huma salary bank account: “" + mask(ACCOUNT_A)),
])
def test_a_change_on_either_side_drifts_that_employee_only(side, n, change, said):
    planned, kept = _kept()
    huma, crona = _huma(), _crona()
    people = huma if side == HUMA else crona
    people[n - 1] = {**people[n - 1], **change}
    rebuilt = rebuild(kept, table(HUMA, huma), table(CRONA, crona), KEY)
    email = f"anna.berg{n}@nordljus.se"
    assert set(rebuilt.drifted["employee"]) == {email}
    assert len(rebuilt.drifted) == (planned.operations["employee"] == email).sum()
    reason = rebuilt.drifted["reason"].iloc[0]
    assert said.lower() in reason.lower(), reason
    assert email not in set(rebuilt.operations["employee"])
    others = planned.operations[planned.operations["employee"] != email]
    assert _ops(rebuilt) == sorted((r.target, r.action, r.employee, r.field, str(r.new_value))
                                   for r in others.itertuples())
    for account in (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C):
        assert account.replace(" ", "") not in rebuilt.drifted.to_string().replace(" ", "")


def test_a_record_gone_or_one_that_appeared_drifts_the_employee():
    _, kept = _kept()
    gone = rebuild(kept, table(HUMA, _huma()), table(CRONA, _crona()[:2]), KEY)
    assert set(gone.drifted["employee"]) == {"anna.berg3@nordljus.se"}
    assert "no longer in Crona" in gone.drifted["reason"].iloc[0]
    appeared = rebuild(kept, table(HUMA, _huma()), table(CRONA, [*_crona(), person(4, work_email="ny@nordljus.se",
                                                                                    employment_id="3004")]), KEY)
    assert set(appeared.drifted["employee"]) == {"ny@nordljus.se"}
    assert "now in Crona" in appeared.drifted["reason"].iloc[0]


def test_a_plan_kept_under_other_credentials_is_refused():
    _, kept = _kept()
    with pytest.raises(ValueError, match="other credentials"):
        rebuild(kept, table(HUMA, _huma()), table(CRONA, _crona()), derive_key("another-secret", "crona-code"))


def test_fingerprints_need_the_key():
    assert fingerprint(KEY, "bank_account", ACCOUNT_A) != fingerprint(derive_key("x", "y"), "bank_account", ACCOUNT_A)
    assert fingerprint(KEY, "bank_account", ACCOUNT_A) != fingerprint(KEY, "phone", ACCOUNT_A)
    assert fingerprint(KEY, "bank_account", None) is None
    assert json.loads(_kept()[1].to_json())["format"] == 1
