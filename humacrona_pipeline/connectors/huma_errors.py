"""Huma's error answers: what `connectors.http` reports of a refused call (code, message, the fields named),
and the one refusal the write-back acts on, a value another record already holds."""

from __future__ import annotations

from typing import Any

from .http import ApiError, ErrorDetails


def parse_huma_error(status: int, body: Any) -> ErrorDetails:
    """Huma's error bodies: `{errorCode, errorMessage, fields}` (400), `{errorCode, errorMessage,
    interpolations}` (404), `{error, error_description}` (401) and `{timestamp, status, error,
    message, path}` (500)."""
    if not isinstance(body, dict):
        return ErrorDetails()
    if "errorCode" in body or "errorMessage" in body:
        message = _text(body.get("errorMessage"))
        interpolations = body.get("interpolations")
        if isinstance(interpolations, dict) and interpolations:
            detail = ", ".join(f"{k} {v}" for k, v in interpolations.items())
            message = f"{message} ({detail})" if message else detail
        fields = body.get("fields") or ()
        if isinstance(fields, str):
            fields = (fields,)
        return ErrorDetails(_text(body.get("errorCode")), message, tuple(str(f) for f in fields))
    if "error_description" in body:
        return ErrorDetails(_text(body.get("error")), _text(body.get("error_description")))
    if "message" in body:
        return ErrorDetails(_text(body.get("error")), _text(body.get("message")))
    if "error" in body:
        return ErrorDetails(_text(body.get("error")))
    return ErrorDetails()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def is_not_unique(error: ApiError, field_name: str) -> bool:
    """Whether Huma refused a write because another record already holds ``field_name`` (e.g. "email")."""
    return error.status == 400 and error.code == "field:not-unique" and field_name in error.fields
