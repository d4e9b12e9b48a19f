"""Huma's wire format: the one place besides the field table (`core.fields`) that spells Huma's property
names. A `UserDetails` and its positions become one flattened row of `HUMA_COLUMNS`; canonical values
(`core.normalise`) become the bodies of `POST /users`, `PATCH /users/{id}` and the position calls.

Which fields a create requires, the record id and the match key (work email) are the field table's facts,
read from it here; what is Huma's alone (the nested objects, the `{value, editable}` wrapper, which position
is current, the address lines not synced) is stated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from ..core import normalise as norm
from ..core.fields import (
    BY_NAME,
    FIELDS,
    HUMA,
    HUMA_IBAN_COLUMN,
    MATCH_KEY,
    RECORD_ID_COLUMN,
    REQUIRED_FOR_CREATE,
    HumaLocation,
)
from ..core.unreadable import UNREADABLE_COLUMN

# One flattened row per user, in Huma's own Open API names (nested ones dotted).
HUMA_COLUMNS: tuple[str, ...] = (
    "id",
    "givenName",
    "familyName",
    "preferredName",
    "email",
    "phone",
    "employmentId",
    "privateEmail",
    "homeAddress.line1",
    "homeAddress.line2",
    "homeAddress.line3",
    "homeAddress.postalCode",
    "homeAddress.city",
    "homeAddress.country",
    "bankAccount.type",
    "bankAccount.number",
    "bankAccount.country",
    HUMA_IBAN_COLUMN,
    "bankAccount.bic",
    "status.active",
    "position.id",
    "position.status",
    "position.contractStartDate",
    "position.contractEndDate",
    "position.title",
)
# Columns that hold a bank account (the field table's masked fields, and the IBAN Huma may hold instead of a
# number): shown masked (last four digits) wherever rows are displayed.
HUMA_MASKED_COLUMNS: tuple[str, ...] = (*(c for f in FIELDS if f.masked for c in f.huma_columns), HUMA_IBAN_COLUMN)


# The user's id (the field table's record id) and work email (its match key), as Huma names them.
USER_ID = RECORD_ID_COLUMN[HUMA]
WORK_EMAIL_PROPERTY = MATCH_KEY.huma_columns[0]
# What a page of `GET /users` gives of each user (`User`): the row of a user whose details cannot be read.
LIST_ITEM_COLUMNS: tuple[str, ...] = ("id", "givenName", "familyName", "preferredName", "email", "phone")


# ------------------------------------------------------------------------------------ rows read


def _value(field: Any) -> Any:
    """Unwrap Huma's `{value, editable}` wrapper; a wrapper without `value` means no value."""
    if isinstance(field, dict) and "editable" in field:
        return field.get("value")
    return field


def _status(position: dict, today: date) -> str | None:
    status = position.get("status")
    if status:
        return status
    # No status given: derive it from the contract dates the way Huma does.
    start = _value(position.get("contractStartDate"))
    end = _value(position.get("contractEndDate"))
    today_text = today.isoformat()
    if start and start > today_text:
        return "UPCOMING"
    if end and end < today_text:
        return "ENDED"
    return "CURRENT" if start else None


def current_position(positions: Iterable[dict], today: date | None = None) -> dict | None:
    """The position whose start date, end date and title describe the employment today.

    - a CURRENT position, the one that started last (a promotion supersedes the earlier position);
    - else an UPCOMING one, the one that starts first (a new hire not started yet);
    - else an ENDED one, the one that ended last: an employee who has left is still an employee of
      record for payroll, and that position carries the end date (AvgDatum) that must reach Crona.
    Ties are broken by id so the choice is stable. None when the user has no position."""
    today = today or date.today()
    by_status: dict[str, list[dict]] = {"CURRENT": [], "UPCOMING": [], "ENDED": []}
    for position in positions:
        status = _status(position, today)
        if status in by_status:
            by_status[status].append(position)

    def start(p: dict) -> str:
        return _value(p.get("contractStartDate")) or ""

    def end(p: dict) -> str:
        return _value(p.get("contractEndDate")) or ""

    def ident(p: dict) -> str:
        return str(p.get("id") or "")

    if by_status["CURRENT"]:
        return max(by_status["CURRENT"], key=lambda p: (start(p), ident(p)))
    if by_status["UPCOMING"]:
        return min(by_status["UPCOMING"], key=lambda p: (start(p) or "9999-12-31", ident(p)))
    if by_status["ENDED"]:
        return max(by_status["ENDED"], key=lambda p: (end(p), start(p), ident(p)))
    return None


