"""A connection's Huma scope: the whole organisation, or some of its companies, locations or teams (groups), as
Huma's `GET /users` filters them and as a user's record shows them. Pure Python."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.fields import HUMA, RECORD_ID_COLUMN

ORGANISATION, COMPANIES, LOCATIONS, TEAMS = "organisation", "companies", "locations", "teams"
SCOPE_KINDS = (COMPANIES, LOCATIONS, TEAMS)
# Huma's `GET /users` query parameter per scope (OpenAPI 1.53.2: `company`, `location` and `team`, each an array
# of group UUIDs, at most 25, sent repeated: `?company=a&company=b`). The same word is a group's `type`; the scope's
# own name is the property that lists a user's groups of that kind (`User.companies`, `UserDetails.companies`).
QUERY_PARAMETER = {COMPANIES: "company", LOCATIONS: "location", TEAMS: "team"}
MAX_SCOPE_IDS = 25
_ID = RECORD_ID_COLUMN[HUMA]  # the id property of a Huma object: a user's, and a group's alike


def group_ids(user: Mapping[str, Any], kind: str) -> set[str]:
    """The ids (lower case) of a user's groups of one kind: its `companies`/`locations`/`teams` property, bare on a
    list item and wrapped in `{value, editable}` in `UserDetails`; else its `groups` of that `type`."""
    groups = user.get(kind)
    if isinstance(groups, Mapping):
        groups = groups.get("value")
    if groups is None:
        wanted = QUERY_PARAMETER[kind]
        every = user.get("groups")
        every = every.get("value") if isinstance(every, Mapping) else every
        groups = [g for g in every or () if isinstance(g, Mapping) and g.get("type") == wanted]
    return {str(g[_ID]).strip().lower() for g in groups if isinstance(g, Mapping) and g.get(_ID)}


def scope_filter(kind: str, ids: Iterable[str]) -> dict[str, list[str]] | None:
    """The query parameters of Huma's `GET /users` that list only this scope's users (None: everybody)."""
    return None if kind == ORGANISATION else {QUERY_PARAMETER[kind]: list(ids)}


def in_scope(user: Mapping[str, Any], kind: str, ids: Iterable[str]) -> bool:
    """Whether a Huma user (a `GET /users` item or a `GET /users/{id}` `UserDetails`) belongs to the scope: the
    guard that keeps a connection from writing anybody else's employee. Fails closed: a user whose groups are not
    in the record (a webhook's body, a flattened row) is outside every limited scope."""
    return kind == ORGANISATION or not group_ids(user, kind).isdisjoint(i.lower() for i in ids)


def shown_outside(user: Mapping[str, Any], kind: str, ids: Iterable[str]) -> bool:
    """Whether a listed user's own record shows groups of the scope's kind, none of them in the scope: Huma listed
    them despite the filter. A record without those groups is not shown outside: the filter itself listed them."""
    shown = group_ids(user, kind) if kind != ORGANISATION else set()
    return bool(shown) and shown.isdisjoint(i.lower() for i in ids)


def creates_refused(kind: str, ids: tuple[str, ...] | list[str]) -> str | None:
    """Why a connection of this scope creates nobody in Huma, or None: a new user joins one group, and only a scope
    of one company names the group that keeps them inside it (else the next sync would not list them)."""
    if kind == ORGANISATION or (kind == COMPANIES and len(ids) == 1):
        return None
    return (f"this connection's Huma scope is {len(ids)} {kind}: a user created in Huma would not be inside it; "
            "create them in Huma by hand, or scope the connection to one company")


__all__ = ["COMPANIES", "LOCATIONS", "MAX_SCOPE_IDS", "ORGANISATION", "QUERY_PARAMETER", "SCOPE_KINDS", "TEAMS",
           "creates_refused", "group_ids", "in_scope", "scope_filter", "shown_outside"]
