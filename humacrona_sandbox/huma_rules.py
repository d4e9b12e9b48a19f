"""The field rules of Huma's write API, as the sandbox enforces them (pure functions, no state).

Each ``parse_*`` function takes a decoded JSON request body and returns the values to store, keyed by
the Open API's own field names, or raises :class:`InvalidFields` listing every offending field. Rules
that need other records (uniqueness, existing job titles and groups) live in ``huma_state``.

Decisions where the OpenAPI document is silent (where Huma's behaviour is unknown, the sandbox takes the
stricter reading, so a client that works against it also works against Huma):

- A key that is absent leaves the stored value unchanged; JSON ``null`` or an empty string clears an
  optional field. ``givenName``, ``familyName`` and ``email`` (and on a position ``contractStartDate``,
  ``contractType`` and ``titleId``) cannot be cleared: null, empty or blank answers 400
  ``field:required``.
- ``homeAddress`` needs all six keys of AddressUpdateInput; ``line2`` and ``line3`` may be empty (or
  null, as Huma's Java backend reads it), ``line1``, ``postalCode`` and ``city`` may not.
- Keys the schema does not declare answer 400 ``field:unsupported`` instead of being ignored, so a typo
  in a client is caught against the sandbox; so do the few declared inputs the sandbox does not model
  (``custom`` fields).
- ``fields`` names nested keys with dots (``homeAddress.country``, ``bankAccount.number``).
- Error codes: ``field:invalid-format`` (type, syntax, enum, length, country code),
  ``field:required``, ``field:not-unique``, ``field:not-found`` (a referenced job title, group or
  supervisor does not exist), ``field:invalid-value`` (a well-formed value that breaks a rule, such as
  an end date before the start date), ``field:unsupported``. When one answer mixes codes, its
  ``errorCode`` is ``field:invalid-format``.
- Email: one ``@``, no spaces, a dot in the domain, at most 255 characters. Phone: digits with an
  optional leading ``+`` and the separators `` -()./``, 5 to 15 digits. Two phones are the same number
  when they normalise to the same E.164 number (Swedish numbering plan by default), so
  ``+46 70-123 45 67``, ``+46701234567`` and ``070-123 45 67`` collide. Work email and employment ID
  are compared ignoring case and surrounding spaces; job-title names also ignoring repeated spaces.
- Bank accounts: Huma does not check Swedish clearing or account check digits, and the sandbox checks
  neither those nor IBAN/BIC shape; it only requires the keys of the chosen ``type`` and an ISO 3166-1
  alpha-2 ``country`` on a national account.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

import phonenumbers
import pycountry

from .countries import is_alpha2

INVALID_FORMAT = "field:invalid-format"
REQUIRED = "field:required"
NOT_UNIQUE = "field:not-unique"
NOT_FOUND = "field:not-found"
INVALID_VALUE = "field:invalid-value"
UNSUPPORTED = "field:unsupported"

CONTRACT_TYPES = (
    "Permanent", "Temporary", "Seasonal", "Casual", "Trainee", "JobTrainingProgram",
    "Consultant", "Freelance", "ThirdParty", "Other",
)
END_REASONS = (
    "change_in_organization_or_internal_job_transfer", "employee_resigned", "employee_terminated",
    "temporary_contract_or_position_ended", "change_in_payroll_system_or_accountant", "other",
)
CIVIL_STATUSES = ("Married", "Relationship", "Single")
ADDRESS_KEYS = ("line1", "line2", "line3", "postalCode", "city", "country")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DEFAULT_PHONE_REGION = "SE"


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str
    message: str


class InvalidFields(Exception):
    """A 400: one or more fields break a rule. Rendered as InvalidFieldFormatResponse."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__(self.message)

    @classmethod
    def one(cls, field: str, code: str, message: str) -> InvalidFields:
        return cls([FieldProblem(field, code, message)])

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(p.field for p in self.problems))

    @property
    def code(self) -> str:
        codes = {p.code for p in self.problems}
        return codes.pop() if len(codes) == 1 else INVALID_FORMAT

    @property
    def message(self) -> str:
        return "; ".join(p.message for p in self.problems)


# ---------------------------------------------------------------- keys used for uniqueness


def email_key(value: str) -> str:
    return value.strip().casefold()


def employment_id_key(value: str) -> str:
    return value.strip().casefold()


