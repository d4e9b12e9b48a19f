"""`humacrona --help` answers at once: building the parser imports no Dagster, pandas, httpx, Starlette or
SQLAlchemy (checked in a fresh interpreter), nor the commands other packages contribute (the development install's
`sandbox`, `demo` and `dev`, listed from their metadata); every command and option explains itself; `--version`
works."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import subprocess
import sys

import pytest

from humacrona_pipeline.cli import build_parser, contributed_commands

DEVELOPMENT_COMMANDS = ("sandbox", "demo", "dev")  # humacrona_sandbox's, in this (development) install
HEAVY = ("dagster", "pandas", "httpx", "starlette", "sqlalchemy", "uvicorn")
PROBE = """
import json, sys
from humacrona_pipeline.cli import build_parser, main
build_parser()
built = sorted(m for m in {heavy} if m in sys.modules)
try:
    main([{args}])
except SystemExit:
    pass
print(json.dumps([built, sorted(m for m in {heavy} if m in sys.modules),
                  sorted(m for m in sys.modules if m.startswith("humacrona_sandbox"))]))
"""


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("args", [["--help"], ["sync", "--help"], ["dev", "--help"], ["demo", "--help"],
                                  ["sandbox", "--help"], ["webhook", "--help"], ["--version"]])
def test_building_the_parser_and_help_import_nothing_heavy(args):
    code = PROBE.format(heavy=repr(HEAVY), args=", ".join(repr(a) for a in args))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    built, after, sandbox = json.loads(out.splitlines()[-1])
    assert built == [] and after == []
    # A contributed command is imported only when it is the one asked for.
    assert bool(sandbox) == (args[0] in DEVELOPMENT_COMMANDS), sandbox


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_command_describes_itself_and_every_option(name):
    parser = _subcommands()[name]
    assert parser.description and len(parser.description) > 40
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, f"humacrona {name} {action.option_strings}"


def test_every_command_is_listed_with_a_summary():
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert {c.dest for c in sub._choices_actions} == set(_subcommands())
    assert all(c.help for c in sub._choices_actions)


def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"humacrona {version('humacrona')}"


def test_the_development_commands_are_listed_in_help_and_run_with_their_own_options(capsys):
    assert set(DEVELOPMENT_COMMANDS) <= set(contributed_commands())
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    listed = capsys.readouterr().out
    for name in DEVELOPMENT_COMMANDS:
        assert re.search(rf"^\s+{name}\s+from humacrona-sandbox", listed, re.MULTILINE), listed
    from humacrona_pipeline.cli import main

    for name in DEVELOPMENT_COMMANDS:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        help_text = out.getvalue()
        assert help_text.startswith(f"usage: humacrona {name} "), help_text
        assert "--seed" in help_text and len(help_text.split("\n\n")[1]) > 40, help_text


def test_an_unknown_command_is_one_line_listing_every_command_with_the_close_ones(capsys):
    from humacrona_pipeline.cli import main

    assert main(["snyc"]) == 2
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert out == "" and "'snyc'" in line and "did you mean 'sync'?" in line
    listed = line.partition("(commands: ")[2].partition(")")[0].split(", ")
    assert sorted(listed) == sorted(_subcommands())  # the contributed ones too
    assert "development install" not in line  # a clone has it

    assert main(["dmeo"]) == 2
    assert "did you mean 'demo'?" in capsys.readouterr().err
    assert main(["xyzzy"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_a_development_command_missing_from_a_deployed_install_says_where_it_comes_from(monkeypatch, capsys):
    from humacrona_pipeline import cli

    monkeypatch.setattr(cli, "contributed_commands", lambda: {})  # a wheel installed alone: no contributed command
    for name in DEVELOPMENT_COMMANDS:
        assert cli.main([name, "--seed", "3"]) == 2
        out, err = capsys.readouterr()
        (line,) = err.splitlines()
        assert out == "" and f"no command '{name}'" in line and "check, sync, paxml, webhook, key)" in line
        assert "development install" in line and f"humacrona {name}`" in line


@pytest.mark.parametrize("target, error", [("humacrona_no_such_module:main", "ModuleNotFoundError"),
                                           ("humacrona_pipeline.cli:no_such_command", "AttributeError")])
def test_a_contributed_command_that_cannot_be_loaded_is_one_line(tmp_path, monkeypatch, capsys, target, error):
    """An installed distribution whose entry point names a module or function that is not there."""
    info = tmp_path / "humacrona_broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: humacrona-broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[humacrona.commands]\nbroken = {target}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from humacrona_pipeline.cli import main

    assert main(["broken", "--help"]) == 2
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert out == "" and "Traceback" not in err
    assert "'broken'" in line and "humacrona-broken-plugin" in line and target in line and error in line
