"""One employee's operations while they are written: the plan rows taken in, grouped by employee, finished
with a status and an error text scrubbed of bank accounts, and handed back as outcome rows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from ...core.bank_accounts import mask
from ...core.display import present
from ...core.fields import SYSTEM_NAMES
from ...core.normalise import bank_account_split
from ...core.outcomes import FAILED, OUTCOME_COLUMNS, SKIPPED, empty_outcomes
from ...core.plan import CREATE, HELD, PLAN_COLUMNS, UPDATE
from ..http import ApiError


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clean(value: object) -> object:
    """None for pandas' blanks (NaN, NA); the value otherwise."""
    return value if present(value) else None


class Scrubber:
    """Removes every bank account of the operations from a text (an API's error message may echo it)."""

    def __init__(self, rows: Iterable[dict]):
        patterns = set()
        for row in rows:
            if row["field"] != "bank_account":
                continue
            for value in (row["current_value"], row["new_value"]):
                if isinstance(value, str) and value.strip():
                    _, account = bank_account_split(value.strip())
                    digits = re.sub(r"\D", "", account or value)
                    if len(digits) >= 4:
                        patterns.add(digits)
        # Digits in any grouping ("630 414 670-4"): each digit may be followed by a separator.
        self._patterns = [re.compile(r"[\s.,-]?".join(map(re.escape, d))) for d in
                          sorted(patterns, key=len, reverse=True)]

    def __call__(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(lambda m: mask(m.group(0)), text)
        return text


@dataclass
class Employee:
    email: str
    rows: list[dict]
    scrub: Scrubber = field(init=False)

    def __post_init__(self) -> None:
        self.scrub = Scrubber(self.rows)

    def pending(self, *actions: str) -> list[dict]:
        return [r for r in self.rows if r["status"] is None and (not actions or r["action"] in actions)]

    def finish(self, rows: Iterable[dict], status: str, error: str | None = None,
               created_id: str | None = None) -> None:
        at = now()
        text = self.scrub(error) if error else None
        for row in rows:
            row.update(status=status, error=text, at=at)
            if created_id is not None:
                row["created_id"] = created_id

    def fail(self, rows: Iterable[dict], exc: BaseException | str) -> None:
        self.finish(rows, FAILED, error_text(exc))

    def skip(self, rows: Iterable[dict], reason: str) -> None:
        self.finish(rows, SKIPPED, reason)


def error_text(exc: BaseException | str) -> str:
    if isinstance(exc, str):
        return exc
    text = " ".join(str(exc).split())
    if isinstance(exc, ApiError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def plan_rows(operations: pd.DataFrame, target: str) -> list[dict]:
    missing = [c for c in PLAN_COLUMNS if c not in operations.columns]
    if missing:
        raise ValueError(f"the operations lack the plan columns {missing}")
    rows = []
    for record in operations[list(PLAN_COLUMNS)].to_dict("records"):
        row = {c: clean(record[c]) for c in PLAN_COLUMNS}
        if row["target"] != target:
            raise ValueError(f"an operation for {row['target']!r} was given to the {SYSTEM_NAMES[target]} "
                             f"write-back; pass each target's operations separately (apply_plan selects them)")
        if row["action"] not in (CREATE, UPDATE, HELD):
            raise ValueError(f"unknown action {row['action']!r}")
        row.update(status=None, error=None, at=None, created_id=None)
        rows.append(row)
    return rows


def by_employee(rows: list[dict]) -> list[Employee]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["employee"], []).append(row)
    return [Employee(email, group) for email, group in groups.items()]


def outcome_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_outcomes()
    return pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS), dtype=object)


def new_values(rows: Iterable[dict]) -> dict[str, object]:
    return {r["field"]: r["new_value"] for r in rows}
