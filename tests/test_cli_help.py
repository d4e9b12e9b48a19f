"""`humacrona --help` answers at once: building the parser imports no Dagster, pandas, httpx, Starlette or
SQLAlchemy (checked in a fresh interpreter); every command and option explains itself; `--version` works."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from humacrona_pipeline.cli import build_parser

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
print(json.dumps([built, sorted(m for m in {heavy} if m in sys.modules)]))
"""


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("args", [["--help"], ["sync", "--help"], ["dev", "--help"], ["webhook", "--help"],
                                  ["--version"]])
def test_building_the_parser_and_help_import_nothing_heavy(args):
    code = PROBE.format(heavy=repr(HEAVY), args=", ".join(repr(a) for a in args))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    built, after = json.loads(out.splitlines()[-1])
    assert built == [] and after == []


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