def flatten_employee(user: dict, positions: Iterable[dict], today: date | None = None) -> dict:
    """One row (`HUMA_COLUMNS`) from a `UserDetails` and its positions: values unwrapped from
    `{value, editable}`, nested objects dotted, the position chosen by `current_position`, and the
    job title as its name."""
    address = _value(user.get("homeAddress")) or {}
    bank = _value(user.get("bankAccount")) or {}
    status = _value(user.get("status")) or {}
    position = current_position(positions, today) or {}
    title = _value(position.get("title"))
    title_name = title.get("name") if isinstance(title, dict) else title
    return {
        "id": user.get("id"),
        "givenName": _value(user.get("givenName")),
        "familyName": _value(user.get("familyName")),
        "preferredName": _value(user.get("preferredName")),
        "email": _value(user.get("email")),
        "phone": _value(user.get("phone")),
        "employmentId": _value(user.get("employmentId")),
        "privateEmail": _value(user.get("privateEmail")),
        "homeAddress.line1": address.get("line1"),
        "homeAddress.line2": address.get("line2"),
        "homeAddress.line3": address.get("line3"),
        "homeAddress.postalCode": address.get("postalCode"),
        "homeAddress.city": address.get("city"),
        "homeAddress.country": address.get("country"),
        "bankAccount.type": bank.get("type"),
        "bankAccount.number": bank.get("number"),
        "bankAccount.country": bank.get("country"),
        HUMA_IBAN_COLUMN: bank.get("iban"),
        "bankAccount.bic": bank.get("bic"),
        "status.active": status.get("active"),
        "position.id": position.get("id"),
        "position.status": _status(position, today or date.today()) if position else None,
        "position.contractStartDate": _value(position.get("contractStartDate")),
        "position.contractEndDate": _value(position.get("contractEndDate")),
        "position.title": title_name,
    }


def unreadable_row(user: dict, reason: str) -> dict:
    """The row of a user who could not be read: what the list page gave (id, names, work email, phone) and
    the reason, in `UNREADABLE_COLUMN`; everything else blank."""
    item = user if isinstance(user, dict) else {}
    try:
        row = flatten_employee({k: item.get(k) for k in LIST_ITEM_COLUMNS}, [])
    except (AttributeError, TypeError, ValueError):
        row = {column: None for column in HUMA_COLUMNS}
        row["id"] = item.get("id")
    return {**row, UNREADABLE_COLUMN: reason}


# ------------------------------------------------------------------------------------ write bodies
#
# Canonical values (core.normalise) -> Huma's write bodies. Which call writes a field follows
# `core.fields.HumaLocation`: user details, home address and bank account go into one
# `PATCH /users/{id}`; start date, end date and job title into the user's current position.

USER_CALL = "user"
POSITION_CALL = "position"
# The fields `POST /users` carries (the rest of a new user is written with PATCH afterwards): those Huma
# requires, in the field table.
CREATE_FIELDS: tuple[str, ...] = REQUIRED_FOR_CREATE[HUMA]
DEFAULT_CONTRACT_TYPE = "Permanent"  # PositionCreateInput requires one; neither system's sync fields hold it
# Crona holds only Swedish salary accounts (clearing + account), so an account written to Huma is national SE.
BANK_ACCOUNT_COUNTRY = "SE"
_POSITION_KEYS = {"start_date": "contractStartDate", "end_date": "contractEndDate"}
TITLE_ID = "titleId"  # a position's job title is written as the id of a `JobTitle`, not as its name
# Property names written for the synced fields that no row column holds.
HUMA_WRITE_NAMES: tuple[str, ...] = (TITLE_ID,)


