"""HTTP machinery shared by the Huma and Crona clients, one concern per module: typed `errors`, the `retry`
policy, `tokens` that renew themselves, the `session` that applies them to every call, `concurrency`
bounds, `paging` that notices a list changing under it, and the `client` base class. It knows nothing about
either API (no paths, no field names, no error shapes).

Importing it imports httpx: modules the code location loads import it at first use, not at load."""

from __future__ import annotations

from .client import SessionClient
from .concurrency import run_bounded
from .credentials import Secret
from .errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    ErrorDetails,
    ForbiddenError,
    ListingChangedError,
    NoAnswerError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    error_class,
)
from .paging import Page, collect_pages
from .retry import RetryPolicy, parse_retry_after
from .tokens import AccessToken, TokenManager

__all__ = [
    "AccessToken",
    "ApiError",
    "AuthenticationError",
    "ConflictError",
    "ErrorDetails",
    "ForbiddenError",
    "ListingChangedError",
    "NoAnswerError",
    "NotFoundError",
    "Page",
    "RateLimitedError",
    "RequestRejectedError",
    "RetryPolicy",
    "Secret",
    "ServerError",
    "SessionClient",
    "TokenManager",
    "collect_pages",
    "error_class",
    "parse_retry_after",
    "run_bounded",
]
