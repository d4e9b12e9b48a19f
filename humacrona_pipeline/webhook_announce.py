"""What `humacrona webhook` prints for its operator: the warning when a path is open to anyone, and, once it
serves, what each connection's deliveries must carry, where they are stored, the URL(s) to register in Huma,
then READY. Never a secret or the token: only which of them is required, and the variable it comes from."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Sequence

from .connection.connections import CONNECTIONS_FILE_ENV
from .terminal import say as _say
from .webhook_delivery import SIGNATURE_HEADER
from .webhook_endpoints import HEALTH_PATH, PATH, Endpoint, unguarded


def _checks(secret: str | None, token: str | None) -> str:
    """What a connection's deliveries must carry, in words (never the secret or the token)."""
    checks = [name for name, on in ((f"client secret ({SIGNATURE_HEADER})", secret),
                                    ("access token (Authorization: Bearer)", token)) if on]
    return " and ".join(checks) if checks else "NOTHING (insecure)"


def warn_unguarded(endpoints: Sequence[Endpoint], token: str | None, from_file: bool) -> None:
    """On stderr, when ``--insecure-no-auth`` left a path open: which connection(s) anyone can post for."""
    names = [e.name for e in unguarded(endpoints, token)]
    if names and not from_file:
        _say("WARNING: --insecure-no-auth: NO client secret and NO access token; anyone who can reach this port"
             " can post events. Never run it so in production.", err=True)
    elif names:
        _say(f"WARNING: --insecure-no-auth: NO client secret and NO access token for the connection(s) "
             f"{', '.join(names)}; anyone who can reach this port can post their events. Never run it so in "
             "production.", err=True)


def _base_url(listen_host: str, port: int) -> str:
    """The receiver's URL as Huma reaches it: this machine's name when it listens on every address."""
    host = socket.gethostname() if listen_host in ("", "0.0.0.0", "::") else listen_host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def _say_requirements(args: argparse.Namespace, endpoints: Sequence[Endpoint], token: str | None,
                      shown_url: str, from_file: bool) -> None:
    """The paths served, what each connection's deliveries must carry and where they are stored."""
    if from_file:
        _say(f"# Huma webhook receiver: POST {PATH}/<connection> for {len(endpoints)} connection(s) of "
             f"{CONNECTIONS_FILE_ENV}, GET {HEALTH_PATH}; bodies up to {args.max_body_bytes} bytes")
        _say(f"# events stored in {shown_url}, each in its connection's inbox")
        for e in endpoints:
            source = f", from {e.secret_env}" if e.secret and e.secret_env else ""
            _say(f"# connection {e.name}: required: {_checks(e.secret, token)}{source}")
    else:
        (only,) = endpoints
        _say(f"# Huma webhook receiver: POST {PATH} (and /, and {only.path}), GET {HEALTH_PATH}; bodies up to "
             f"{args.max_body_bytes} bytes")
        _say(f"# required: {_checks(only.secret, token)}; events stored in {shown_url}")


def _say_urls(base: str, endpoints: Sequence[Endpoint], from_file: bool) -> None:
    """The URL(s) to register in Huma: today's one (``WEBHOOK_URL=``), or one ``WEBHOOK_URL[<name>]=`` line per
    connection of the connections file, each to be registered with that connection's client secret."""
    if from_file:
        _say("# Register each connection's URL in Huma (Huma must reach it: put it behind HTTPS when it is public),"
             " with that connection's client secret and/or the access token:")
        for e in endpoints:
            _say(f"WEBHOOK_URL[{e.name}]={base}{e.path}")
    else:
        _say("# Register this URL in Huma (Huma must reach it: put it behind HTTPS when it is public), with the"
             " same client secret and/or access token:")
        _say(f"WEBHOOK_URL={base}{PATH}")


def announce(args: argparse.Namespace, port: int, endpoints: Sequence[Endpoint], token: str | None,
             shown_url: str, missing: list[str], from_file: bool) -> None:
    """What the receiver requires and where it stores, who starts the pushes, the URL(s) to register in Huma,
    then READY (what a supervisor or test waits for)."""
    _say_requirements(args, endpoints, token, shown_url, from_file)
    _say("# pushes: started by this receiver as soon as an event is stored (huma_changes_sensor: the backstop)"
         if not missing
         else f"# pushes: by the huma_changes_sensor (to start them at once, set here {', '.join(missing)})")
    _say_urls(_base_url(args.host, port), endpoints, from_file)
    _say("READY")
