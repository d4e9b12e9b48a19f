"""The `policy` resource: the same options as core's Policy, loaded from HUMACRONA_POLICY_FILE or the
launchpad, with a wrong option failing the run with core's explanation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import dagster as dg
import pytest
import yaml

from humacrona_pipeline.core.policy import ALL, NONE, EmployeeOverride, Policy, PolicyError, load_policy
from humacrona_pipeline.defs.policy import (
    POLICY_FILE_ENV,
    EmployeeOverrideConfig,
    SyncPolicy,
    policy_resource_from_env,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "policy.example.yaml"


def _resource_default(model: type, name: str):
    return model.model_fields[name].get_default(call_default_factory=True)


def _as_policy_value(name: str, value):
    """The resource's form of an option in core's form: launchpad lists for create_in_*, tuples for lists."""
    if name in ("create_in_huma", "create_in_crona"):
        return value[0] if value in ([ALL], [NONE]) else tuple(value)
    if name == "employees":
        return tuple(value)
    return value


def test_resource_options_are_exactly_the_policy_options_with_the_same_defaults():
    policy_fields = {f.name: f for f in dataclasses.fields(Policy)}
    assert list(SyncPolicy.model_fields) == list(policy_fields)
    for name, f in policy_fields.items():
        core_default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        assert _as_policy_value(name, _resource_default(SyncPolicy, name)) == core_default, name
        assert SyncPolicy.model_fields[name].description, f"{name} has no description for the launchpad"
    assert SyncPolicy().policy() == Policy()


def test_employee_override_options_mirror_core():
    core_fields = {f.name: f for f in dataclasses.fields(EmployeeOverride)}
    assert list(EmployeeOverrideConfig.model_fields) == list(core_fields)
    for name, f in core_fields.items():
        if name == "email":
            continue  # required in both
        core_default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        assert _resource_default(EmployeeOverrideConfig, name) == core_default, name
        assert EmployeeOverrideConfig.model_fields[name].description, name


def test_the_example_policy_file_loads_and_round_trips():
    resource = SyncPolicy.from_file(EXAMPLE)
    core = load_policy(EXAMPLE)
    assert resource.policy() == core
    assert core != Policy(), "the example should set options, or the round trip proves little"
    # The resource's options, written back as YAML, read as the same policy.
    again = yaml.safe_load(yaml.safe_dump(resource.to_mapping()))
    assert SyncPolicy(**{**again, "employees": [EmployeeOverrideConfig(**e) for e in again["employees"]]}
                      ).policy() == core
    assert SyncPolicy.from_policy(core).policy() == core


def test_a_wrong_option_fails_with_core_explanation():
    with pytest.raises(dg.Failure, match="default_winner: 'hr' is not a winner"):
        SyncPolicy(default_winner="hr").policy()
    with pytest.raises(dg.Failure, match="unknown field 'salary'"):
        SyncPolicy(field_winners={"salary": "crona"}).policy()
    with pytest.raises(dg.Failure, match="quarantine_warn_share must not be above"):
        SyncPolicy(quarantine_warn_share=0.5, quarantine_error_share=0.3).policy()


def test_a_run_with_an_invalid_policy_fails_and_says_why():
    @dg.asset
    def uses_policy(policy: SyncPolicy) -> bool:
        return policy.policy().map_country_names

    with dg.instance_for_test() as instance:
        result = dg.materialize([uses_policy], resources={"policy": SyncPolicy(missing_values="overwrite")},
                                instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "missing_values: 'overwrite'" in failure.event_specific_data.error.message


def test_policy_file_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(POLICY_FILE_ENV, raising=False)
    assert policy_resource_from_env().policy() == Policy()

    path = tmp_path / "policy.yaml"
    path.write_text("default_winner: crona\ncreate_in_huma: all\nmap_country_names: true\n")
    monkeypatch.setenv(POLICY_FILE_ENV, str(path))
    policy = policy_resource_from_env().policy()
    assert (policy.default_winner, policy.create_in_huma, policy.map_country_names) == ("crona", ALL, True)

    path.write_text("default_winer: crona\n")  # misspelt: an error, never silently the default
    with pytest.raises(PolicyError, match="default_winer"):
        policy_resource_from_env()


def test_the_launchpad_sets_options_as_lists():
    """Dagster's launchpad holds `create_in_*` as lists: [all] / [none] mean the words, others are emails."""
    @dg.asset
    def chosen(policy: SyncPolicy) -> Policy:
        return policy.policy()

    run_config = {"resources": {"policy": {"config": {
        "create_in_huma": ["all"],
        "create_in_crona": ["Anna.Berg@nordljus.se"],
        "employees": [{"email": "erik.ek@nordljus.se", "fields": {"phone": "huma"}}],
    }}}}
    with dg.instance_for_test() as instance:
        result = dg.materialize([chosen], resources={"policy": SyncPolicy()}, run_config=run_config,
                                instance=instance)
    policy = result.output_for_node("chosen")
    assert policy.create_in_huma == ALL
    assert policy.create_in_crona == ("anna.berg@nordljus.se",)
    assert policy.winner("erik.ek@nordljus.se", "phone") == ("huma", "employees[erik.ek@nordljus.se].fields.phone")
