"""deploy/ holds what a team runs humacrona with past one machine. These tests load its Dagster instance files with
Dagster's own validation (what the webserver and daemon do on start), read the limits as Dagster reads them, and
keep the Docker Compose file, the Helm values, the Dockerfile and README telling the same story: the same
variables, the same limits, the same port and module, and no sandbox in the image."""

from __future__ import annotations

import json
import re
import shlex
import tomllib

import dagster as dg
import pytest
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from sqlalchemy.engine import make_url

from tests.deploy.deploy_files import (
    CONNECTION_TAG,
    DEPLOY,
    INSTANCE_FILES,
    POSTGRES_INSTANCE,
    REPO_ROOT,
    SQLITE_INSTANCE,
    dotenv,
    env_names,
    limits_of,
    load,
    readme_limits,
    readme_section,
)

STATE_URL_ENV = "HUMACRONA_STATE_URL"
CODE_SERVICE = "humacrona_code"


@pytest.fixture
def instance_env(tmp_path, monkeypatch):
    """The variables the instance files read, set to placeholders; DAGSTER_HOME a throw-away folder."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name in env_names(load(POSTGRES_INSTANCE)):
        monkeypatch.setenv(name, "5432" if name.endswith("_PORT") else "placeholder")
    return home


def validate(text: str, folder, name: str = "dagster.yaml") -> dict:
    """Dagster's validation of an instance file against its schema (raises DagsterInvalidConfigError)."""
    (folder / name).write_text(text, encoding="utf-8")
    config, _custom_class = dagster_instance_config(str(folder), config_filename=name)
    return config


