"""What the Huma sandbox tests share: a handful of seed users and a sandbox served over real HTTP."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from humacrona_sandbox.faults import FaultConfig
from humacrona_sandbox.huma_app import (
    DEFAULT_HUMA_CLIENT_ID,
    DEFAULT_HUMA_CLIENT_SECRET,
    HumaSandbox,
    HumaSandboxSettings,
)
from humacrona_sandbox.server import BackgroundServer
from humacrona_sandbox.store import Store

FIRST_NAMES = ["Anna", "Erik", "Maja", "Lars", "Sofia", "Johan", "Elin", "Karl", "Ida", "Oskar", "Saga", "Nils"]
TITLES = ["Developer", "Payroll Specialist", "HR Partner"]


def seed_user(n: int, **overrides) -> dict:
    """Seed user number ``n`` in the seed generator's format; every identity is unique per ``n``."""
    given = FIRST_NAMES[n % len(FIRST_NAMES)]
    user = {
        "id": str(uuid.UUID(int=0x1000 + n, version=4)),
        "givenName": given,
        "familyName": f"Lindqvist{n}",
        "email": f"{given.lower()}.lindqvist{n}@nordljus.se",
        "phone": f"+46 70-{100 + n:03d} {n % 100:02d} 00",
        "employmentId": f"{1000 + n}",
        "privateEmail": f"{given.lower()}{n}@example.com",
        "homeAddress": {"line1": f"Storgatan {n + 1}", "line2": None, "line3": None, "postalCode": "11122",
                        "city": "Stockholm", "country": "SE"},
        "bankAccount": {"type": "national", "number": f"8327-9 {900000000 + n}", "country": "SE"},
        "positions": [{
            "id": str(uuid.UUID(int=0x2000 + n, version=4)),
            "contractStartDate": "2019-03-01",
            "contractEndDate": None,
            "title": TITLES[n % len(TITLES)],
            "contractType": "Permanent",
        }],
    }
    user.update(overrides)
    return user


def seed_users(count: int) -> list[dict]:
    return [seed_user(n) for n in range(count)]


@dataclass
class RunningHuma:
    sandbox: HumaSandbox
    url: str

    def token(self, client_id: str = DEFAULT_HUMA_CLIENT_ID, client_secret: str = DEFAULT_HUMA_CLIENT_SECRET) -> str:
        response = httpx.post(f"{self.url}/auth/oauth/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self, token: str | None = None) -> httpx.Client:
        """An httpx client that sends a fresh bearer token (or the one given)."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token or self.token()}"}, timeout=10)


@contextlib.contextmanager
def running_huma(users: list[dict] | None = None, *, store: Store | None = None,
                 settings: HumaSandboxSettings | None = None,
                 faults: FaultConfig | None = None) -> Iterator[RunningHuma]:
    sandbox = HumaSandbox(store or Store(), settings, faults)
    if users:
        sandbox.load_seed(users)
    with BackgroundServer(sandbox.app) as server:
        yield RunningHuma(sandbox, server.url)
