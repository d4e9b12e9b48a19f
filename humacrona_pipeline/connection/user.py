"""Who is at the keyboard: the default name a confirmation is recorded under."""

from __future__ import annotations

import getpass
import os


def os_user() -> str:
    """The operating system's user name; "unknown" where it cannot be told."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (e.g. a container without one)
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
