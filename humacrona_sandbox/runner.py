"""Build and serve both sandboxes: the one place that turns command-line options into running emulators.

Used by `humacrona sandbox`, `python -m humacrona_sandbox` (benchmarks start it as a separate
process), the demo and the tests."""

from __future__ import annotations

import argparse
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

# Only the defaults at import: `humacrona --help` builds these options without loading the web apps.
from .defaults import (
    DEFAULT_CRONA_ACTIVATION_CODE,
    DEFAULT_CRONA_PORT,
    DEFAULT_HUMA_CLIENT_ID,
    DEFAULT_HUMA_CLIENT_SECRET,
    DEFAULT_HUMA_PORT,
)

if TYPE_CHECKING:
    from .crona_app import CronaSandbox
    from .faults import FaultConfig
    from .huma_app import HumaSandbox
    from .seed import SeedData
    from .server import BackgroundServer


@dataclass
class SandboxOptions:
    employees: int = 200
    seed: int = 42
    huma_port: int = DEFAULT_HUMA_PORT
    crona_port: int = DEFAULT_CRONA_PORT
    data_dir: Path | None = None
    huma_client_id: str = DEFAULT_HUMA_CLIENT_ID
    huma_client_secret: str = DEFAULT_HUMA_CLIENT_SECRET
    crona_activation_code: str = DEFAULT_CRONA_ACTIVATION_CODE
    fault_rate: float = 0.0
    latency_ms: float = 0.0
    token_lifetime_s: float | None = None
    fault_seed: int | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_token: str | None = None
    webhook_signature: str = "hex"
    email_domain: str | None = None  # the seeded work addresses' domain (None: the seed's own, nordljus.se)


@dataclass
class RunningSandboxes:
    """Both emulators, started; `env` points the pipeline at them."""

    options: SandboxOptions
    huma: HumaSandbox
    crona: CronaSandbox
    seeded: SeedData | None
    servers: list[BackgroundServer] = field(default_factory=list)

    @property
    def huma_url(self) -> str:
        return self.servers[0].url

    @property
    def crona_url(self) -> str:
        return self.servers[1].url

    @property
    def env(self) -> dict[str, str]:
        return {
            "HUMA_BASE_URL": self.huma_url,
            "HUMA_CLIENT_ID": self.options.huma_client_id,
            "HUMA_CLIENT_SECRET": self.options.huma_client_secret,
            "CRONA_BASE_URL": self.crona_url,
            "CRONA_ACTIVATION_CODE": self.options.crona_activation_code,
        }

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.huma.close()  # the webhook sender's thread
        self.huma.store.close()
        self.crona.store.close()

    def __enter__(self) -> RunningSandboxes:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _faults(options: SandboxOptions, offset: int) -> FaultConfig | None:
    from .faults import FaultConfig

    if not options.fault_rate and not options.latency_ms:
        return None
    seed = None if options.fault_seed is None else options.fault_seed + offset
    return FaultConfig(rate=options.fault_rate, latency_ms=options.latency_ms, seed=seed)


