"""The `humacrona` command: sandboxes, the demo and (later) sync, webhook receiver and dev server."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def ensure_dagster_home() -> Path:
    """Use $DAGSTER_HOME, or a project-local `.dagster_home` holding a copy of the repo's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    template = PROJECT_ROOT / "dagster.yaml"
    if template.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(template, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _say(text: str = "") -> None:
    print(text, flush=True)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox.runner import options_from_args, serve

    serve(options_from_args(args))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .sandbox.runner import SandboxOptions, start_sandboxes

    home = ensure_dagster_home()
    started = time.monotonic()
    _say(f"1/3  Starting the Huma and Crona Lön sandboxes ({args.employees} people, seed {args.seed}) ...")
    options = SandboxOptions(employees=args.employees, seed=args.seed, huma_port=0, crona_port=0)
    with start_sandboxes(options) as sandboxes:
        _say(f"     Huma  {sandboxes.huma_url}")
        _say(f"     Crona {sandboxes.crona_url}")
        os.environ.update(sandboxes.env)

        import dagster as dg

        from .definitions import defs

        _say(f"2/3  Extracting both employee tables through Dagster (instance {home}) ...")
        job = defs.resolve_job_def("extract_employees")
        result = job.execute_in_process(
            instance=dg.DagsterInstance.get(),
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            raise_on_error=False,
        )
        if not result.success:
            for event in result.all_events:
                if event.is_failure:
                    _say(f"     FAILED {event.step_key or ''}: {event.message}")
            return 1
        counts = {
            node: result.asset_materializations_for_node(node)[0].metadata["dagster/row_count"].value
            for node in ("huma_users_raw", "crona_employees_raw")
        }
        _say("3/3  Rows extracted per system:")
        _say(f"     Huma  (huma_users_raw)      {counts['huma_users_raw']:>7}")
        _say(f"     Crona (crona_employees_raw) {counts['crona_employees_raw']:>7}")
        _say(f"Done in {time.monotonic() - started:.1f} s (run {result.run_id}).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .sandbox.runner import add_arguments

    parser = argparse.ArgumentParser(prog="humacrona", description="Keep Huma and Crona Lön employees in sync.")
    sub = parser.add_subparsers(dest="command", required=True)

    sandbox = sub.add_parser("sandbox", help="serve the Huma and Crona sandboxes on 127.0.0.1 until stopped")
    add_arguments(sandbox)
    sandbox.set_defaults(func=cmd_sandbox)

    demo = sub.add_parser("demo", help="run the demo on embedded sandboxes")
    demo.add_argument("--employees", type=int, default=200)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
