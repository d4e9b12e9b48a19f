"""Every resource of the code location, by the key its assets, ops and sensors ask for: the one list
`definitions.build_defs` binds. Each is made from the environment (`EnvVar`), and nothing is read until a run
needs it. A new resource is one entry here (its class lives with what uses it, e.g. `huma/resources.py`)."""

from __future__ import annotations

from collections.abc import Callable

from .apply.resources import ledger_resource_from_env
from .crona.resources import crona_resource_from_env
from .email.resources import email_resource_from_env
from .huma.resources import huma_resource_from_env
from .policy import policy_resource_from_env
from .realtime.resources import inbox_resource_from_env
from .storage import io_manager_from_env

RESOURCES: dict[str, Callable[[], object]] = {
    "huma": huma_resource_from_env,  # the Huma Open API connection (HUMA_*)
    "crona": crona_resource_from_env,  # the Crona Lön API-koppling (CRONA_*)
    "policy": policy_resource_from_env,  # how conflicts are resolved (HUMACRONA_POLICY_FILE)
    "ledger": ledger_resource_from_env,  # the audit ledger in the state database (HUMACRONA_STATE_URL)
    "email": email_resource_from_env,  # where the sync report is mailed (HUMACRONA_SMTP_*, ...)
    "inbox": inbox_resource_from_env,  # the webhook inbox, in the same state database
    "io_manager": io_manager_from_env,  # where outputs are kept: encrypted, or in memory (HUMACRONA_STORAGE_KEY)
}


def resources_from_env() -> dict[str, object]:
    """Every resource bound to its environment variables."""
    return {key: make() for key, make in RESOURCES.items()}
