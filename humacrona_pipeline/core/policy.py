"""The resolution policy: which side wins, what gets filled, whom to create, and the guards on an apply.

Administrators write it as YAML (see `policy.example.yaml`) or in the Dagster launchpad; both end up
here, validated strictly: a misspelt option or field name is an error, never silently ignored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .fields import BY_NAME, CRONA, FIELD_NAMES, HUMA

WINNERS = (HUMA, CRONA, "skip")
FILL, LEAVE, FOLLOW_WINNER = "fill", "leave", "follow_winner"
MISSING_VALUE_RULES = (FILL, LEAVE, FOLLOW_WINNER)
ALL, NONE = "all", "none"


class PolicyError(ValueError):
    """The policy cannot be used as written; the message says which option and why."""


@dataclass(frozen=True)
class EmployeeOverride:
    """Decisions for one employee (by work email), taking precedence over the policy-wide ones."""

    email: str
    winner: str | None = None  # for every field of this employee
    fields: Mapping[str, str] = field(default_factory=dict)  # field -> winner
    approve_bank_account_change: bool = False  # lets a changed salary account go to Crona as an update


@dataclass(frozen=True)
class Policy:
    default_winner: str = "skip"
    field_winners: Mapping[str, str] = field(default_factory=dict)
    employees: tuple[EmployeeOverride, ...] = ()
    missing_values: str = FILL
    create_in_huma: str | tuple[str, ...] = NONE  # "none", "all" or work emails
    create_in_crona: str | tuple[str, ...] = NONE
    # Real-time pushes (`push_huma_changes`) only: a `users-create` webhook of a Huma-only user creates the
    # employee in Crona. The full sync ignores it (create_in_crona decides there).
    auto_create_in_crona: bool = False
    never_clear: bool = True
    hold_bank_account_changes: bool = True
    map_country_names: bool = False
    max_update_share: float = 0.2
    max_creates: int = 50
    approve_mass_change: bool = False
    quarantine_warn_share: float = 0.05
    quarantine_error_share: float = 0.25
    # Employees a system listed but whose record could not be read are left out of the sync; above this share
    # of the listed ones the extraction's check fails the run (an outage, not a few bad records).
    max_unreadable_share: float = 0.02

    def override(self, email: str) -> EmployeeOverride | None:
        return self._overrides().get(email)

    def _overrides(self) -> dict[str, EmployeeOverride]:
        cached = self.__dict__.get("_by_email")
        if cached is None:
            cached = {o.email: o for o in self.employees}
            object.__setattr__(self, "_by_email", cached)
        return cached

    def winner(self, email: str, field_name: str) -> tuple[str, str]:
        """(winner, the rule that chose it) for one employee's field."""
        o = self.override(email)
        if o is not None and field_name in o.fields:
            return o.fields[field_name], f"employees[{email}].fields.{field_name}"
        if o is not None and o.winner is not None:
            return o.winner, f"employees[{email}].winner"
        if field_name in self.field_winners:
            return self.field_winners[field_name], f"field_winners.{field_name}"
        return self.default_winner, "default_winner"

    def creates(self, target: str, email: str) -> tuple[bool, str]:
        """(whether a one-sided employee is to be created in ``target``, the rule)."""
        option = f"create_in_{target}"
        selection = getattr(self, option)
        if selection == ALL:
            return True, f"{option}: all"
        if selection == NONE:
            return False, f"{option}: none"
        return email in selection, f"{option}: list"

    def bank_change_approved(self, email: str) -> bool:
        o = self.override(email)
        return o is not None and o.approve_bank_account_change

    def to_mapping(self) -> dict[str, Any]:
        data = asdict(self)
        data["field_winners"] = dict(self.field_winners)
        data["employees"] = [{**asdict(o), "fields": dict(o.fields)} for o in self.employees]
        for option in ("create_in_huma", "create_in_crona"):
            value = getattr(self, option)
            data[option] = value if isinstance(value, str) else list(value)
        return data


# --- reading --------------------------------------------------------------------------------------


def _winner(value: Any, where: str) -> str:
    if value not in WINNERS:
        raise PolicyError(f"{where}: {value!r} is not a winner; use one of {', '.join(WINNERS)}")
    return value