def start_sandboxes(options: SandboxOptions) -> RunningSandboxes:
    """Create (or reopen, with a data dir) both sandboxes, seed them when empty, and serve them."""
    from .crona_app import CronaSandbox, CronaSandboxSettings
    from .huma_app import HumaSandbox, HumaSandboxSettings
    from .seed import generate
    from .server import BackgroundServer
    from .store import Store

    data_dir = Path(options.data_dir) if options.data_dir else None
    huma_store = Store(data_dir / "huma.sqlite" if data_dir else None)
    crona_store = Store(data_dir / "crona.sqlite" if data_dir else None)
    lifetimes = {} if options.token_lifetime_s is None else {"token_lifetime_s": options.token_lifetime_s}
    huma = HumaSandbox(
        huma_store,
        HumaSandboxSettings(
            client_id=options.huma_client_id, client_secret=options.huma_client_secret, **lifetimes
        ),
        faults=_faults(options, 0),
    )
    crona = CronaSandbox(
        crona_store,
        CronaSandboxSettings(activation_code=options.crona_activation_code, **lifetimes),
        faults=_faults(options, 1),
    )
    try:
        if options.webhook_url:
            huma.register_webhook(options.webhook_url, options.webhook_secret, options.webhook_token,
                                  options.webhook_signature)
        elif options.webhook_secret or options.webhook_token:
            raise ValueError("--webhook-secret and --webhook-token need --webhook-url")
    except ValueError:
        huma.close()
        huma_store.close()
        crona_store.close()
        raise
    seeded = None
    if huma_store.is_empty() and crona_store.is_empty():
        domain = {"email_domain": options.email_domain} if options.email_domain else {}
        seeded = generate(options.employees, seed=options.seed, **domain)
        huma.load_seed(seeded.huma_users)
        crona.load_seed(seeded.crona_employees)
    running = RunningSandboxes(options, huma, crona, seeded)
    try:
        running.servers.append(BackgroundServer(huma.app, port=options.huma_port).start())
        running.servers.append(BackgroundServer(crona.app, port=options.crona_port).start())
    except Exception:
        running.stop()
        raise
    return running


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SandboxOptions()
    parser.add_argument("--employees", type=int, default=d.employees, help="people to seed (default %(default)s)")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the generated data (default %(default)s)")
    parser.add_argument("--huma-port", type=int, default=d.huma_port,
                        help="port of the Huma sandbox on 127.0.0.1; 0 picks a free port (default %(default)s)")
    parser.add_argument("--crona-port", type=int, default=d.crona_port,
                        help="port of the Crona Lön sandbox on 127.0.0.1; 0 picks a free port (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep state here across restarts (default: in memory)")
    parser.add_argument("--huma-client-id", default=d.huma_client_id,
                        help="the client id the Huma sandbox accepts (default: a public sandbox value)")
    parser.add_argument("--huma-client-secret", default=d.huma_client_secret,
                        help="the client secret the Huma sandbox accepts (default: a public sandbox value)")
    parser.add_argument("--crona-activation-code", default=d.crona_activation_code,
                        help="the Aktiveringskod the Crona Lön sandbox accepts (default: a public sandbox value)")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="share of requests answered with 500, 503, 429, a slow response or a dropped connection")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="milliseconds added to every request (default %(default)s)")
    parser.add_argument("--token-lifetime", type=float, default=None, dest="token_lifetime_s",
                        help="seconds an access token lives (default: each service's own)")
    parser.add_argument("--fault-seed", type=int, default=None, help="make the injected faults reproducible")
    parser.add_argument("--webhook-url", default=None,
                        help="the Huma sandbox POSTs users-create/-update/-delete webhooks here, as Huma does "
                             "(more with POST /_sandbox/webhooks)")
    parser.add_argument("--webhook-secret", default=None, help="key of the huma-hmac-sha256 signature (default: none)")
    parser.add_argument("--webhook-token", default=None, help="sent as Authorization: Bearer <token> (default: none)")
    parser.add_argument("--webhook-signature", choices=("hex", "base64"), default=d.webhook_signature,
                        help="how huma-hmac-sha256 is written (default %(default)s)")
    parser.add_argument("--email-domain", default=None,
                        help="domain of the seeded work email addresses (default: the seed's own)")


def options_from_args(args: argparse.Namespace) -> SandboxOptions:
    return SandboxOptions(**{k: getattr(args, k) for k in SandboxOptions.__dataclass_fields__})


def serve(options: SandboxOptions) -> None:
    """Serve both sandboxes until SIGINT/SIGTERM, printing what points the pipeline at them."""
    running = start_sandboxes(options)

    def out(line: str) -> None:
        print(line, flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if running.seeded is not None:
            counts = running.seeded.summary()
            out(f"# seeded {options.employees} people (seed {options.seed}): "
                f"{len(running.seeded.huma_users)} in Huma, {len(running.seeded.crona_employees)} in Crona; "
                + ", ".join(f"{k} {v}" for k, v in counts.items()))
        else:
            out(f"# resumed state from {options.data_dir}: "
                f"{running.huma.store.count('users')} Huma users, "
                f"{running.crona.store.count('employees')} Crona employees")
        if options.fault_rate or options.latency_ms:
            out(f"# fault injection: rate {options.fault_rate}, latency {options.latency_ms} ms")
        if options.webhook_url:
            extras = [f"signature {options.webhook_signature}" if options.webhook_secret else "unsigned"]
            extras += ["bearer token"] if options.webhook_token else []
            out(f"# Huma webhooks to {options.webhook_url} ({', '.join(extras)})")
        out("# Sandbox credentials (public defaults unless you passed your own). Point the pipeline here:")
        for key, value in running.env.items():
            out(f"{key}={value}")
        out("READY")
        stop.wait()
    finally:
        running.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="humacrona sandbox",
                                     description="Serve the Huma and Crona sandboxes on 127.0.0.1.")
    add_arguments(parser)
    serve(options_from_args(parser.parse_args(argv)))
