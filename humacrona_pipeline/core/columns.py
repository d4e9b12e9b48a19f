"""What each column of the pipeline's tables means, for Dagster's column schema.

A column named after a synced field (and a raw column a field is read from) is described by the field
table (`core.fields`); the few other columns of the canonical, quarantine, match, conflict, plan and outcome
tables (`CANONICAL_COLUMNS`, `QUARANTINE_COLUMNS`, `MATCH_COLUMNS`, `CONFLICT_COLUMNS`, `PLAN_COLUMNS`,
`NOT_PLANNED_COLUMNS`, `OUTCOME_COLUMNS`) by `COLUMN_DESCRIPTIONS` below."""

from __future__ import annotations

from .fields import BY_NAME, CRONA, FIELDS, RECORD_ID_COLUMN, SIDES, SYSTEM_NAMES

_CRONA_ID = f"the Crona {RECORD_ID_COLUMN[CRONA]}"
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "record_id": f"The record's id in its system: the Huma user id, or {_CRONA_ID}.",
    "side": "The system the record comes from: huma or crona.",
    "employee": "The employee's work email, the key both systems are matched by.",
    "field": "The synced field concerned.",
    "value": "The value that may not be synced (a bank account as its last four digits).",
    "reason": "Why, in words.",
    "effect": "What is not synced: the field for this employee, or the whole employee.",
    "status": "What became of the row: matched, huma_only, crona_only or unmatched for a match; applied, "
              "failed, skipped or unverified for an operation.",
    "huma_id": "The Huma user id.",
    "crona_id": f"{_CRONA_ID[0].upper()}{_CRONA_ID[1:]}.",
    "can_create_in_huma": "Whether this one-sided employee could be created in Huma.",
    "can_create_in_crona": "Whether this one-sided employee could be created in Crona.",
    "huma_value": "The value in Huma.",
    "crona_value": "The value in Crona.",
    "kind": "conflict (both systems hold different values), missing_in_huma or missing_in_crona.",
    "to_huma": "Whether Crona's value may be written to Huma.",
    "to_crona": "Whether Huma's value may be written to Crona.",
    "why_not_to_huma": "Why Crona's value may not be written to Huma.",
    "why_not_to_crona": "Why Huma's value may not be written to Crona.",
    "target": "The system written: huma or crona.",
    "action": "create, update, or held (a changed salary account waiting for approval).",
    "current_value": "The value the target holds now.",
    "new_value": "The value the sync writes.",
    "rule": "The policy rule that chose this write.",
    "category": "Why nothing is written: a policy decision, or a value not allowed.",
    "error": "The system's answer to a failed write, or why the operation was skipped or is unverified.",
    "at": "When the operation ended (UTC).",
    "created_id": f"The record id a create got: the Huma user id or {_CRONA_ID}.",
}

# Raw extract column -> (system name, field): the columns each field is read from.
_RAW: dict[str, tuple[str, object]] = {
    column: (SYSTEM_NAMES[side], f) for f in FIELDS for side in SIDES for column in f.columns(side)}


def describe(column: str) -> str | None:
    """The description of a column: the field table's for a field (or a raw column a field is read from),
    else `COLUMN_DESCRIPTIONS`'; None for a column nobody described."""
    if column in BY_NAME:
        return BY_NAME[column].description
    if column in COLUMN_DESCRIPTIONS:
        return COLUMN_DESCRIPTIONS[column]
    if column in _RAW:
        system, f = _RAW[column]
        return f"{system}'s column read into {f.name}: {f.description}"
    return None
