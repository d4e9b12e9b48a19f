"""The rules Crona Lön enforces on an employee write, as the contract in crona-api.md states them.

Kept apart from the HTTP layer so that the day the real contract is known, the rules change in one
place. Every check reports *all* broken fields at once: an HR admin fixing a record should not have to
discover the problems one round-trip at a time.

Stored data is not held to these rules: records from older Crona versions say "Sverige" in ``Land``
and carry free-text phone numbers. Only a write is checked, and only the parts of the record it touches
(plus the cross-field rules on the merged record).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from . import crona_accounts
from .countries import is_alpha2

# The employee object of crona-api.md ("Employees (anstallda)"), in the contract's order. Stated here, not
# read from the pipeline's client: the emulator is the contract the client is tested against, so the two
# lists are kept apart and tests/sandbox/test_rule_agreement.py checks that they agree.
CRONA_EMPLOYEE_FIELDS: tuple[str, ...] = (
    "AnstNr", "FoNamn", "EfNamn", "EpostArb", "EpostPriv", "Adress1", "Adress2", "PostNr", "Ort", "Land",
    "Mobil", "AnstDatum", "AvgDatum", "UtbetClearNr", "UtbetKontoNr", "Befattning", "Andrad",
)
REQUIRED_FIELDS = ("FoNamn", "EfNamn", "EpostArb")
READ_ONLY_FIELDS = ("Andrad",)
WRITABLE_FIELDS = tuple(f for f in CRONA_EMPLOYEE_FIELDS if f not in READ_ONLY_FIELDS)
EMAIL_FIELDS = ("EpostArb", "EpostPriv")
DATE_FIELDS = ("AnstDatum", "AvgDatum")
BANK_FIELDS = ("UtbetClearNr", "UtbetKontoNr")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class RuleViolations:
    """Broken rules of one write, in the order found; ``code`` is the error code Crona answers with."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    code: str = "valideringsfel"

    def add(self, field_name: str, message: str) -> None:
        self.problems.append((field_name, message))

    def __bool__(self) -> bool:
        return bool(self.problems)

    @property
    def fields(self) -> list[str]:
        seen: dict[str, None] = {}
        for name, _ in self.problems:
            seen.setdefault(name, None)
        return list(seen)

    @property
    def message(self) -> str:
        return "; ".join(f"{name}: {text}" for name, text in self.problems)


def check_anstnr(value: object) -> str | None:
    """Why ``value`` cannot be an employment number, or None. It must be addressable in a URL path."""
    if not isinstance(value, str) or not value.strip():
        return "required (a non-empty string)"
    if value != value.strip():
        return "must not start or end with whitespace"
    if "/" in value or _CONTROL.search(value):
        return "must not contain '/' or control characters"
    return None


def check_create(body: dict) -> RuleViolations:
    """Rules for ``POST /anstallda``: the body is the whole new employee."""
    problems = RuleViolations()
    reason = check_anstnr(body.get("AnstNr"))
    if reason:
        problems.add("AnstNr", reason)
    _check_shape(body, problems)
    for name in REQUIRED_FIELDS:
        if name not in body:
            problems.add(name, "required")
    _check_values(body, problems)
    merged = {name: body.get(name) for name in WRITABLE_FIELDS}
    _check_cross_field(merged, written=set(body), problems=problems)
    return problems


def check_patch(anstnr: str, current: dict, body: dict) -> RuleViolations:
    """Rules for ``PATCH /anstallda/{AnstNr}``: ``body`` holds only the fields to change.

    An ``AnstNr`` equal to the path is allowed (clients often send the whole record back); any other
    value breaks immutability and the answer's code becomes ``anstnr_immutable``.
    """
    problems = RuleViolations()
    if "AnstNr" in body and body["AnstNr"] != anstnr:
        problems.add("AnstNr", f"cannot be changed (is {anstnr!r}, the body says {body['AnstNr']!r})")
        problems.code = "anstnr_immutable"
    _check_shape(body, problems)
    _check_values(body, problems)
    changes = {k: v for k, v in body.items() if k in WRITABLE_FIELDS and k != "AnstNr"}
    merged = {**current, **changes}
    _check_cross_field(merged, written=set(changes), problems=problems)
    return problems