@pytest.mark.parametrize("path", INSTANCE_FILES, ids=lambda p: p.name)
def test_each_instance_file_passes_dagsters_validation(path, instance_env, tmp_path):
    config = validate(path.read_text(encoding="utf-8"), tmp_path)
    assert set(config["storage"]) == {"postgres" if path == POSTGRES_INSTANCE else "sqlite"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["telemetry"] == {"enabled": False} and config["nux"] == {"enabled": False}


@pytest.mark.parametrize(("right", "wrong"), [("max_concurrent_runs", "max_concurent_runs"),
                                              ("hostname", "host_name"),
                                              ("applyLimitPerUniqueValue", "applyLimitPerValue")])
def test_a_misspelt_setting_fails_validation_naming_it(right, wrong, instance_env, tmp_path):
    text = POSTGRES_INSTANCE.read_text(encoding="utf-8")
    assert f"{right}:" in text
    with pytest.raises(DagsterInvalidConfigError) as raised:
        validate(text.replace(f"{right}:", f"{wrong}:"), tmp_path)
    assert wrong in str(raised.value)


def test_the_postgres_instance_has_the_sqlite_instances_settings_but_storage():
    postgres, sqlite = load(POSTGRES_INSTANCE), load(SQLITE_INSTANCE)
    assert set(postgres["storage"]) == {"postgres"} and set(sqlite["storage"]) == {"sqlite"}
    assert {k: v for k, v in postgres.items() if k != "storage"} == {k: v for k, v in sqlite.items() if k != "storage"}


def test_the_limits_dagster_reads_are_the_ones_readme_states(instance_env):
    (instance_env / "dagster.yaml").write_text(SQLITE_INSTANCE.read_text(encoding="utf-8"), encoding="utf-8")
    with dg.DagsterInstance.from_config(str(instance_env)) as instance:
        assert limits_of(instance.get_concurrency_config()) == readme_limits()


def test_readme_names_every_variable_of_the_env_file_and_the_instance():
    section = readme_section()
    names = set(dotenv(DEPLOY / ".env.example")) | env_names(load(POSTGRES_INSTANCE))
    assert {name for name in names if f"`{name}`" not in section} == set()


def test_the_env_file_sets_what_the_instance_reads_and_a_state_url_on_the_same_server():
    example = dotenv(DEPLOY / ".env.example")
    assert env_names(load(POSTGRES_INSTANCE)) <= set(example)
    state = make_url(example[STATE_URL_ENV])
    assert state.drivername == load(POSTGRES_INSTANCE)["storage"]["postgres"]["postgres_db"]["scheme"]
    assert (state.host, str(state.port), state.username) == (
        example["DAGSTER_POSTGRES_HOSTNAME"], example["DAGSTER_POSTGRES_PORT"], example["DAGSTER_POSTGRES_USER"])
    assert state.database != example["DAGSTER_POSTGRES_DB"]  # its own database, which the server's init creates
    assert re.search(rf"CREATE DATABASE {state.database};", (DEPLOY / "postgres-init.sql").read_text())
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()  # the secrets are never committed


def test_compose_runs_postgres_the_code_server_webserver_and_daemon_on_the_instances_variables():
    services = load(DEPLOY / "docker-compose.yml")["services"]
    assert set(services) == {"postgres", CODE_SERVICE, "dagster_webserver", "dagster_daemon"}
    code = services[CODE_SERVICE]
    assert code["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert code["env_file"] == ".env"
    instance_vars = env_names(load(POSTGRES_INSTANCE))
    for name in ("dagster_webserver", "dagster_daemon"):
        service = services[name]
        assert service["image"] == code["image"]
        assert set(service["environment"]) == instance_vars
        assert all(value == f"${{{key}}}" for key, value in service["environment"].items())
        assert "/opt/dagster/app/workspace.yaml" in service["command"]
    postgres_env = services["postgres"]["environment"]
    assert {postgres_env[k] for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")} == {
        "${DAGSTER_POSTGRES_USER}", "${DAGSTER_POSTGRES_PASSWORD}", "${DAGSTER_POSTGRES_DB}"}
    assert dotenv(DEPLOY / ".env.example")["DAGSTER_POSTGRES_HOSTNAME"] == "postgres"
    (location,) = load(DEPLOY / "workspace.yaml")["load_from"]
    assert location["grpc_server"]["host"] == CODE_SERVICE
    assert location["grpc_server"]["port"] == _dockerfile_port()


def test_helm_values_run_the_code_location_with_the_k8s_launcher_the_secret_and_the_same_limits():
    values = load(DEPLOY / "helm" / "values.yaml")
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["codeServerArgs"]
    assert args[args.index("--module-name") + 1] == _code_location_module()
    assert deployment["port"] == _dockerfile_port()
    secret = re.search(r"kubectl create secret generic (\S+) --from-env-file=\S*\.env\b", readme_section()).group(1)
    assert deployment["envSecrets"] == [{"name": secret}]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"] == [{"name": secret}]
    assert values["global"]["postgresqlSecretName"] in readme_section()
    assert values["telemetry"] == {"enabled": False}

    instance = load(POSTGRES_INSTANCE)
    assert values["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    queue = values["dagsterDaemon"]["runCoordinator"]
    assert queue["type"] == instance["run_coordinator"]["class"]
    assert queue["config"]["queuedRunCoordinator"]["dequeueIntervalSeconds"] == (
        instance["run_coordinator"]["config"]["dequeue_interval_seconds"])
    helm, ours = values["concurrency"], instance["concurrency"]
    assert helm["enabled"] is True
    assert helm["runs"] == {"maxConcurrentRuns": ours["runs"]["max_concurrent_runs"],
                            "tagConcurrencyLimits": ours["runs"]["tag_concurrency_limits"]}
    assert helm["pools"] == {"defaultLimit": ours["pools"]["default_limit"],
                             "granularity": ours["pools"]["granularity"]}
    assert any(limit["key"] == CONNECTION_TAG for limit in helm["runs"]["tagConcurrencyLimits"])


def _dockerfile_instructions() -> list[tuple[str, list[str]]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in (DEPLOY / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def _dockerfile_port() -> int:
    (port,) = [int(args) for instruction, args in _dockerfile_instructions() if instruction == "EXPOSE"]
    return port


def _code_location_module() -> str:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]


def test_the_image_installs_the_locked_code_location_without_the_sandboxes():
    instructions = _dockerfile_instructions()
    copied = [source for instruction, args in instructions if instruction == "COPY" and "--from=" not in args
              for source in shlex.split(args)[:-1]]
    assert "." not in copied and "./" not in copied  # never the whole repository
    sandbox = [source for source in copied if source.startswith("humacrona_sandbox")]
    assert sandbox == ["humacrona_sandbox/pyproject.toml"]  # the workspace member's metadata uv reads, no code
    unignored = [line for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
                 if line.startswith("!humacrona_sandbox")]
    assert unignored == ["!humacrona_sandbox/pyproject.toml"]
    syncs = [args for instruction, args in instructions if instruction == "RUN" and "uv sync" in args]
    assert syncs and all("--locked" in args and "--no-dev" in args for args in syncs)
    # The Helm values' K8sRunLauncher is dagster-k8s's: the code server and each run pod (this image) load it.
    assert all("--extra k8s" in args for args in syncs)
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("dagster-k8s") for requirement in extras["k8s"])
    (base,) = [args for instruction, args in instructions if instruction == "FROM"]
    assert base == "python:3.11-slim"
    (command,) = [args for instruction, args in instructions if instruction == "CMD"]
    argv = json.loads(command)
    assert argv[:3] == ["dagster", "code-server", "start"]
    assert argv[argv.index("--module-name") + 1] == _code_location_module()
    assert argv[argv.index("--port") + 1] == str(_dockerfile_port())
