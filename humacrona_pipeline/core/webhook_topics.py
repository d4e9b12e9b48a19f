"""Huma's webhook topics (huma-api.md: the body's `topic`): what a real-time push is told about a user.

Kept apart from the push's planning (`core.push`, which imports pandas) so that anything light, such as the
webhook receiver, can read them without it."""

from __future__ import annotations

USERS_CREATE, USERS_UPDATE, USERS_DELETE, USERS_EXPORT = TOPICS = (
    "users-create", "users-update", "users-delete", "users-export")
