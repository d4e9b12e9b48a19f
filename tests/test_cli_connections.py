"""`humacrona check` and `humacrona sync` with a connections file: `--connection` picks the connection (its policy
and variables from the file), and every way to get it wrong is one line and exit code 2 before anything runs."""

from __future__ import annotations

import yaml

import humacrona_pipeline.definitions  # noqa: F401 - the partitions are read now, before a test sets a file
from humacrona_pipeline.cli import main
from humacrona_pipeline.connection.connections import CONNECTIONS_FILE_ENV
from humacrona_pipeline.state.home import STATE_URL_ENV
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes


def _file(tmp_path, monkeypatch, env: dict, names=("default",)) -> None:
    (tmp_path / "policy.yaml").write_text("default_winner: huma\napprove_mass_change: true\n")
    entries = [{"name": name, "policy": "policy.yaml", "report_to": "lon@nordljus.se",  # each its own company
                "crona": {"base_url": f"{env['CRONA_BASE_URL']}/{name}" if n else env["CRONA_BASE_URL"],
                          "activation_code_env": "CRONA_ACTIVATION_CODE"}}
               for n, name in enumerate(names)]
    (tmp_path / "connections.yaml").write_text(yaml.safe_dump({"connections": entries}))
    monkeypatch.setenv(CONNECTIONS_FILE_ENV, str(tmp_path / "connections.yaml"))


def test_the_connection_is_chosen_by_name_and_mistakes_are_one_line(tmp_path, monkeypatch, capsys):
    env = {"HUMA_BASE_URL": "https://huma.test", "HUMA_CLIENT_ID": "id", "HUMA_CLIENT_SECRET": "secret",
           "CRONA_BASE_URL": "https://crona.test", "CRONA_ACTIVATION_CODE": "K4M2-Q9X7"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    _file(tmp_path, monkeypatch, env, names=("nordljus-ab", "fjallbo"))

    assert main(["sync", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "give --connection" in err and "nordljus-ab, fjallbo" in err and "Traceback" not in err
    assert main(["sync", "--dry-run", "--connection", "nordljus"]) == 2
    assert "--connection 'nordljus' is not one" in capsys.readouterr().err
    assert main(["sync", "--dry-run", "--connection", "fjallbo", "--policy", str(tmp_path / "policy.yaml")]) == 2
    assert "has its policy in the connections file" in capsys.readouterr().err
    assert main(["check", "--connection", "nobody"]) == 2
    assert "is not one" in capsys.readouterr().err

    (tmp_path / "connections.yaml").write_text("connections:\n  - name: Bad Name\n")
    assert main(["sync", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "the connections file is not valid" in err and "cannot be a partition key" in err
    assert "K4M2-Q9X7" not in err and "secret" not in err.replace("secret never", "")


def test_without_a_file_policy_is_required_and_only_default_exists(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(CONNECTIONS_FILE_ENV, raising=False)
    assert main(["sync", "--dry-run"]) == 2
    assert "--policy is required" in capsys.readouterr().err
    assert main(["sync", "--dry-run", "--connection", "other", "--policy", str(tmp_path / "p.yaml")]) == 2
    assert "the connections of no connections file" in capsys.readouterr().err


def test_a_connection_is_checked_confirmed_and_synced_by_name(tmp_path, monkeypatch, capsys):
    """The file's connection end to end through the command: check --confirm records its confirmation, sync writes
    with its policy and names it."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(STATE_URL_ENV, raising=False)
    with start_sandboxes(SandboxOptions(employees=20, seed=4, huma_port=0, crona_port=0)) as running:
        for name, value in running.env.items():
            monkeypatch.setenv(name, value)
        _file(tmp_path, monkeypatch, running.env)
        assert main(["sync", "--connection", "default"]) == 2  # nobody confirmed it yet
        assert "humacrona check" in capsys.readouterr().err
        assert main(["check", "--connection", "default", "--confirm"]) == 0
        assert "Confirmed by" in capsys.readouterr().out
        assert main(["sync", "--connection", "default"]) == 0
        out = capsys.readouterr().out
        assert "Running sync_users with policy" in out and str(tmp_path / "policy.yaml") in out
        assert "updated" in out