def title_key(value: str) -> str:
    return " ".join(value.split()).casefold()


def phone_key(value: str) -> str:
    """The number a phone string denotes, so that different spellings of one number collide."""
    try:
        number = phonenumbers.parse(value, _DEFAULT_PHONE_REGION)
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"\D", "", value)
    return ("+" if value.strip().startswith("+") else "") + digits


# ---------------------------------------------------------------- single values


@dataclass(frozen=True)
class Spec:
    """How one input field is checked. ``required``: must be present on create and cannot be cleared."""

    kind: str
    required: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_items: int | None = None
    no_future: bool = False


def _problem(field: str, code: str, message: str) -> FieldProblem:
    return FieldProblem(field, code, message)


def _check_string(field: str, value, spec: Spec) -> FieldProblem | None:
    if not isinstance(value, str):
        return _problem(field, INVALID_FORMAT, f"{field} must be a string")
    if spec.max_length is not None and len(value) > spec.max_length:
        return _problem(field, INVALID_FORMAT, f"{field} must be at most {spec.max_length} characters")
    return None


def _parse_date(field: str, value) -> date | FieldProblem:
    if not isinstance(value, str) or not _DATE.match(value):
        return _problem(field, INVALID_FORMAT, f"{field} must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        return _problem(field, INVALID_FORMAT, f"{field} is not a valid calendar date")


def _parse_uuid(field: str, value) -> str | FieldProblem:
    if not isinstance(value, str):
        return _problem(field, INVALID_FORMAT, f"{field} must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return _problem(field, INVALID_FORMAT, f"{field} must be a UUID")


def _parse_value(field: str, value, spec: Spec):
    """The stored form of a present, non-empty value, or a FieldProblem."""
    kind = spec.kind
    if kind in ("string", "email", "phone", "country", "enum", "language"):
        problem = _check_string(field, value, spec)
        if problem:
            return problem
        if kind == "email" and not _EMAIL.match(value):
            return _problem(field, INVALID_FORMAT, f"{field} is not a valid email address")
        if kind == "phone":
            digits = sum(c.isdigit() for c in value)
            if not _PHONE.match(value.strip()) or not 5 <= digits <= 15:
                return _problem(field, INVALID_FORMAT, f"{field} is not a valid phone number")
        if kind == "country" and not is_alpha2(value):
            return _problem(field, INVALID_FORMAT, f"{field} must be an ISO 3166-1 alpha-2 country code, got {value!r}")
        if kind == "enum" and value not in spec.choices:
            return _problem(field, INVALID_FORMAT, f"{field} must be one of {', '.join(spec.choices)}")
        if kind == "language" and pycountry.languages.get(alpha_2=value) is None:
            return _problem(field, INVALID_FORMAT, f"{field} must be an ISO 639-1 language code")
        return value
    if kind == "date":
        parsed = _parse_date(field, value)
        if isinstance(parsed, FieldProblem):
            return parsed
        if spec.no_future and parsed > date.today():
            return _problem(field, INVALID_VALUE, f"{field} cannot be in the future")
        return value
    if kind == "uuid":
        return _parse_uuid(field, value)
    if kind == "bool":
        return value if isinstance(value, bool) else _problem(field, INVALID_FORMAT, f"{field} must be true or false")
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            return _problem(field, INVALID_FORMAT, f"{field} must be an integer")
        if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
            return _problem(field, INVALID_FORMAT, f"{field} must be between {spec.minimum} and {spec.maximum}")
        return value
    if kind in ("strings", "uuids"):
        if not isinstance(value, list):
            return _problem(field, INVALID_FORMAT, f"{field} must be an array")
        if spec.max_items is not None and len(value) > spec.max_items:
            return _problem(field, INVALID_FORMAT, f"{field} holds at most {spec.max_items} items")
        out = []
        for item in value:
            parsed = _parse_uuid(field, item) if kind == "uuids" else (
                item if isinstance(item, str) else _problem(field, INVALID_FORMAT, f"{field} items must be strings"))
            if isinstance(parsed, FieldProblem):
                return parsed
            if parsed in out:
                return _problem(field, INVALID_FORMAT, f"{field} items must be unique")
            out.append(parsed)
        return out
    if kind in ("address", "bankAccount"):
        return (_parse_address if kind == "address" else _parse_bank_account)(field, value)
    raise AssertionError(f"unknown field kind {kind}")


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_fields(payload, specs: dict[str, Spec], *, partial: bool, unsupported: dict[str, str] | None = None,
                 prefix: str = "") -> dict:
    """Check ``payload`` against ``specs``. On create (``partial=False``) a missing required field is an
    error and blank optional ones are dropped; on update (``partial=True``) absent keys are left out of
    the result and a blank optional one maps to None (clear it)."""
    if not isinstance(payload, dict):
        raise InvalidFields.one(prefix.rstrip(".") or "body", INVALID_FORMAT, "the request body must be a JSON object")
    problems: list[FieldProblem] = []
    out: dict = {}
    for key in payload:
        if key not in specs:
            why = (unsupported or {}).get(key, "is not a field of this request")
            problems.append(_problem(prefix + key, UNSUPPORTED, f"{prefix + key} {why}"))
    for key, spec in specs.items():
        field = prefix + key
        if key not in payload:
            if spec.required and not partial:
                problems.append(_problem(field, REQUIRED, f"{field} is required"))
            continue
        value = payload[key]
        if value is None or (_is_blank(value) and spec.kind not in ("strings", "uuids")):
            if spec.required:
                problems.append(_problem(field, REQUIRED, f"{field} is required and cannot be empty"))
            elif partial:
                out[key] = None
            continue
        parsed = _parse_value(field, value, spec)
        if isinstance(parsed, FieldProblem):
            problems.append(parsed)
        elif isinstance(parsed, InvalidFields):
            problems.extend(parsed.problems)
        else:
            out[key] = parsed
    if problems:
        raise InvalidFields(problems)
    return out


# ---------------------------------------------------------------- nested objects

_ADDRESS_SPECS = {
    "line1": Spec("string", required=True, max_length=255),
    "line2": Spec("string", max_length=255),
    "line3": Spec("string", max_length=255),
    "postalCode": Spec("string", required=True, max_length=255),
    "city": Spec("string", required=True, max_length=255),
    "country": Spec("country", required=True, max_length=2),
}


def _parse_address(field: str, value) -> dict | FieldProblem | InvalidFields:
    """AddressUpdateInput: all six keys must be present (line2/line3 may be empty or null)."""
    if not isinstance(value, dict):
        return _problem(field, INVALID_FORMAT, f"{field} must be an object")
    missing = [_problem(f"{field}.{k}", REQUIRED, f"{field}.{k} is required") for k in ADDRESS_KEYS if k not in value]
    try:
        parsed = parse_fields(value, _ADDRESS_SPECS, partial=False, prefix=f"{field}.")
    except InvalidFields as exc:
        return InvalidFields(missing + [p for p in exc.problems if p.field not in {m.field for m in missing}])
    if missing:
        return InvalidFields(missing)
    return {k: parsed[k] for k in ADDRESS_KEYS if parsed.get(k) is not None}


_BANK_SPECS = {
    "national": {
        "type": Spec("string", required=True),
        "number": Spec("string", required=True, max_length=255),
        "country": Spec("country", required=True, max_length=2),
    },
    "international": {
        "type": Spec("string", required=True),
        "iban": Spec("string", required=True, max_length=255),
        "bic": Spec("string", required=True, max_length=255),
    },
}


def _parse_bank_account(field: str, value) -> dict | FieldProblem | InvalidFields:
    if not isinstance(value, dict):
        return _problem(field, INVALID_FORMAT, f"{field} must be an object")
    kind = value.get("type")
    if kind not in _BANK_SPECS:
        return _problem(f"{field}.type", INVALID_FORMAT, f"{field}.type must be 'national' or 'international'")
    try:
        return parse_fields(value, _BANK_SPECS[kind], partial=False, prefix=f"{field}.")
    except InvalidFields as exc:
        return exc


# ---------------------------------------------------------------- request bodies

USER_INPUT = {
    "givenName": Spec("string", required=True, max_length=255),
    "familyName": Spec("string", required=True, max_length=255),
    "preferredName": Spec("string", max_length=255),
    "email": Spec("email", required=True, max_length=255),
    "phone": Spec("phone", max_length=255),
    "supervisor": Spec("uuid"),
    "invite": Spec("bool"),
    "inviteSubject": Spec("string"),
    "inviteMessage": Spec("string"),
    "inviteLanguage": Spec("language"),
    "groups": Spec("uuids", required=True),
}

USER_DETAILS_INPUT = {
    "givenName": Spec("string", required=True, max_length=255),
    "familyName": Spec("string", required=True, max_length=255),
    "preferredName": Spec("string", max_length=255),
    "email": Spec("email", required=True, max_length=255),
    "phone": Spec("phone", max_length=255),
    "nationality": Spec("country", max_length=2),
    "birthDate": Spec("date", no_future=True),
    "homeAddress": Spec("address"),
    "civilStatus": Spec("enum", choices=CIVIL_STATUSES),
    "gender": Spec("string", max_length=255),
    "dietaryRequirements": Spec("string", max_length=2040),
    "interests": Spec("strings", max_items=50),
    "funfacts": Spec("string", max_length=2040),
    "bankAccount": Spec("bankAccount"),
    "supervisor": Spec("uuid"),
    "employmentId": Spec("string", max_length=255),
    "relevantExperienceInMonths": Spec("int", minimum=0, maximum=2400),
    "relevantExperienceInYears": Spec("int", minimum=0, maximum=200),
    "seniorityNote": Spec("string", max_length=10200),
    "excludeFromInsights": Spec("bool"),
    "excludeFromSurveys": Spec("bool"),
    "privateEmail": Spec("email", max_length=255),
}
_USER_DETAILS_UNSUPPORTED = {"custom": "(custom fields) is not modelled by the sandbox"}

POSITION_FIELDS = {
    "contractStartDate": Spec("date", required=True),
    "contractEndDate": Spec("date"),
    "firstDayOfWork": Spec("date"),
    "lastDayOfWork": Spec("date"),
    "contractCountry": Spec("country", max_length=2),
    "contractType": Spec("enum", required=True, choices=CONTRACT_TYPES),
    "percentage": Spec("int", minimum=0, maximum=100),
    "probationEndDate": Spec("date"),
    "titleId": Spec("uuid", required=True),
    "description": Spec("string", max_length=10200),
    "terminationNoticeDate": Spec("date"),
    "endNote": Spec("string", max_length=255),
    "endReason": Spec("enum", choices=END_REASONS),
    "wantedEnd": Spec("bool"),
    "note": Spec("string", max_length=255),
}

JOB_TITLE_INPUT = {
    "name": Spec("string", required=True, max_length=255),
    "description": Spec("string", max_length=10200),
}


def parse_user_input(payload) -> dict:
    """UserInput (POST /users)."""
    return parse_fields(payload, USER_INPUT, partial=False)


def parse_user_details_input(payload) -> dict:
    """UserDetailsInput (PATCH /users/{id}); years of experience are stored as months."""
    values = parse_fields(payload, USER_DETAILS_INPUT, partial=True, unsupported=_USER_DETAILS_UNSUPPORTED)
    if "relevantExperienceInYears" in values:
        if "relevantExperienceInMonths" in values:
            raise InvalidFields.one("relevantExperienceInYears", INVALID_VALUE,
                                    "give relevantExperienceInMonths or relevantExperienceInYears, not both")
        years = values.pop("relevantExperienceInYears")
        values["relevantExperienceInMonths"] = None if years is None else years * 12
    return values


def parse_position_create(payload) -> dict:
    """PositionCreateInput; percentage defaults to 100 as the schema says."""
    values = parse_fields(payload, POSITION_FIELDS, partial=False)
    values.setdefault("percentage", 100)
    check_position_dates(values)
    return values


def parse_position_update(payload) -> dict:
    """PositionUpdateInput: every key optional; the dates are checked again against the stored ones."""
    return parse_fields(payload, POSITION_FIELDS, partial=True)


def check_position_dates(position: dict) -> None:
    """A contract cannot end before it starts (also checked after a PATCH merges into the stored one)."""
    start, end = position.get("contractStartDate"), position.get("contractEndDate")
    if start and end and end < start:
        raise InvalidFields.one("contractEndDate", INVALID_VALUE,
                                f"contractEndDate {end} is before contractStartDate {start}")


def parse_job_title_create(payload) -> dict:
    return parse_fields(payload, JOB_TITLE_INPUT, partial=False)


def parse_job_title_update(payload) -> dict:
    return parse_fields(payload, JOB_TITLE_INPUT, partial=True)
