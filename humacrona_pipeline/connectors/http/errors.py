"""The errors every Huma or Crona call raises: one class per kind of failure a caller handles differently,
each one line of text with the API's own words and never a secret, and picklable across Dagster's process
boundary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetails:
    """What an API's own error body says, in the API's own words."""

    code: str | None = None
    message: str | None = None
    fields: tuple[str, ...] = ()


ErrorParser = Callable[[int, Any], ErrorDetails]


class ApiError(Exception):
    """A call to Huma or Crona failed. `str()` is one line with the API's own message, never a secret."""

    def __init__(
        self,
        system: str,
        status: int | None,
        method: str,
        path: str,
        body: Any = None,
        code: str | None = None,
        fields: Sequence[str] = (),
        *,
        message: str | None = None,
        attempts: int = 1,
        outcome_unknown: bool = False,
        retry_after_s: float | None = None,
        base_url: str | None = None,
    ):
        self.system = system
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.code = code
        self.fields = tuple(fields)
        self.message = message
        self.attempts = attempts
        self.outcome_unknown = outcome_unknown
        self.retry_after_s = retry_after_s
        self.base_url = base_url  # where the call went (connection problems name it; never holds a secret)
        super().__init__(self._summary())

    def _summary(self) -> str:
        where = f"{self.system} {self.method} {self.path}"
        what = f"HTTP {self.status}" if self.status is not None else "no answer"
        text = " ".join(part for part in (self.code, self.message) if part)
        line = f"{where}: {what}" + (f" {text}" if text else "")
        line = " ".join(line.split())  # one line, whatever the API put in its message
        if self.fields:
            line += f" (fields: {', '.join(self.fields)})"
        if self.attempts > 1:
            line += f" after {self.attempts} attempts"
        if self.outcome_unknown:
            line += "; the request may have been applied, check before repeating it"
        return line

    def converted(self, cls: type[ApiError]) -> ApiError:
        """The same failure as another error class (e.g. a refused token request as AuthenticationError)."""
        return cls(**_error_state(self))

    def __reduce__(self):  # picklable across Dagster's process boundary, whatever the subclass
        return (_rebuild_error, (type(self), _error_state(self)))


def _error_state(error: ApiError) -> dict:
    return {
        "system": error.system, "status": error.status, "method": error.method, "path": error.path,
        "body": error.body, "code": error.code, "fields": error.fields, "message": error.message,
        "attempts": error.attempts, "outcome_unknown": error.outcome_unknown,
        "retry_after_s": error.retry_after_s, "base_url": error.base_url,
    }


def _rebuild_error(cls: type[ApiError], state: dict) -> ApiError:
    return cls(**state)


class AuthenticationError(ApiError):
    """The credentials were refused, or a fresh token was still refused (401 after a renewal)."""


class ForbiddenError(ApiError):
    """403: the credentials are good but lack a permission this call needs."""


class NotFoundError(ApiError):
    """404: the object does not exist."""


class RequestRejectedError(ApiError):
    """400/409/422: the API refused the data; `code`, `fields` and `message` say why, in its words."""


class ConflictError(RequestRejectedError):
    """409: the object already exists (e.g. an AnstNr that is taken)."""


class RateLimitedError(ApiError):
    """429 on every attempt, or a Retry-After longer than the policy is willing to wait."""


class ServerError(ApiError):
    """5xx after the retries the policy allows (none for a create)."""


class NoAnswerError(ApiError):
    """No answer: the connection failed, timed out or was dropped, after the retries allowed. (Not httpx's
    ``TransportError``, which it wraps: this is the call's outcome once the retry rules gave up.)"""


class ListingChangedError(ApiError):
    """A paged list kept changing while it was read, so no consistent complete list was obtained."""


def error_class(status: int) -> type[ApiError]:
    if status == 401:
        return AuthenticationError
    if status == 403:
        return ForbiddenError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status in (400, 422):
        return RequestRejectedError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return ApiError
