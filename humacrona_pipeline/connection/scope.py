"""A connection's Huma scope: the whole organisation, or some of its companies, locations or teams (groups), as
Huma's `GET /users` filters them and as a user's record shows them. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
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


__all__ = ["COMPANIES", "LOCATIONS", "MAX_SCOPE_IDS", "ORGANISATION", "QUERY_PARAMETER", "SCOPE_KINDS", "TEAMS",
           "group_ids"]
