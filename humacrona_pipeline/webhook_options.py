"""`humacrona webhook`'s settings and command-line options, apart from the receiver itself (`webhook`), so that
building the `humacrona` parser loads no web framework and no database."""

from __future__ import annotations

import argparse

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8703
DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB
SECRET_ENV = "HUMACRONA_WEBHOOK_SECRET"
TOKEN_ENV = "HUMACRONA_WEBHOOK_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help=f"larger deliveries are answered 413 (default {DEFAULT_MAX_BODY_BYTES})")
    parser.add_argument("--insecure-no-auth", action="store_true",
                        help=f"accept deliveries without {SECRET_ENV} or {TOKEN_ENV} set (never in production)")
