"""Connection problems: a misconfiguration that stops a whole system from being used (no variable, refused
credentials, a base URL that does not answer, a certificate that fails verification, a key without a
permission), as ONE line naming the system, the cause and the variable to fix.

An `ApiError` says what one call got; `classify` decides, once for every caller (the CLI, `humacrona
check`, the Dagster steps), whether it means the connection itself is wrong. Anything else (a 404 on one
employee, a refused value) is not a connection problem and is left to the caller. Never a secret in a line:
ApiError messages hold none, and variables are named, never shown (base URLs are not secret)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..connection.variables import BASE_URLS, CREDENTIALS, CRONA, DISPLAY_NAMES, HUMA, of_system
from ..connection.variables import problem_line as variables_problem

if TYPE_CHECKING:  # the HTTP clients (httpx) are imported by `classify`, not by whoever only names a problem
    from .http import ApiError

NOT_CONFIGURED = "not_configured"
CREDENTIALS_REFUSED = "credentials_refused"
PERMISSION_MISSING = "permission_missing"
UNREACHABLE = "unreachable"
TLS_FAILURE = "tls_failure"
NOT_THE_API = "not_the_api"
UNAVAILABLE = "unavailable"

_CREDENTIAL_WORDS = {HUMA: "the client credentials were refused", CRONA: "the Aktiveringskod was refused"}
# (what holds the permissions, where an administrator gives them)
_PERMISSION = {
    HUMA: ("the API key", "give it read and write access to users, positions, job titles and groups in Huma →"
                          " System settings → Open API"),
    CRONA: ("the API-koppling", "check it in Crona Lön → Inställningar → Kopplingar"),
}
_SSL = re.compile(r"\[SSL(?:: [A-Z_]+)?\]\s*(.*?)\s*(?:\(_ssl\.c:\d+\))?$")


class ConnectionProblem(Exception):
    """Why a system cannot be used with this configuration. `str()` is the one line: "<system>: <cause>"."""

    def __init__(self, system: str, cause: str, *, kind: str, variables: Sequence[str] = ()):
        self.system = system  # connection.variables.HUMA or CRONA
        self.cause = " ".join(cause.split())
        self.kind = kind
        self.variables = tuple(variables)
        super().__init__(f"{DISPLAY_NAMES[system]}: {self.cause}")

    @property
    def line(self) -> str:
        return str(self)

    def __reduce__(self):  # picklable across Dagster's process boundary
        return (_rebuild, (self.system, self.cause, self.kind, self.variables))


def _rebuild(system: str, cause: str, kind: str, variables: tuple[str, ...]) -> ConnectionProblem:
    return ConnectionProblem(system, cause, kind=kind, variables=variables)


def not_configured(system: str, values: dict[str, str | None]) -> ConnectionProblem | None:
    """The system's variables that are missing or malformed, as a problem; None when they are fine."""
    names = tuple(v.name for v in of_system(system))
    line = variables_problem(values, names)
    if line is None:
        return None
    return ConnectionProblem(system, line, kind=NOT_CONFIGURED, variables=names)


def _api_words(error: ApiError) -> str:
    return " ".join(": ".join(part for part in (error.code, error.message) if part).split())


def _transport_reason(error: ApiError) -> tuple[str, bool]:
    """(what went wrong, whether it is TLS) from a transport error's message."""
    text = (error.message or error.code or "").strip()
    ssl_match = _SSL.search(text)
    if ssl_match or "certificate" in text.lower():
        return (ssl_match.group(1) if ssl_match and ssl_match.group(1) else text), True
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused", False
    if "name or service not known" in lowered or "nodename nor servname" in lowered \
            or "name resolution" in lowered or "getaddrinfo" in lowered:
        return f"the host name does not resolve (DNS: {text})", False
    if error.code == "ConnectTimeout" or "timed out" in lowered:
        return "the connection timed out", False
    return text or "no answer", False


def classify(error: BaseException) -> ConnectionProblem | None:
    """The connection problem ``error`` means, or None when it is about one call's data, not the connection."""
    from . import crona as crona_api
    from . import huma as huma_api
    from .http import ApiError, AuthenticationError, ForbiddenError, NoAnswerError

    if isinstance(error, ConnectionProblem):
        return error
    if not isinstance(error, ApiError):
        return None
    # ApiError.system (the clients' names) -> the connection's system key, and the calls that get a token
    system = {huma_api.SYSTEM: HUMA, crona_api.SYSTEM: CRONA}.get(error.system)
    if system is None:
        return None
    token_paths = {HUMA: (huma_api.TOKEN_PATH,), CRONA: (crona_api.TOKEN_PATH, crona_api.REFRESH_PATH)}[system]
    url_variable, credentials = BASE_URLS[system], CREDENTIALS[system]
    where = error.base_url or "the base URL"
    call = f"{error.method} {error.path}"
    token_call = error.path in token_paths
    said = _api_words(error)
    if isinstance(error, AuthenticationError):
        named = " / ".join(credentials)
        if token_call:
            cause = f"{_CREDENTIAL_WORDS[system]} ({named})"
        else:
            cause = f"a freshly obtained access token was refused by {call} ({named})"
        return ConnectionProblem(system, cause + (f": {said}" if said else ""), kind=CREDENTIALS_REFUSED,
                                 variables=credentials)
    if isinstance(error, ForbiddenError):
        holder, remedy = _PERMISSION[system]
        cause = (f"{holder} ({credentials[0]}) lacks a permission the sync needs: {call} answered HTTP 403"
                 + (f" {said}" if said else "") + f" ({remedy})")
        return ConnectionProblem(system, cause, kind=PERMISSION_MISSING, variables=credentials)
    if isinstance(error, NoAnswerError) and (token_call or error.code in ("ConnectError", "ConnectTimeout")):
        reason, tls = _transport_reason(error)
        if tls:
            return ConnectionProblem(system, f"TLS failure connecting to {where}: {reason} ({url_variable})",
                                     kind=TLS_FAILURE, variables=(url_variable,))
        return ConnectionProblem(system, f"cannot connect to {where}: {reason} ({url_variable})", kind=UNREACHABLE,
                                 variables=(url_variable,))
    if token_call and error.status is not None:
        answered = f"{call} answered HTTP {error.status}" + (f" {said}" if said else "")
        if error.status >= 500 or error.status == 429:
            attempts = f" after {error.attempts} attempts" if error.attempts > 1 else ""
            return ConnectionProblem(system, f"the service at {where} is unavailable: {answered}{attempts}"
                                     f" ({url_variable}; try again later)", kind=UNAVAILABLE,
                                     variables=(url_variable,))
        return ConnectionProblem(system, f"{where} does not answer as the {DISPLAY_NAMES[system]} API: {answered}"
                                 f" ({url_variable})", kind=NOT_THE_API, variables=(url_variable,))
    return None


__all__ = ["CREDENTIALS_REFUSED", "ConnectionProblem", "NOT_CONFIGURED", "NOT_THE_API", "PERMISSION_MISSING",
           "TLS_FAILURE", "UNAVAILABLE", "UNREACHABLE", "classify", "not_configured"]