def write_call(field_name: str) -> str:
    """`USER_CALL` or `POSITION_CALL`: the request that writes this canonical field to Huma."""
    return POSITION_CALL if BY_NAME[field_name].huma_location == HumaLocation.POSITION else USER_CALL


def bank_account_input(value: str | None) -> dict | None:
    """NationalBankAccountInput for a canonical account ("clearing account"); None clears it."""
    if value is None:
        return None
    clearing, account = norm.bank_account_split(value)
    return {"type": "national", "number": f"{clearing}-{account}", "country": BANK_ACCOUNT_COUNTRY}


def address_input(value: str | None, current: dict | None = None) -> dict | None:
    """AddressUpdateInput (all six keys) for a canonical address; None clears it. ``line2``/``line3`` are
    not synced: they are kept as the user's current address (``current``, a UserDetails) has them."""
    if value is None:
        return None
    parts = norm.address_parts(value)
    held = _value((current or {}).get("homeAddress")) or {}
    return {"line1": parts["line1"], "line2": held.get("line2") or "", "line3": held.get("line3") or "",
            "postalCode": parts["postal_code"], "city": parts["city"], "country": parts["country"]}


def user_details_body(changes: dict[str, str | None], current: dict | None = None) -> dict:
    """`PATCH /users/{id}` body (UserDetailsInput) for canonical field -> new value (None clears).
    ``current`` (the user's UserDetails) is needed to keep the address lines that are not synced."""
    body: dict = {}
    for name, value in changes.items():
        f = BY_NAME[name]
        if f.huma_location == HumaLocation.HOME_ADDRESS:
            body["homeAddress"] = address_input(value, current)
        elif f.huma_location == HumaLocation.BANK_ACCOUNT:
            body["bankAccount"] = bank_account_input(value)
        elif f.huma_location == HumaLocation.USER:
            body[f.huma_columns[0]] = value
        else:
            raise ValueError(f"{f.label} is written to the position, not to the user details")
    return body


def user_create_body(values: dict[str, str | None], group_id: str) -> dict:
    """`POST /users` body (UserInput): names, work email and the group; no invitation is sent (a sync
    must not email people). Raises ValueError naming what Huma requires and the values lack."""
    missing = [BY_NAME[n].label for n in CREATE_FIELDS if not values.get(n)]
    if missing:
        raise ValueError(f"Huma cannot create a user without {', '.join(missing)}")
    return {**{BY_NAME[n].huma_columns[0]: values[n] for n in CREATE_FIELDS}, "groups": [group_id], "invite": False}


def position_patch_body(changes: dict[str, str | None], title_id: str | None = None) -> dict:
    """`PATCH /users/{userId}/positions/{id}` body (PositionUpdateInput) for start date, end date and
    job title (None clears; the title goes as the ``title_id`` it resolved to)."""
    body: dict = {_POSITION_KEYS[n]: v for n, v in changes.items() if n in _POSITION_KEYS}
    if "job_title" in changes:
        body[TITLE_ID] = title_id
    return body


def position_create_body(changes: dict[str, str | None], title_id: str | None,
                         contract_type: str = DEFAULT_CONTRACT_TYPE) -> dict:
    """`POST /users/{userId}/positions` body (PositionCreateInput). Huma requires a start date, a
    contract type and a title: ValueError when the start date or the title is missing."""
    if not changes.get("start_date") or not title_id:
        raise ValueError("Huma needs a start date and a job title to create the user's position")
    body = position_patch_body(changes, title_id)
    body[TITLE_ID] = title_id
    body["contractType"] = contract_type
    return {k: v for k, v in body.items() if v is not None}
