"""`connectors.problems.classify`: which API errors mean the connection itself is wrong, and the one line each
gives (system, cause, variable to fix); everything about one call's data is left to the caller."""

from __future__ import annotations

import pickle

import pytest

from humacrona_pipeline.connectors import crona, huma
from humacrona_pipeline.connectors.http import (
    ApiError,
    AuthenticationError,
    ForbiddenError,
    NoAnswerError,
    NotFoundError,
    RequestRejectedError,
    ServerError,
    error_class,
)
from humacrona_pipeline.connectors.problems import (
    CREDENTIALS_REFUSED,
    NOT_THE_API,
    PERMISSION_MISSING,
    TLS_FAILURE,
    UNAVAILABLE,
    UNREACHABLE,
    ConnectionProblem,
    classify,
)

HUMA_URL, CRONA_URL = "https://openapi.humahr.com", "https://crona.example.se"


def test_403_is_its_own_error_class():
    assert error_class(403) is ForbiddenError


@pytest.mark.parametrize(("error", "kind", "line"), [
    (AuthenticationError("Huma", 401, "POST", huma.TOKEN_PATH, code="invalid_client", message="Bad client credentials",
                         base_url=HUMA_URL), CREDENTIALS_REFUSED,
     "Huma: the client credentials were refused (HUMA_CLIENT_ID / HUMA_CLIENT_SECRET): invalid_client: Bad client "
     "credentials"),
    (AuthenticationError("Crona", 401, "POST", crona.TOKEN_PATH, code="ogiltig_aktiveringskod", base_url=CRONA_URL),
     CREDENTIALS_REFUSED, "Crona Lön: the Aktiveringskod was refused (CRONA_ACTIVATION_CODE): ogiltig_aktiveringskod"),
    (ForbiddenError("Huma", 403, "GET", "/users", code="Forbidden", message="Access Denied", base_url=HUMA_URL),
     PERMISSION_MISSING, "Huma: the API key (HUMA_CLIENT_ID) lacks a permission the sync needs: GET /users answered "
     "HTTP 403 Forbidden: Access Denied (give it read and write access to users, positions, job titles and groups "
     "in Huma → System settings → Open API)"),
    (NoAnswerError("Crona", None, "POST", crona.TOKEN_PATH, code="ConnectError", message="connection refused",
                    base_url=CRONA_URL), UNREACHABLE,
     f"Crona Lön: cannot connect to {CRONA_URL}: connection refused (CRONA_BASE_URL)"),
    (NoAnswerError("Huma", None, "GET", "/users", code="ConnectError",
                    message="[Errno -2] Name or service not known", base_url=HUMA_URL), UNREACHABLE,
     f"Huma: cannot connect to {HUMA_URL}: the host name does not resolve (DNS: [Errno -2] Name or service not known)"
     " (HUMA_BASE_URL)"),
    (NoAnswerError("Huma", None, "POST", huma.TOKEN_PATH, code="ConnectError",
                    message="[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
                            "(_ssl.c:1006)", base_url=HUMA_URL), TLS_FAILURE,
     f"Huma: TLS failure connecting to {HUMA_URL}: certificate verify failed: self-signed certificate (HUMA_BASE_URL)"),
    (NotFoundError("Huma", 404, "POST", huma.TOKEN_PATH, base_url=CRONA_URL), NOT_THE_API,
     f"Huma: {CRONA_URL} does not answer as the Huma API: POST /auth/oauth/token answered HTTP 404 (HUMA_BASE_URL)"),
    (ServerError("Crona", 503, "POST", crona.TOKEN_PATH, attempts=6, base_url=CRONA_URL), UNAVAILABLE,
     f"Crona Lön: the service at {CRONA_URL} is unavailable: POST /api/v1/auth/token answered HTTP 503 after 6 "
     "attempts (CRONA_BASE_URL; try again later)"),
])
def test_connection_problems_read_as_one_line(error, kind, line):
    problem = classify(error)
    assert problem.kind == kind and str(problem) == line
    assert pickle.loads(pickle.dumps(problem)).line == line  # across Dagster's process boundary


@pytest.mark.parametrize("error", [
    NotFoundError("Crona", 404, "GET", "/api/v1/anstallda/17"),
    RequestRejectedError("Huma", 400, "PATCH", "/users/x", code="field:invalid-value"),
    ServerError("Huma", 500, "GET", "/users/x"),
    ApiError("Elsewhere", 401, "GET", "/x"),
    ValueError("not an API error"),
])
def test_errors_about_one_call_are_not_connection_problems(error):
    assert classify(error) is None


def test_a_problem_is_itself():
    problem = ConnectionProblem("huma", "something", kind=UNREACHABLE)
    assert classify(problem) is problem and str(problem) == "Huma: something"


def test_an_api_error_keeps_its_base_url_across_pickling():
    error = NoAnswerError("Huma", None, "GET", "/users", code="ConnectError", base_url=HUMA_URL)
    assert pickle.loads(pickle.dumps(error)).base_url == HUMA_URL
