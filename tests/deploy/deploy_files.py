"""The files of deploy/ as the tests read them: paths, YAML, the variables an instance file reads, and the limits
README's "Deploying past one machine" states."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.test_readme import _section

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = REPO_ROOT / "deploy"
POSTGRES_INSTANCE = DEPLOY / "dagster-postgres.yaml"
SQLITE_INSTANCE = DEPLOY / "dagster-sqlite.yaml"
INSTANCE_FILES = (POSTGRES_INSTANCE, SQLITE_INSTANCE)
SECTION = "Deploying past one machine"


def load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def env_names(node) -> set[str]:
    """Every environment variable a Dagster config reads (``{env: NAME}``), at any depth."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(env_names(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(env_names(v) for v in node)) if node else set()
    return set()


def dotenv(path: Path) -> dict[str, str]:
    """NAME=value lines of an env file (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def readme_section() -> str:
    return _section(SECTION)


def readme_limits() -> dict[str, str]:
    """The limits table of the section: the setting (its first code span) -> the value (backticks dropped)."""
    rows = [line.strip().strip("|").split("|") for line in readme_section().splitlines()
            if line.startswith("| `")]
    assert rows, "the section has no table of limits"
    return {re.search(r"`([^`]+)`", setting).group(1): value.strip().strip("`") for setting, value, *_ in rows}


CONNECTION_TAG = "dagster/partition"


def limits_of(concurrency) -> dict[str, str]:
    """The README table's settings as Dagster reads them from a loaded instance (`get_concurrency_config()`)."""
    queue = concurrency.run_queue_config
    (per_connection,) = [limit for limit in queue.tag_concurrency_limits
                         if limit["key"] == CONNECTION_TAG and limit.get("value") == {"applyLimitPerUniqueValue": True}]
    return {"runs.max_concurrent_runs": str(queue.max_concurrent_runs),
            "runs.tag_concurrency_limits": str(per_connection["limit"]),
            "pools.default_limit": str(concurrency.pool_config.default_pool_limit),
            "pools.granularity": concurrency.pool_config.pool_granularity.value}
