"""Where humacrona keeps what it writes: the Dagster home folder, and the variable naming the state database.

Apart from `db` (which needs SQLAlchemy) so that the code location can bind its resources and name its folders
without importing the database layer; `db` builds its default URL from these."""

from __future__ import annotations

import os
from pathlib import Path

STATE_URL_ENV = "HUMACRONA_STATE_URL"
DAGSTER_HOME_ENV = "DAGSTER_HOME"
DEFAULT_DAGSTER_HOME = ".dagster_home"


def dagster_home() -> Path:
    """``$DAGSTER_HOME``, else ``./.dagster_home``; created when missing."""
    path = Path(os.environ.get(DAGSTER_HOME_ENV) or DEFAULT_DAGSTER_HOME).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
