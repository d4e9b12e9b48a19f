"""The humacrona product as the demo and `humacrona dev` drive it: the way a user does, through the `humacrona`
command and its documented environment variables, never by importing it (this package never imports
humacrona_pipeline). Also the demo's policy and the Dagster home folder, by the rules the product documents."""

from __future__ import annotations

import base64
import getpass
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

# The repository's root, where dagster.yaml and policy.example.yaml are: this assumes the repository's layout
# (humacrona_sandbox/ beside them, installed editable), as the sandbox is a development tool run from a clone.
REPO_ROOT = Path(__file__).resolve().parent.parent
DAGSTER_TEMPLATE = REPO_ROOT / "dagster.yaml"
EXAMPLE_POLICY = REPO_ROOT / "policy.example.yaml"
DEMO_POLICY = f"{EXAMPLE_POLICY.name} with approve_mass_change: true"  # what the demo and `humacrona dev` apply
# The product's documented variables (README): where its instance is, which policy Dagster's runs apply, the key
# that encrypts the outputs Dagster keeps, the webhook receiver's client secret and access token.
DAGSTER_HOME_ENV = "DAGSTER_HOME"
POLICY_FILE_ENV = "HUMACRONA_POLICY_FILE"
STORAGE_KEY_ENV = "HUMACRONA_STORAGE_KEY"
WEBHOOK_SECRET_ENV = "HUMACRONA_WEBHOOK_SECRET"
WEBHOOK_TOKEN_ENV = "HUMACRONA_WEBHOOK_TOKEN"
CONFIRM_TIMEOUT_S = 120  # for `humacrona check --confirm`: it reaches both sandboxes, on this machine


def say(text: str = "") -> None:
    """One line to the terminal, at once, as the `humacrona` command prints its own lines.

    Restated, not imported: the sandbox never imports the pipeline (its terminal.say)."""
    print(text, flush=True)


def os_user() -> str:
    """Who is at the keyboard (the name a confirmation is recorded under), as the pipeline finds it.

    Restated, not imported: the sandbox never imports the pipeline (its connection.user.os_user)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (e.g. a container without one)
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def dagster_home() -> Path:
    """The folder `humacrona` keeps its Dagster instance in, by its documented rule ($DAGSTER_HOME, else
    ./.dagster_home), absolute and created, holding a copy of the repository's dagster.yaml when it has none.
    Given to every `humacrona` and `dagster` process explicitly, so all of them use this one.

    Restated, not imported: the sandbox never imports the pipeline (state.home.dagster_home and the
    dagster.yaml copy in cli.py)."""
    home = Path(os.environ.get(DAGSTER_HOME_ENV) or ".dagster_home").expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    if DAGSTER_TEMPLATE.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(DAGSTER_TEMPLATE, home / "dagster.yaml")
    return home


def write_demo_policy(directory: Path) -> Path:
    """policy.example.yaml with approve_mass_change on, as ``directory``/policy.demo.yaml (0600): the seed's
    discrepancies touch about a quarter of the employees, above the example's mass-change guard, which is what a
    first sync looks like. Rewritten on every start, so it follows policy.example.yaml."""
    policy = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8")) or {}
    policy["approve_mass_change"] = True
    header = (f"# The policy of `humacrona demo` and `humacrona dev`: {DEMO_POLICY}.\n"
              f"# Written from {EXAMPLE_POLICY} on every start: edits here are lost.\n"
              f"# To use your own, copy policy.example.yaml, edit it and point {POLICY_FILE_ENV} at the copy.\n")
    path = directory / "policy.demo.yaml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(header + yaml.safe_dump(policy, sort_keys=False, allow_unicode=True))
    os.chmod(path, 0o600)  # a file that existed keeps its mode through O_CREAT
    return path


def throwaway_storage_key() -> str:
    """A key for HUMACRONA_STORAGE_KEY (a Fernet key: 32 random bytes, URL-safe base64) for one session's sandbox
    data; the next session cannot read what this one stored (its jobs run again)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def humacrona_command() -> list[str]:
    """The installed `humacrona` console script: the one beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("humacrona")
    found = str(beside) if beside.exists() else shutil.which("humacrona")
    if not found:
        raise FileNotFoundError("the `humacrona` command is not installed (python -m uv sync --locked)")
    return [found]


def product_environment(sandbox_env: Mapping[str, str], home: Path, policy_file: str) -> dict[str, str]:
    """This process's environment with the sandboxes' five connection variables, DAGSTER_HOME and the policy
    file: what a `humacrona` or `dagster` process started here runs with."""
    return {**os.environ, **sandbox_env, DAGSTER_HOME_ENV: str(home), POLICY_FILE_ENV: policy_file}


def confirm(env: Mapping[str, str], command: str) -> subprocess.CompletedProcess:
    """`humacrona check --confirm` on the sandboxes the environment names: they are ours to connect, so the
    syncs (and the pushes) may write to them once their checks pass. Raises subprocess.TimeoutExpired after
    CONFIRM_TIMEOUT_S."""
    by = f"{os_user()} ({command}, sandboxes)"
    return subprocess.run([*humacrona_command(), "check", "--confirm", "--by", by], env=dict(env),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=CONFIRM_TIMEOUT_S,
                          check=False)


def confirm_sandboxes(env: Mapping[str, str], command: str, indent: str = "") -> bool:
    """`confirm`, and when it did not succeed, why, said in a line starting with ``indent`` (then what the check
    printed, indented further): the demo and `humacrona dev` both stop there. True when confirmed."""
    try:
        checked = confirm(env, command)
    except subprocess.TimeoutExpired:
        say(f"{indent}humacrona check --confirm did not finish within {CONFIRM_TIMEOUT_S} s: the sandboxes are not"
            " confirmed.")
        return False
    if checked.returncode != 0:
        say(f"{indent}humacrona check --confirm failed (exit code {checked.returncode}), so the sandboxes are not"
            " confirmed:")
        for text in (checked.stdout + checked.stderr).splitlines():
            say(f"{indent}  {text}")
        return False
    return True
