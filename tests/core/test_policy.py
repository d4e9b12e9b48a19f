"""The policy is read strictly: what an administrator misspells is an error, never ignored."""

from pathlib import Path

import pytest

from humacrona_pipeline.core.policy import Policy, PolicyError, load_policy, policy_from_mapping

EXAMPLE = Path(__file__).resolve().parents[2] / "policy.example.yaml"


def test_defaults_are_the_safe_ones():
    p = policy_from_mapping({})
    assert p == Policy()
    assert p.default_winner == "skip" and p.never_clear and p.hold_bank_account_changes
    assert p.missing_values == "fill" and p.create_in_huma == "none" and p.create_in_crona == "none"
    assert p.max_update_share == 0.2 and not p.approve_mass_change and not p.map_country_names


def test_precedence_employee_field_then_employee_then_field_then_default():
    p = policy_from_mapping({
        "default_winner": "huma", "field_winners": {"phone": "crona"},
        "employees": [{"email": "A@x.se", "winner": "crona", "fields": {"job_title": "skip"}}],
    })
    assert p.winner("a@x.se", "job_title") == ("skip", "employees[a@x.se].fields.job_title")
    assert p.winner("a@x.se", "given_name") == ("crona", "employees[a@x.se].winner")
    assert p.winner("b@x.se", "phone") == ("crona", "field_winners.phone")
    assert p.winner("b@x.se", "given_name") == ("huma", "default_winner")


@pytest.mark.parametrize("data, message", [
    ({"default_winer": "huma"}, "unknown policy option"),
    ({"default_winner": "hr"}, "not a winner"),
    ({"field_winners": {"salary": "huma"}}, "unknown field 'salary'"),
    ({"missing_values": "copy"}, "missing_values"),
    ({"create_in_huma": "some"}, "create_in_huma"),
    ({"create_in_crona": ["not-an-email"]}, "not a work email"),
    ({"max_update_share": 1.5}, "share from 0 to 1"),
    ({"max_creates": -1}, "whole number"),
    ({"never_clear": "yes"}, "true or false"),
    ({"employees": [{"email": "a@x.se"}, {"email": "A@x.se"}]}, "more than one override"),
    ({"employees": [{"email": "a@x.se", "winer": "huma"}]}, "unknown option"),
    ({"quarantine_warn_share": 0.5, "quarantine_error_share": 0.1}, "quarantine_warn_share"),
])
def test_mistakes_are_errors(data, message):
    with pytest.raises(PolicyError, match=message):
        policy_from_mapping(data)


def test_create_selections():
    p = policy_from_mapping({"create_in_huma": "all", "create_in_crona": ["B@x.se", "a@x.se"]})
    assert p.creates("huma", "z@x.se") == (True, "create_in_huma: all")
    assert p.creates("crona", "b@x.se")[0] and not p.creates("crona", "c@x.se")[0]
    assert policy_from_mapping({"create_in_huma": ["all"]}).create_in_huma == "all"


def test_example_file_documents_every_option_and_loads():
    text = EXAMPLE.read_text(encoding="utf-8")
    for option in Policy.__dataclass_fields__:
        assert f"{option}:" in text, option
    policy = load_policy(EXAMPLE)
    assert policy_from_mapping(policy.to_mapping()) == policy


def test_bad_files(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("default_winner: [", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_policy(empty) == Policy()
