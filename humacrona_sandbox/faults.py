"""Fault injection for the sandboxes: the failures real services show, on demand and reproducibly.

A share of requests (``rate``) is answered with one of: 500, 503, 429 with ``Retry-After``, a slow
response, or a dropped connection. A dropped connection is the nasty kind: the request *is* handled
(a write is applied) and then the connection is cut before the answer, exactly the case that makes a
blind retry of a create dangerous. Paths under ``exempt_prefixes`` (the sandboxes' admin endpoints)
are never faulted.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

FAULT_KINDS = ("500", "503", "429", "slow", "drop")

ErrorBody = Callable[[int, str], dict]


@dataclass
class FaultConfig:
    rate: float = 0.0
    latency_ms: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_s: float = 1.5
    retry_after_s: int = 1
    seed: int | None = None
    exempt_prefixes: tuple[str, ...] = ("/_sandbox",)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {self.rate}")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")


class FaultInjector:
    """ASGI middleware; ``error_body(status, path)`` renders an error in the wrapped API's own shape."""

    def __init__(self, app, config: FaultConfig, error_body: ErrorBody):
        self.app = app
        self.config = config
        self.error_body = error_body
        self._rng = random.Random(config.seed)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(self.config.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        cfg = self.config
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)
        if not cfg.rate or self._rng.random() >= cfg.rate:
            await self.app(scope, receive, send)
            return
        kind = self._rng.choice(cfg.kinds)
        cfg.counts[kind] = cfg.counts.get(kind, 0) + 1
        if kind == "slow":
            await asyncio.sleep(cfg.slow_s)
            await self.app(scope, receive, send)
        elif kind == "drop":
            await self._handle_then_drop(scope, receive, send)
        else:
            status = int(kind) if kind != "429" else 429
            headers = [(b"content-type", b"application/json")]
            if status in (429, 503):
                headers.append((b"retry-after", str(cfg.retry_after_s).encode()))
            body = json.dumps(self.error_body(status, scope["path"])).encode()
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    async def _handle_then_drop(self, scope, receive, send):
        async def swallow(message):
            return None

        await self.app(scope, receive, swallow)
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is None:  # not under uvicorn: the closest we can do is an empty 502
            await send({"type": "http.response.start", "status": 502, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        transport.abort()
        await asyncio.sleep(0)  # let the server notice the disconnect; its send() is a no-op after


def json_error(status: int, body: dict, headers: dict | None = None):
    """Small helper the apps share for their own error answers."""
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status, headers=headers)
