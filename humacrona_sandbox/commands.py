"""The commands this package adds to `humacrona` in a development install: `humacrona sandbox`, `humacrona demo`
and `humacrona dev` (entry-point group ``humacrona.commands`` in pyproject.toml). `humacrona` lists them in its
--help from the package's metadata and, when one is named, calls it with the rest of the command line; each
parses its own options and returns the exit code. Building the parsers loads no web app and no emulator."""

from __future__ import annotations

import argparse
import sys


def sandbox(argv: list[str]) -> int:
    from .runner import add_arguments, options_from_args, serve

    parser = argparse.ArgumentParser(
        prog="humacrona sandbox",
        description="Serve local emulators of the Huma Open API and the Crona Lön API on 127.0.0.1 until stopped, "
        "seeded with realistic employees, and print the HUMA_*/CRONA_* variables that point the pipeline at them.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        serve(options_from_args(args))
    except (OSError, ValueError) as error:  # a port in use, --webhook-secret without --webhook-url, ...
        print(f"humacrona sandbox: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


def demo(argv: list[str]) -> int:
    from .demo import add_arguments, run_demo

    parser = argparse.ArgumentParser(
        prog="humacrona demo",
        description="Start both sandboxes, plan (humacrona sync --dry-run), sync (humacrona sync) twice, and follow "
        "one change made in Huma to Crona Lön in real time (humacrona webhook); prints what happened at each step. "
        "With --crona-channel paxml, Crona Lön is reached through PAXml export and import files instead of its API "
        "(the demo imports the sync's file into the Crona sandbox; no real-time step). "
        "The runs are kept in DAGSTER_HOME's Dagster instance (default ./.dagster_home).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_demo(args.employees, args.seed, args.crona_channel)


def dev(argv: list[str]) -> int:
    from .dev import add_arguments, run_dev

    parser = argparse.ArgumentParser(
        prog="humacrona dev",
        description="Serve the sandboxes and the Dagster UI (webserver and daemon) pointed at them: start both "
        "sandboxes and `dagster dev` on this code location with the sandbox variables, and print the UI's links; "
        "Ctrl-C stops everything.")
    add_arguments(parser)
    return run_dev(parser.parse_args(argv))