def _check_shape(body: dict, problems: RuleViolations) -> None:
    for name, value in body.items():
        if name not in CRONA_EMPLOYEE_FIELDS:
            problems.add(name, "unknown field")
        elif name != "AnstNr" and value is not None and not isinstance(value, str):
            problems.add(name, f"must be a string or null, not {type(value).__name__}")


def _check_values(body: dict, problems: RuleViolations) -> None:
    """Per-field rules, applied to the fields the write gives (and only to strings: types are checked)."""
    for name in REQUIRED_FIELDS:
        if name in body and (body[name] is None or (isinstance(body[name], str) and not body[name].strip())):
            problems.add(name, "required, cannot be empty")
    for name in EMAIL_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value.strip() and not _EMAIL.match(value):
            problems.add(name, f"{value!r} is not an email address")
    for name in DATE_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and parse_date(value) is None:
            problems.add(name, f"{value!r} is not a date (YYYY-MM-DD)")
    land = body.get("Land")
    if isinstance(land, str) and not is_alpha2(land):
        problems.add("Land", f"{land!r} is not an ISO 3166-1 alpha-2 country code (for example 'SE')")


def _check_cross_field(merged: dict, written: set[str], problems: RuleViolations) -> None:
    """Rules between fields, on the record as it would be after the write."""
    if written & set(DATE_FIELDS):
        start, end = parse_date(merged.get("AnstDatum")), parse_date(merged.get("AvgDatum"))
        if start and end and end < start:
            problems.add("AvgDatum", f"{merged['AvgDatum']} is before AnstDatum {merged['AnstDatum']}")
    if written & set(BANK_FIELDS):
        clearing, account = merged.get("UtbetClearNr"), merged.get("UtbetKontoNr")
        if not all(isinstance(v, str) or v is None for v in (clearing, account)):
            return  # already reported as a type error
        if clearing is None and account is None:
            return  # no salary account: allowed
        if clearing is None:
            problems.add("UtbetClearNr", "required when UtbetKontoNr is set")
        elif account is None:
            problems.add("UtbetKontoNr", "required when UtbetClearNr is set")
        else:
            result = crona_accounts.check(clearing, account)
            if not result.valid:
                reason = result.reason or "not a valid Swedish bank account"
                problems.add("UtbetClearNr", f"not a valid Swedish bank account together with UtbetKontoNr: {reason}")
                problems.add("UtbetKontoNr", reason)


def parse_date(value: object) -> date | None:
    if not isinstance(value, str) or not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


# --- Andrad: the change timestamp -------------------------------------------------------------------


def parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp as a UTC datetime; a timestamp without offset is taken as UTC."""
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # "+01:00" arrives as " 01:00" when a client forgets to URL-encode the query string.
        if " " in text and "+" not in text:
            head, _, tail = text.rpartition(" ")
            try:
                parsed = datetime.fromisoformat(f"{head}+{tail}")
            except ValueError:
                return None
        else:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """Crona's ``Andrad`` form: UTC, milliseconds, "Z" (for example 2025-03-01T08:15:02.123Z)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ChangeClock:
    """Hands out ``Andrad`` values that strictly increase, one millisecond apart at least.

    Two changes in the same millisecond would otherwise share a timestamp, and a client that resumes
    with ``andradEfter=<the last Andrad it saw>`` would miss the second one.
    """

    STEP = timedelta(milliseconds=1)

    def __init__(self) -> None:
        self._last: datetime | None = None

    def observe(self, moment: datetime) -> None:
        if self._last is None or moment > self._last:
            self._last = moment

    def next(self) -> datetime:
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._last is not None and now <= self._last:
            now = self._last.replace(microsecond=self._last.microsecond // 1000 * 1000) + self.STEP
        self._last = now
        return now
