"""Stored Huma documents and errors rendered exactly in the shapes of Huma's OpenAPI 1.53.2 document.

Detail views wrap most fields as ``{"value": ..., "editable": bool}`` (FieldString, LocalDateField,
...). An unset field is rendered as ``{"editable": true}`` without ``value``: the schemas type values
as non-null, and a client can tell "no value" from "field not offered". The deprecated employment
fields of UserDetails (employmentStartDate, employmentEndDate, jobTitle, ...) are read-only copies of
the user's main position (see ``HumaDirectory.main_position``), so they are ``editable: false``.

A national bank account's ``code`` (required by the BankAccount schema, not described anywhere) is
rendered as the account's type, ``"national"`` or ``"international"``; clients should not rely on it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from http import HTTPStatus

from .huma_rules import InvalidFields
from .huma_state import CURRENT, HumaDirectory, position_status


def field(value=None, editable: bool = True) -> dict:
    return {"value": value, "editable": editable} if value is not None else {"editable": editable}


# ---------------------------------------------------------------- small objects


def job_title(doc: dict) -> dict:
    """JobTitle."""
    out = {"id": doc["id"], "name": doc["name"]}
    if doc.get("description"):
        out["description"] = doc["description"]
    return out


def job_title_summary(doc: dict) -> dict:
    return {"id": doc["id"], "name": doc["name"]}


def group(doc: dict) -> dict:
    """Group / Company / Location / Team as embedded in users and listed by GET /groups."""
    out = {"id": doc["id"], "name": doc["name"], "type": doc["type"]}
    for key in ("organizationNumber", "address"):
        if doc.get(key):
            out[key] = doc[key]
    return out


def bank_account(stored: dict) -> dict:
    out = {"type": stored["type"], "code": stored["type"]}
    keys = ("number", "country") if stored["type"] == "national" else ("iban", "bic")
    out.update({k: stored[k] for k in keys})
    return out


def _groups_of(d: HumaDirectory, doc: dict) -> list[dict]:
    return [group(d.groups[g]) for g in doc.get("groups", ()) if g in d.groups]


def _status(doc: dict) -> dict:
    return {"active": doc.get("active", True)}


# ---------------------------------------------------------------- users


def user_item(d: HumaDirectory, doc: dict) -> dict:
    """User: the flat list item of GET /users and the answer of POST /users."""
    groups = _groups_of(d, doc)
    out = {"id": doc["id"], "givenName": doc["givenName"], "familyName": doc["familyName"]}
    if doc.get("preferredName"):
        out["preferredName"] = doc["preferredName"]
    out["email"] = doc["email"]
    if doc.get("phone"):
        out["phone"] = doc["phone"]
    titles = d.current_titles(doc["id"])
    out["jobTitles"] = [job_title_summary(t) for t in titles]
    if titles:
        out["jobTitle"] = job_title_summary(titles[0])
    out["teams"] = [g for g in groups if g["type"] == "team"]
    out["locations"] = [g for g in groups if g["type"] == "location"]
    out["companies"] = [g for g in groups if g["type"] == "company"]
    out["groups"] = groups
    out["type"] = "user"
    out["status"] = _status(doc)
    return out


def simple_user(d: HumaDirectory, doc: dict) -> dict:
    """SimpleUser (a supervisor as shown on a subordinate)."""
    out = {"id": doc["id"], "givenName": doc["givenName"], "familyName": doc["familyName"], "email": doc["email"]}
    if doc.get("phone"):
        out["phone"] = doc["phone"]
    out["jobTitles"] = [job_title_summary(t) for t in d.current_titles(doc["id"])]
    out["type"] = "user"
    out["status"] = _status(doc)
    return out


_DETAIL_STRINGS = (
    "givenName", "familyName", "preferredName", "phone", "gender", "nationality", "privateEmail",
    "dietaryRequirements", "funfacts", "employmentId", "seniorityNote",
)


def user_details(d: HumaDirectory, doc: dict, today: date | None = None) -> dict:
    """UserDetails (GET and PATCH /users/{id})."""
    today = today or date.today()
    groups = _groups_of(d, doc)
    out: dict = {"id": doc["id"]}
    for key in _DETAIL_STRINGS:
        out[key] = field(doc.get(key))
    out["email"] = {"value": doc["email"], "editable": True}
    out["birthDate"] = field(doc.get("birthDate"))
    out["homeAddress"] = field(doc.get("homeAddress"))
    out["civilStatus"] = field(doc.get("civilStatus"))
    out["interests"] = field(doc.get("interests", []))
    out["relevantExperienceInMonths"] = field(doc.get("relevantExperienceInMonths"))
    out["excludeFromInsights"] = field(doc.get("excludeFromInsights", False))
    out["excludeFromSurveys"] = field(doc.get("excludeFromSurveys", False))
    out["bankAccount"] = field(bank_account(doc["bankAccount"]) if doc.get("bankAccount") else None)
    supervisor = d.users.get(doc.get("supervisor") or "")
    out["supervisor"] = field(simple_user(d, supervisor) if supervisor else None)
    out["subordinatesCount"] = d.subordinates_count(doc["id"])
    out["teams"] = field([g for g in groups if g["type"] == "team"])
    out["locations"] = field([g for g in groups if g["type"] == "location"])
    out["companies"] = field([g for g in groups if g["type"] == "company"])
    out["groups"] = field(groups)

    positions = d.positions_of(doc["id"])
    main = d.main_position(doc["id"])
    main_title = d.job_titles.get((main or {}).get("titleId") or "")
    out["jobTitle"] = field(job_title(main_title) if main_title else None, editable=False)
    out["jobTitles"] = [job_title(t) for t in d.current_titles(doc["id"])]
    for target, source in (
        ("employmentStartDate", "contractStartDate"), ("employmentEndDate", "contractEndDate"),
        ("firstDayOfWork", "firstDayOfWork"), ("lastDayOfWork", "lastDayOfWork"),
        ("terminationNoticeDate", "terminationNoticeDate"), ("probationEndDate", "probationEndDate"),
    ):
        out[target] = field((main or {}).get(source), editable=False)
    out["employmentType"] = field((main or {}).get("contractType"), editable=False)
    out["employmentPercentage"] = field((main or {}).get("percentage"), editable=False)
    starts = [p["contractStartDate"] for p in positions if p.get("contractStartDate")]
    out["firstContractStartDate"] = field(min(starts) if starts else None, editable=False)
    out["currentPositions"] = [position_summary(d, p, today) for p in positions if position_status(p, today) == CURRENT]
    if doc.get("invitedAt"):
        out["invitedAt"] = doc["invitedAt"]
    out["status"] = _status(doc)
    out["type"] = "user"
    return out


# ---------------------------------------------------------------- positions


def _months_between(start: str, end: str) -> int:
    a, b = date.fromisoformat(start), date.fromisoformat(end)
    months = (b.year - a.year) * 12 + (b.month - a.month) - (1 if b.day < a.day else 0)
    return max(0, months)


def position_summary(d: HumaDirectory, doc: dict, today: date | None = None) -> dict:
    """PositionSummary (GET /users/{userId}/positions, UserDetails.currentPositions)."""
    today = today or date.today()
    out: dict = {"id": doc["id"]}
    title = d.job_titles.get(doc.get("titleId") or "")
    if title:
        out["title"] = job_title(title)
    for key in ("description", "contractStartDate", "contractEndDate"):
        if doc.get(key):
            out[key] = doc[key]
    if doc.get("contractStartDate"):
        until = min(doc.get("contractEndDate") or today.isoformat(), today.isoformat())
        out["periodInMonths"] = (_months_between(doc["contractStartDate"], until)
                                 if until >= doc["contractStartDate"] else 0)
    for key in ("percentage", "contractType"):
        if doc.get(key) is not None:
            out[key] = doc[key]
    out["status"] = position_status(doc, today)
    return out


_POSITION_WRAPPED = (
    "contractStartDate", "contractEndDate", "firstDayOfWork", "lastDayOfWork", "contractCountry",
    "contractType", "percentage", "terminationNoticeDate", "probationEndDate",
)


def position(d: HumaDirectory, doc: dict, today: date | None = None) -> dict:
    """Position (GET/POST/PATCH of one position): every field wrapped."""
    out: dict = {"id": doc["id"]}
    for key in _POSITION_WRAPPED:
        out[key] = field(doc.get(key))
    title = d.job_titles.get(doc.get("titleId") or "")
    out["title"] = field(job_title(title) if title else None)
    for key in ("description", "endNote", "endReason", "wantedEnd", "note"):
        out[key] = field(doc.get(key))
    out["status"] = position_status(doc, today)
    return out


# ---------------------------------------------------------------- groups and pages


def group_details(d: HumaDirectory, doc: dict) -> dict:
    """GroupDetails (GET /groups/{id}) with its members as User items."""
    out = {"id": doc["id"], "name": doc["name"], "members": [user_item(d, u) for u in d.members(doc["id"])]}
    if doc.get("description"):
        out["description"] = doc["description"]
    return out


def page(items: list, total: int, filters: dict, meta: dict) -> dict:
    """PageUser / PagePositionSummary / PageGroup."""
    return {"total": total, "items": items, "filters": filters, "meta": meta}


# ---------------------------------------------------------------- errors


def invalid_fields(exc: InvalidFields) -> dict:
    """InvalidFieldFormatResponse (400)."""
    return {"errorCode": exc.code, "errorMessage": exc.message, "fields": exc.fields}


def not_found(kind: str, object_id: str) -> dict:
    """NotFoundErrorResponse (404)."""
    return {
        "errorCode": "object:not-found",
        "errorMessage": f"{kind} not found",
        "interpolations": {"type": kind, "id": object_id},
    }


def invalid_token(error: str, description: str) -> dict:
    """InvalidTokenResponse (401): ``invalid_token`` for API calls, ``invalid_client`` for bad credentials."""
    return {"error": error, "error_description": description}


def server_error(status: int, path: str, message: str | None = None) -> dict:
    """StandardServerErrorResponse (500, and the sandbox's injected 503 and 429). The spec types
    ``status`` as an HttpResponse object, whose readable part is its ``statusLine``."""
    reason = HTTPStatus(status).phrase
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "status": {"statusLine": {"statusCode": status, "reasonPhrase": reason}},
        "error": reason,
        "message": message or reason,
        "path": path,
    }
