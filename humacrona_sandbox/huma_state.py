"""Huma's records (users, positions, job titles, groups) and the rules that span records.

Documents live in the :class:`Store` (written through to SQLite with a data dir) and are mirrored here
in memory with the indexes that keep every lookup O(1): email, phone and employment ID to user, job
title name to job title, positions by user, subordinates by supervisor. The indexes are rebuilt from
the store on start, so a restarted sandbox enforces the same uniqueness as before.

Every mutation checks first and writes second (store, then mirror and indexes), in one synchronous
block: the sandbox runs on one event loop and never awaits in the middle of a change. The API handlers
and (later) the sandbox's own admin endpoints share these methods, so both obey the same rules.

Stored documents use the Open API's field names. Imported data may hold what the write API would
refuse (a position without a title), and is rendered as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime

from .countries import is_alpha2
from .huma_rules import (
    INVALID_VALUE,
    NOT_FOUND,
    NOT_UNIQUE,
    POSITION_FIELDS,
    USER_DETAILS_INPUT,
    FieldProblem,
    InvalidFields,
    check_position_dates,
    email_key,
    employment_id_key,
    phone_key,
    title_key,
)
from .store import Store

USERS, POSITIONS, JOB_TITLES, GROUPS = "users", "positions", "job_titles", "groups"

CURRENT, ENDED, UPCOMING = "CURRENT", "ENDED", "UPCOMING"

# Fixed namespace so a seed always yields the same job-title and group ids (reproducible runs).
_SEED_NAMESPACE = uuid.UUID("0b6f1e52-3d7a-4c9e-8f21-6a4d2c9b7e10")


class NotFound(Exception):
    """A 404: the object named in the path does not exist."""

    def __init__(self, kind: str, object_id: str):
        self.kind = kind
        self.object_id = object_id
        super().__init__(f"{kind} {object_id} not found")


class SeedError(ValueError):
    """Seed data that Huma could never hold (duplicate identities, non-ISO countries, ...)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def position_status(position: dict, today: date | None = None) -> str:
    """UPCOMING before the contract starts, ENDED after its end date, CURRENT in between."""
    today_s = (today or date.today()).isoformat()
    start, end = position.get("contractStartDate"), position.get("contractEndDate")
    if start and start > today_s:
        return UPCOMING
    if end and end < today_s:
        return ENDED
    return CURRENT


