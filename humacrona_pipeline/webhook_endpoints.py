"""The webhook receiver's per-connection endpoints (issue 14): the path each connection's webhooks are posted to,
the inbox and secret behind it, and the configuration check that refuses a receiver anyone could post to. Apart
from the receiver (`webhook`) so that what a connection's endpoint *is* can be read on its own."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from .connection.connections import CONNECTIONS_FILE_ENV
from .state.inbox import Inbox
from .webhook_options import SECRET_ENV, TOKEN_ENV

log = logging.getLogger("humacrona_pipeline.webhook")  # the receiver's one logger, whichever module logs

PATH = "/huma/webhook"
DEFAULT_PATHS = (PATH, "/")  # today's paths: the default connection's when there is no connections file
HEALTH_PATH = "/healthz"


class InsecureConfiguration(ValueError):
    """Neither a client secret nor an access token, and no explicit consent to run without either."""


def connection_path(name: str) -> str:
    """Where a connection's webhooks are posted (and registered in Huma)."""
    return f"{PATH}/{name}"


@dataclass(frozen=True)
class Endpoint:
    """One connection's webhooks: the inbox they are stored in (its connection is the path's name), the secret
    they are signed with (None: none; never in the repr) and the variable it comes from (for messages)."""

    inbox: Inbox
    secret: str | None = field(default=None, repr=False)
    secret_env: str | None = None

    @property
    def name(self) -> str:
        return self.inbox.connection

    @property
    def path(self) -> str:
        return connection_path(self.name)


def blank_to_none(value: str | None) -> str | None:
    """A secret or token as configured: surrounding whitespace (a trailing newline) removed, empty is none."""
    value = (value or "").strip()
    return value or None


def unguarded(endpoints: Sequence[Endpoint], token: str | None) -> list[Endpoint]:
    """The endpoints anyone could post to: neither their secret nor the receiver's token is set."""
    return [e for e in endpoints if e.secret is None and token is None]


def _insecure(endpoints: Sequence[Endpoint], open_: Sequence[Endpoint]) -> InsecureConfiguration:
    """Why the receiver is refused, naming the variable(s) to set: today's for the one `default` connection."""
    if [e.name for e in endpoints] == [e.name for e in open_] == ["default"]:
        return InsecureConfiguration(
            f"no client secret ({open_[0].secret_env or SECRET_ENV}) and no access token ({TOKEN_ENV}) "
            "configured: anyone could post events; set one or both (and the same in Huma), or pass "
            "allow_no_auth / --insecure-no-auth")
    which = "; ".join(f"{e.name} ({e.secret_env + ' is not set' if e.secret_env else 'no webhook_secret_env'})"
                      for e in open_)
    return InsecureConfiguration(
        f"no client secret for the connection(s) {which}, and no access token ({TOKEN_ENV}) configured: anyone "
        f"could post their events; give each a webhook_secret_env in {CONNECTIONS_FILE_ENV} and set it (and "
        "the same in Huma), or set the token, or pass allow_no_auth / --insecure-no-auth")


def check_configuration(endpoints: Sequence[Endpoint], token: str | None, max_body_bytes: int,
                        allow_no_auth: bool) -> None:
    """Refuse a receiver with a path anyone could post to (unless allowed), two paths for one connection, or
    one that could store no body."""
    names = [e.name for e in endpoints]
    if not names:
        raise ValueError("a receiver needs at least one connection")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"connections named more than once: {', '.join(twice)}")
    open_ = unguarded(endpoints, token)
    if open_ and not allow_no_auth:
        raise _insecure(endpoints, open_)
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be at least 1")
    for e in open_:
        log.warning("webhook receiver running WITHOUT authentication for connection %s: every delivery to %s is "
                    "accepted", e.name, e.path)