def _field_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: expected a mapping of field name to winner")
    out = {}
    for name, winner in value.items():
        if name not in BY_NAME:
            raise PolicyError(f"{where}: unknown field {name!r}; the synced fields are {', '.join(FIELD_NAMES)}")
        out[name] = _winner(winner, f"{where}.{name}")
    return out


def _email(value: Any, where: str) -> str:
    if not isinstance(value, str) or "@" not in value:
        raise PolicyError(f"{where}: {value!r} is not a work email")
    return " ".join(value.split()).lower()


def _selection(value: Any, where: str) -> str | tuple[str, ...]:
    if value is None:
        return NONE
    if isinstance(value, str):
        if value.strip().lower() in (ALL, NONE):
            return value.strip().lower()
        raise PolicyError(f"{where}: use 'none', 'all' or a list of work emails")
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and isinstance(value[0], str) and value[0].strip().lower() in (ALL, NONE):
            return value[0].strip().lower()  # the Dagster launchpad writes lists only
        return tuple(sorted({_email(v, f"{where}[{i}]") for i, v in enumerate(value)}))
    raise PolicyError(f"{where}: use 'none', 'all' or a list of work emails")


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{where}: expected true or false, got {value!r}")
    return value


def _share(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise PolicyError(f"{where}: expected a share from 0 to 1, got {value!r}")
    return float(value)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"{where}: expected a whole number of 0 or more, got {value!r}")
    return value


def _override(value: Any, where: str) -> EmployeeOverride:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: expected a mapping with email, winner, fields, approve_bank_account_change")
    known = {f.name for f in fields(EmployeeOverride)}
    unknown = set(value) - known
    if unknown:
        raise PolicyError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    winner = value.get("winner")
    return EmployeeOverride(
        email=_email(value.get("email"), f"{where}.email"),
        winner=None if winner is None else _winner(winner, f"{where}.winner"),
        fields=_field_map(value.get("fields"), f"{where}.fields"),
        approve_bank_account_change=_boolean(value.get("approve_bank_account_change", False),
                                             f"{where}.approve_bank_account_change"),
    )


_READERS = {
    "default_winner": _winner,
    "field_winners": _field_map,
    "missing_values": None,
    "create_in_huma": _selection,
    "create_in_crona": _selection,
    "auto_create_in_crona": _boolean,
    "never_clear": _boolean,
    "hold_bank_account_changes": _boolean,
    "map_country_names": _boolean,
    "max_update_share": _share,
    "max_creates": _count,
    "approve_mass_change": _boolean,
    "quarantine_warn_share": _share,
    "quarantine_error_share": _share,
    "max_unreadable_share": _share,
}


def policy_from_mapping(data: Mapping[str, Any] | None) -> Policy:
    """A `Policy` from plain data (parsed YAML or Dagster config); unset options take their defaults."""
    data = dict(data or {})
    known = {f.name for f in fields(Policy)}
    unknown = set(data) - known
    if unknown:
        raise PolicyError(f"unknown policy option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if value is None and name not in ("field_winners", "employees", "create_in_huma", "create_in_crona"):
            continue
        if name == "employees":
            if not isinstance(value, (list, tuple)):
                raise PolicyError("employees: expected a list of per-employee overrides")
            overrides = tuple(_override(v, f"employees[{i}]") for i, v in enumerate(value or ()))
            emails = [o.email for o in overrides]
            duplicates = sorted({e for e in emails if emails.count(e) > 1})
            if duplicates:
                raise PolicyError(f"employees: more than one override for {', '.join(duplicates)}")
            values[name] = overrides
        elif name == "missing_values":
            if value not in MISSING_VALUE_RULES:
                raise PolicyError(f"missing_values: {value!r}; use one of {', '.join(MISSING_VALUE_RULES)}")
            values[name] = value
        else:
            values[name] = _READERS[name](value, name)
    policy = Policy(**values)
    if policy.quarantine_warn_share > policy.quarantine_error_share:
        raise PolicyError("quarantine_warn_share must not be above quarantine_error_share")
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read a policy YAML file; an empty file is the default policy."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise PolicyError(f"policy file {path} is not valid YAML: {error}") from None
    if data is not None and not isinstance(data, Mapping):
        raise PolicyError(f"policy file {path}: expected a mapping of options at the top level")
    return policy_from_mapping(data)