class HumaDirectory:
    def __init__(self, store: Store):
        self.store = store
        self.users: dict[str, dict] = {d["id"]: d for d in store.values(USERS)}
        self.positions: dict[str, dict] = {d["id"]: d for d in store.values(POSITIONS)}
        self.job_titles: dict[str, dict] = {d["id"]: d for d in store.values(JOB_TITLES)}
        self.groups: dict[str, dict] = {d["id"]: d for d in store.values(GROUPS)}
        self._by_email: dict[str, str] = {}
        self._by_phone: dict[str, str] = {}
        self._by_employment_id: dict[str, str] = {}
        self._subordinates: dict[str, set[str]] = {}
        for doc in self.users.values():
            self._index_user(doc)
        self._positions_by_user: dict[str, list[str]] = {}
        for doc in self.positions.values():
            self._positions_by_user.setdefault(doc["userId"], []).append(doc["id"])
        self._title_by_name = {title_key(t["name"]): t["id"] for t in self.job_titles.values()}

    # ------------------------------------------------------------ indexes

    def _identity_indexes(self):
        return (
            ("email", self._by_email, email_key),
            ("phone", self._by_phone, phone_key),
            ("employmentId", self._by_employment_id, employment_id_key),
        )

    def _index_user(self, doc: dict) -> None:
        for field, index, key in self._identity_indexes():
            if doc.get(field):
                index[key(doc[field])] = doc["id"]
        if doc.get("supervisor"):
            self._subordinates.setdefault(doc["supervisor"], set()).add(doc["id"])

    def _unindex_user(self, doc: dict) -> None:
        for field, index, key in self._identity_indexes():
            if doc.get(field) and index.get(key(doc[field])) == doc["id"]:
                del index[key(doc[field])]
        if doc.get("supervisor"):
            self._subordinates.get(doc["supervisor"], set()).discard(doc["id"])

    def _check_unique(self, values: dict, user_id: str | None) -> list[FieldProblem]:
        problems = []
        for field, index, key in self._identity_indexes():
            value = values.get(field)
            if value:
                owner = index.get(key(value))
                if owner is not None and owner != user_id:
                    problems.append(FieldProblem(field, NOT_UNIQUE,
                                                 f"{field} {value!r} is already used by another user"))
        return problems

    def _check_supervisor(self, supervisor: str | None, user_id: str | None) -> list[FieldProblem]:
        if not supervisor:
            return []
        if supervisor not in self.users:
            return [FieldProblem("supervisor", NOT_FOUND, f"supervisor {supervisor} is not a user")]
        seen, current = set(), supervisor
        while current and current not in seen:
            if current == user_id:
                return [FieldProblem("supervisor", INVALID_VALUE, "a user cannot be their own (indirect) supervisor")]
            seen.add(current)
            current = self.users.get(current, {}).get("supervisor")
        return []

    # ------------------------------------------------------------ users

    def user(self, user_id: str) -> dict:
        doc = self.users.get(user_id)
        if doc is None:
            raise NotFound("User", user_id)
        return doc

    def subordinates_count(self, user_id: str) -> int:
        return len(self._subordinates.get(user_id, ()))

    def create_user(self, values: dict) -> dict:
        """POST /users with checked UserInput values."""
        problems = self._check_unique(values, None) + self._check_supervisor(values.get("supervisor"), None)
        problems += [FieldProblem("groups", NOT_FOUND, f"group {g} does not exist")
                     for g in values["groups"] if g not in self.groups]
        if problems:
            raise InvalidFields(problems)
        doc = {"id": str(uuid.uuid4())}
        doc.update({k: v for k, v in values.items() if not k.startswith("invite")})
        doc.update(active=True, createdAt=_now())
        if values.get("invite"):
            doc["invitedAt"] = doc["createdAt"]
            doc["invitation"] = {k: values[k] for k in ("inviteSubject", "inviteMessage", "inviteLanguage")
                                 if k in values}
        self.store.put(USERS, doc["id"], doc)
        self.users[doc["id"]] = doc
        self._index_user(doc)
        return doc

    def update_user(self, user_id: str, changes: dict) -> dict:
        """PATCH /users/{id} with checked UserDetailsInput values (None clears)."""
        old = self.user(user_id)
        problems = self._check_unique(changes, user_id) + self._check_supervisor(changes.get("supervisor"), user_id)
        if problems:
            raise InvalidFields(problems)
        new = dict(old)
        for key, value in changes.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        self.store.put(USERS, user_id, new)
        self._unindex_user(old)
        self.users[user_id] = new
        self._index_user(new)
        return new

    def search_users(self, *, search: str | None = None, ids: list[str] | None = None,
                     exclude_ids: list[str] | None = None, job_title_ids: list[str] | None = None,
                     group_ids: list[list[str]] | None = None, active: bool | None = None,
                     supervisor: str | None = None, is_supervisor: bool | None = None,
                     descending: bool = False) -> list[dict]:
        """Users matching every given filter, in insertion order (stable paging). ``group_ids`` holds
        one list per group filter (company, team, location); a user must be in one group of each."""
        if ids is not None:
            candidates: Iterable[dict] = (self.users[i] for i in dict.fromkeys(ids) if i in self.users)
            order = {uid: n for n, uid in enumerate(self.users)}
            candidates = sorted(candidates, key=lambda d: order[d["id"]])
        else:
            candidates = self.users.values()
        needle = search.casefold().strip() if search else None
        excluded = set(exclude_ids or ())
        titles = set(job_title_ids or ())
        out = []
        for doc in candidates:
            if doc["id"] in excluded:
                continue
            if active is not None and doc.get("active", True) != active:
                continue
            if supervisor is not None and (doc.get("supervisor") or "none") != supervisor:
                continue
            if is_supervisor is not None and bool(self._subordinates.get(doc["id"])) != is_supervisor:
                continue
            if group_ids and not all(set(wanted) & set(doc.get("groups", ())) for wanted in group_ids):
                continue
            if titles and not titles & {t["id"] for t in self.current_titles(doc["id"])}:
                continue
            if needle and needle not in self._search_text(doc):
                continue
            out.append(doc)
        return out[::-1] if descending else out

    @staticmethod
    def _search_text(doc: dict) -> str:
        parts = (doc.get("givenName"), doc.get("preferredName"), doc.get("familyName"), doc.get("email"))
        name = f"{doc.get('givenName', '')} {doc.get('familyName', '')}"
        return " | ".join([name, *(p for p in parts if p)]).casefold()

    # ------------------------------------------------------------ positions

    def positions_of(self, user_id: str) -> list[dict]:
        """A user's positions, newest contract start first (ties in insertion order)."""
        docs = [self.positions[p] for p in self._positions_by_user.get(user_id, ())]
        return sorted(docs, key=lambda d: d.get("contractStartDate") or "", reverse=True)

    def current_titles(self, user_id: str) -> list[dict]:
        out: dict[str, dict] = {}
        for p in self.positions_of(user_id):
            title = self.job_titles.get(p.get("titleId") or "")
            if title and position_status(p) == CURRENT:
                out.setdefault(title["id"], title)
        return list(out.values())

    def main_position(self, user_id: str) -> dict | None:
        """The position the deprecated employment fields show: the current one that started last, else
        the next upcoming one, else the one that ended last."""
        by_status: dict[str, list[dict]] = {CURRENT: [], UPCOMING: [], ENDED: []}
        for p in self.positions_of(user_id):
            by_status[position_status(p)].append(p)
        if by_status[CURRENT]:
            return by_status[CURRENT][0]
        if by_status[UPCOMING]:
            return min(by_status[UPCOMING], key=lambda p: p["contractStartDate"])
        if by_status[ENDED]:
            return max(by_status[ENDED], key=lambda p: p.get("contractEndDate") or "")
        return None

    def position(self, user_id: str, position_id: str) -> dict:
        self.user(user_id)
        doc = self.positions.get(position_id)
        if doc is None or doc["userId"] != user_id:
            raise NotFound("Position", position_id)
        return doc

    def _check_title(self, values: dict) -> None:
        if values.get("titleId") and values["titleId"] not in self.job_titles:
            raise InvalidFields.one("titleId", NOT_FOUND, f"job title {values['titleId']} does not exist")

    def create_position(self, user_id: str, values: dict) -> dict:
        self.user(user_id)
        self._check_title(values)
        doc = {"id": str(uuid.uuid4()), "userId": user_id, **values}
        self.store.put(POSITIONS, doc["id"], doc)
        self.positions[doc["id"]] = doc
        self._positions_by_user.setdefault(user_id, []).append(doc["id"])
        return doc

    def update_position(self, user_id: str, position_id: str, changes: dict) -> dict:
        old = self.position(user_id, position_id)
        self._check_title(changes)
        new = dict(old)
        for key, value in changes.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        check_position_dates(new)
        self.store.put(POSITIONS, position_id, new)
        self.positions[position_id] = new
        return new

    def delete_position(self, user_id: str, position_id: str) -> None:
        self.position(user_id, position_id)
        self.store.delete(POSITIONS, position_id)
        del self.positions[position_id]
        self._positions_by_user[user_id].remove(position_id)

    def delete_user(self, user_id: str) -> None:
        """Remove a user, its positions and its index entries (an HR administrator's act: the API has none)."""
        doc = self.users[user_id]
        for position_id in list(self._positions_by_user.get(user_id, ())):
            self.delete_position(user_id, position_id)
        self.store.delete(USERS, user_id)
        self._unindex_user(doc)
        del self.users[user_id]
        self._positions_by_user.pop(user_id, None)
        self._subordinates.pop(user_id, None)

    # ------------------------------------------------------------ job titles

    def job_title(self, title_id: str) -> dict:
        doc = self.job_titles.get(title_id)
        if doc is None:
            raise NotFound("JobTitle", title_id)
        return doc

    def find_job_titles(self, search: str | None = None) -> list[dict]:
        """Job titles by name (case-insensitive), optionally those whose name contains ``search``."""
        needle = search.casefold().strip() if search else ""
        docs = [t for t in self.job_titles.values() if needle in t["name"].casefold()]
        return sorted(docs, key=lambda t: (t["name"].casefold(), t["id"]))

    def _check_title_name(self, name: str, title_id: str | None) -> None:
        owner = self._title_by_name.get(title_key(name))
        if owner is not None and owner != title_id:
            raise InvalidFields.one("name", NOT_UNIQUE, f"a job title named {name!r} already exists")

    def create_job_title(self, values: dict) -> dict:
        """A duplicate name (case- and space-insensitive) is refused: Huma's picker lists titles by name,
        and two titles with one name would make the name-to-id mapping of a sync ambiguous."""
        self._check_title_name(values["name"], None)
        doc = {"id": str(uuid.uuid4()), **values}
        self._put_title(doc)
        return doc

    def update_job_title(self, title_id: str, changes: dict) -> dict:
        old = self.job_title(title_id)
        if changes.get("name"):
            self._check_title_name(changes["name"], title_id)
        new = {k: v for k, v in {**old, **changes}.items() if v is not None}
        self._title_by_name.pop(title_key(old["name"]), None)
        self._put_title(new)
        return new

    def _put_title(self, doc: dict) -> None:
        self.store.put(JOB_TITLES, doc["id"], doc)
        self.job_titles[doc["id"]] = doc
        self._title_by_name[title_key(doc["name"])] = doc["id"]

    # ------------------------------------------------------------ groups

    def group(self, group_id: str) -> dict:
        doc = self.groups.get(group_id)
        if doc is None:
            raise NotFound("Group", group_id)
        return doc

    def find_groups(self, types: list[str] | None = None, search: str | None = None) -> list[dict]:
        needle = search.casefold().strip() if search else ""
        return [g for g in self.groups.values()
                if (not types or g["type"] in types) and needle in g["name"].casefold()]

    def members(self, group_id: str) -> list[dict]:
        return [u for u in self.users.values() if group_id in u.get("groups", ())]

    def company_group_id(self) -> str | None:
        return next((g["id"] for g in self.groups.values() if g["type"] == "company"), None)

    def ensure_company_group(self, name: str, organization_id: str) -> str:
        """The organisation's company group; created (with a stable id) when there is none yet."""
        existing = self.company_group_id()
        if existing:
            return existing
        doc = {"id": str(uuid.uuid5(_SEED_NAMESPACE, f"{organization_id}:company")), "name": name, "type": "company"}
        self.store.put(GROUPS, doc["id"], doc)
        self.groups[doc["id"]] = doc
        return doc["id"]

    # ------------------------------------------------------------ seed

    def load_seed(self, users: list[dict], company_group_id: str) -> None:
        """Bulk-load generated users and their positions (see ``HumaSandbox.load_seed``)."""
        problems: list[str] = []
        seen: dict[str, dict[str, str]] = {"id": {uid: uid for uid in self.users}}
        for field, index, _ in self._identity_indexes():
            seen[field] = dict(index)
        keys = {"email": email_key, "phone": phone_key, "employmentId": employment_id_key, "id": str}
        position_ids = set(self.positions)
        titles = dict(self._title_by_name)
        new_titles: list[dict] = []
        user_docs: list[dict] = []
        position_docs: list[dict] = []
        for n, raw in enumerate(users):
            who = f"seed user #{n} ({raw.get('id', 'no id')})"
            unknown = set(raw) - _SEED_USER_KEYS
            if unknown:
                problems.append(f"{who}: unknown keys {sorted(unknown)}")
            for required in ("id", "givenName", "familyName", "email"):
                if not raw.get(required):
                    problems.append(f"{who}: {required} is required")
            for field, key in keys.items():
                if raw.get(field):
                    k = key(raw[field])
                    if k in seen[field]:
                        problems.append(f"{who}: {field} {raw[field]!r} is not unique")
                    seen[field][k] = raw.get("id")
            for field in ("homeAddress", "bankAccount"):
                value = raw.get(field)
                if value and not is_alpha2(value.get("country")):
                    problems.append(f"{who}: {field}.country {value.get('country')!r} is not ISO 3166-1 alpha-2")
            doc = {k: v for k, v in raw.items() if k != "positions" and v is not None}
            if doc.get("homeAddress"):
                doc["homeAddress"] = {k: v for k, v in doc["homeAddress"].items() if v}
            doc.update(groups=[company_group_id], active=True, createdAt=_now())
            user_docs.append(doc)
            for raw_position in raw.get("positions") or ():
                position = {k: v for k, v in raw_position.items() if k != "title" and v is not None}
                unknown = set(position) - set(POSITION_FIELDS) - {"id"}
                if unknown or not position.get("id") or not position.get("contractStartDate"):
                    problems.append(f"{who}: position needs id and contractStartDate and only position fields, "
                                    f"got {sorted(raw_position)}")
                elif position["id"] in position_ids:
                    problems.append(f"{who}: position id {position['id']} is not unique")
                position_ids.add(position.get("id"))
                name = raw_position.get("title")
                if name:
                    if title_key(name) not in titles:
                        title = {"id": str(uuid.uuid5(_SEED_NAMESPACE, title_key(name))),
                                 "name": " ".join(name.split())}
                        titles[title_key(name)] = title["id"]
                        new_titles.append(title)
                    position["titleId"] = titles[title_key(name)]
                position["userId"] = raw.get("id")
                position_docs.append(position)
        if problems:
            more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
            raise SeedError("Huma seed refused: " + "; ".join(problems[:20]) + more)
        self.store.put_many(JOB_TITLES, [(t["id"], t) for t in new_titles])
        self.store.put_many(USERS, [(u["id"], u) for u in user_docs])
        self.store.put_many(POSITIONS, [(p["id"], p) for p in position_docs])
        for title in new_titles:
            self.job_titles[title["id"]] = title
            self._title_by_name[title_key(title["name"])] = title["id"]
        for doc in user_docs:
            self.users[doc["id"]] = doc
            self._index_user(doc)
        for doc in position_docs:
            self.positions[doc["id"]] = doc
            self._positions_by_user.setdefault(doc["userId"], []).append(doc["id"])


_SEED_USER_KEYS = {"id", "positions", *USER_DETAILS_INPUT} - {"relevantExperienceInYears"}
