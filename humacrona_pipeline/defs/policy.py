"""The resolution policy as a Dagster resource, so the launchpad and `HUMACRONA_POLICY_FILE` both set it.

The fields mirror `core.policy.Policy` one for one (a test keeps them from drifting); validation stays in
core: `.policy()` hands the values to `policy_from_mapping` and turns a `PolicyError` into a run failure
that says which option is wrong."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from ..connection.connections import Connection
from ..core.fields import FIELD_NAMES
from ..core.policy import ALL, NONE, Policy, PolicyError, load_policy, policy_from_mapping
from .partitions import PerConnection

POLICY_FILE_ENV = "HUMACRONA_POLICY_FILE"
_WINNERS = "huma, crona or skip"
_FIELD_NAMES = ", ".join(FIELD_NAMES)


class EmployeeOverrideConfig(dg.Config):
    """Decisions for one employee (by work email), taking precedence over the policy-wide ones."""

    email: str = Field(description="The employee's work email (letter case does not matter).")
    winner: str | None = Field(
        default=None, description=f"Winner for every field of this employee: {_WINNERS}; unset: no override.")
    fields: dict[str, str] = Field(
        default={}, description=f"Per-field winners for this employee ({_WINNERS}); fields: {_FIELD_NAMES}.")
    approve_bank_account_change: bool = Field(
        default=False,
        description="Let a changed salary account go to Crona as an update instead of being held.")


class SyncPolicy(PerConnection, dg.ConfigurableResource):
    """How conflicts are resolved, what is filled and created, and the guards on a sync (see policy.example.yaml)."""

    default_winner: str = Field(
        default="skip", description=f"Who wins a conflict when nothing more specific says: {_WINNERS}.")
    field_winners: dict[str, str] = Field(
        default={}, description=f"Per-field winners ({_WINNERS}), above default_winner; fields: {_FIELD_NAMES}.")
    employees: list[EmployeeOverrideConfig] = Field(
        default=[], description="Per-employee overrides (by work email), above everything else.")
    missing_values: str = Field(
        default="fill", description="A value one side lacks: fill (copy it), leave (list it) or follow_winner.")
    create_in_huma: list[str] = Field(
        default=[NONE], description="Create Crona-only employees in Huma: [none], [all] or a list of work emails.")
    create_in_crona: list[str] = Field(
        default=[NONE], description="Create Huma-only employees in Crona: [none], [all] or a list of work emails.")
    auto_create_in_crona: bool = Field(
        default=False,
        description="Real-time pushes only: a users-create webhook creates the new Huma employee in Crona.")
    never_clear: bool = Field(default=True, description="Never replace a non-empty value by an empty one.")
    hold_bank_account_changes: bool = Field(
        default=True,
        description="Plan a changed salary account of an existing Crona employee as held unless approved.")
    map_country_names: bool = Field(
        default=False, description="Map Crona country names (Sverige, Norge) to ISO 3166-1 alpha-2 codes.")
    max_update_share: float = Field(
        default=0.2, description="Guard: the largest share of matched employees one sync may update.")
    max_creates: int = Field(default=50, description="Guard: the most employees one sync may create.")
    approve_mass_change: bool = Field(
        default=False, description="Let a plan beyond the guards through (for a first sync).")
    quarantine_warn_share: float = Field(
        default=0.05, description="Above this share of quarantined employees the schema checks warn.")
    quarantine_error_share: float = Field(
        default=0.25, description="Above this share of quarantined employees the schema checks fail and block.")
    max_unreadable_share: float = Field(
        default=0.02, description="Guard: above this share of listed employees whose record cannot be read, the "
        "extraction checks fail the run (an outage rather than a few bad records).")

    def for_connection(self, connection: Connection) -> SyncPolicy:
        """The connection's policy file (the connections file checked it), else the default policy."""
        return SyncPolicy.from_file(connection.policy) if connection.policy else SyncPolicy()

    def to_mapping(self) -> dict[str, Any]:
        """The options as plain data, in the form `policy_from_mapping` reads (and a policy YAML holds)."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data["field_winners"] = dict(self.field_winners)
        data["create_in_huma"] = list(self.create_in_huma)
        data["create_in_crona"] = list(self.create_in_crona)
        data["employees"] = [
            {"email": e.email, "winner": e.winner, "fields": dict(e.fields),
             "approve_bank_account_change": e.approve_bank_account_change}
            for e in self.employees
        ]
        return data

    def policy(self) -> Policy:
        """The validated core policy; an invalid option fails the run with core's explanation."""
        try:
            return policy_from_mapping(self.to_mapping())
        except PolicyError as error:
            raise dg.Failure(description=f"The sync policy is not valid: {error}", allow_retries=False) from error

    @classmethod
    def from_policy(cls, policy: Policy) -> SyncPolicy:
        """The resource holding a core policy's options."""
        data = policy.to_mapping()
        for option in ("create_in_huma", "create_in_crona"):
            value = data[option]
            data[option] = [value] if value in (ALL, NONE) else list(value)
        data["employees"] = [EmployeeOverrideConfig(**o) for o in data["employees"]]
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> SyncPolicy:
        """The resource from a policy YAML file (validated by core's `load_policy`)."""
        return cls.from_policy(load_policy(path))


def policy_resource_from_env() -> SyncPolicy:
    """The policy file named by `HUMACRONA_POLICY_FILE`, else the default policy (which changes nothing
    on a conflict: `default_winner: skip`).

    Launchpad config for the `policy` resource replaces these values as a whole, not option by option
    (Dagster keeps values set in code as one default for the resource): give the full policy there."""
    path = os.environ.get(POLICY_FILE_ENV)
    return SyncPolicy.from_file(path) if path else SyncPolicy()
