"""The `humacrona` command: sandboxes, the demo, sync and the dev server."""

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


DEMO_POLICY_FILE = PROJECT_ROOT / "policy.example.yaml"
DEMO_WEBHOOK_SECRET = "demo-webhook-secret"  # the embedded sandbox's only: never a real Huma secret


def demo_policy():
    """The example policy with approve_mass_change on: the seed's discrepancies touch about a quarter of the
    employees, above the 0.2 guard, which is what a first sync looks like."""
    from dataclasses import replace

    from .core.policy import Policy, load_policy
    from .defs.policy import SyncPolicy

    base = load_policy(DEMO_POLICY_FILE) if DEMO_POLICY_FILE.exists() else Policy()
    return SyncPolicy.from_policy(replace(base, approve_mass_change=True))


def _sandbox_resources(sandboxes) -> dict:
    """Connections to running sandboxes, bound as values (the demo's own; the environment is left alone)."""
    from .defs.crona.resources import CronaResource
    from .defs.huma.resources import HumaResource

    env = sandboxes.env
    return {
        "huma": HumaResource(base_url=env["HUMA_BASE_URL"], client_id=env["HUMA_CLIENT_ID"],
                             client_secret=env["HUMA_CLIENT_SECRET"]),
        "crona": CronaResource(base_url=env["CRONA_BASE_URL"], activation_code=env["CRONA_ACTIVATION_CODE"]),
    }


def cmd_demo(args: argparse.Namespace) -> int:
    """A full "Synchronize users" on embedded sandboxes: plan, sync, and a second sync that finds nothing to do."""
    from . import launch
    from .sandbox.runner import SandboxOptions, start_sandboxes

    home = ensure_dagster_home()
    started = time.monotonic()
    _say(f"1/5  Starting the Huma and Crona Lön sandboxes ({args.employees} people, seed {args.seed}) ...")
    options = SandboxOptions(employees=args.employees, seed=args.seed, huma_port=0, crona_port=0)
    with start_sandboxes(options) as sandboxes:
        _say(f"     Huma  {sandboxes.huma_url}")
        _say(f"     Crona {sandboxes.crona_url}")
        resources = {**_sandbox_resources(sandboxes), "policy": demo_policy()}

        _say(f"2/5  Planning (job plan_sync, policy {DEMO_POLICY_FILE.name} with approve_mass_change, instance"
             f" {home}); nothing is written ...")
        planned = launch.run_job("plan_sync", resources)
        if not planned.success:
            launch.say_failures(planned, _say)
            return 1
        launch.say_plan(planned, _say)
        launch.say_checks(planned, _say)

        _say("3/5  Synchronising (job sync_users): write both systems, verify, audit, report, email ...")
        synced = launch.run_job("sync_users", resources)
        launch.say_sync(synced, _say)
        if not synced.success:
            launch.say_failures(synced, _say)
            return 1

        _say("4/5  Synchronising again right away (job sync_users) ...")
        again = launch.run_job("sync_users", resources, quiet=True)
        if not again.success:
            launch.say_failures(again, _say)
            return 1
        left = launch.planned_writes(again)
        held = int((again.output_for_node("sync_plan").operations["action"] == "held").sum())
        if left:
            _say(f"     NOT converged: the second sync still planned {left} writes")
            launch.say_sync(again, _say)
            return 1
        _say(f"     Converged: nothing to apply ({held} held salary-account changes still wait for approval"
             " in the policy)." if held else "     Converged: nothing to apply.")

        _say("5/5  Real time: a change in Huma reaches Crona (Huma webhook → humacrona webhook → inbox →"
             " huma_changes_sensor → push_huma_changes) ...")
        if not launch.demo_realtime(sandboxes, resources, _say, secret=DEMO_WEBHOOK_SECRET):
            return 1
        _say(f"Done in {time.monotonic() - started:.1f} s.")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """"Synchronize users" against the systems the environment names (HUMA_*, CRONA_*), with a policy file."""
    from . import launch
    from .defs.policy import SyncPolicy

    ensure_dagster_home()
    try:
        policy = SyncPolicy.from_file(args.policy)
    except ValueError as error:
        _say(f"humacrona sync: {error}")
        return 2
    job = "plan_sync" if args.dry_run else "sync_users"
    _say(f"Running {job} with policy {args.policy} ...")
    result = launch.run_job(job, {"policy": policy})
    if not args.dry_run:
        launch.say_sync(result, _say)
    elif result.success:
        launch.say_plan(result, _say)
    if not result.success:
        launch.say_failures(result, _say)
        return 1
    launch.say_checks(result, _say)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from .dev import run_dev

    return run_dev(args)


def cmd_webhook(args: argparse.Namespace) -> int:
    from .webhook import serve

    return serve(args)


def build_parser() -> argparse.ArgumentParser:
    from .dev import add_arguments as add_dev_arguments
    from .sandbox.runner import add_arguments
    from .webhook import add_arguments as add_webhook_arguments

    parser = argparse.ArgumentParser(prog="humacrona", description="Keep Huma and Crona Lön employees in sync.")
    sub = parser.add_subparsers(dest="command", required=True)

    sandbox = sub.add_parser("sandbox", help="serve the Huma and Crona sandboxes on 127.0.0.1 until stopped")
    add_arguments(sandbox)
    sandbox.set_defaults(func=cmd_sandbox)

    demo = sub.add_parser("demo", help="run the demo on embedded sandboxes")
    demo.add_argument("--employees", type=int, default=200)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=cmd_demo)

    sync = sub.add_parser("sync", help="Synchronize users: plan, write both systems, verify, audit, report, email")
    sync.add_argument("--policy", required=True, type=Path, help="the resolution policy YAML (see policy.example.yaml)")
    sync.add_argument("--dry-run", action="store_true", help="plan only (job plan_sync); write nothing")
    sync.set_defaults(func=cmd_sync)

    dev = sub.add_parser("dev", help="serve the sandboxes and the Dagster UI (webserver and daemon) pointed at them")
    add_dev_arguments(dev)
    dev.set_defaults(func=cmd_dev)

    webhook = sub.add_parser("webhook", help="receive Huma's webhooks (POST /huma/webhook) into the inbox until stopped")
    add_webhook_arguments(webhook)
    webhook.set_defaults(func=cmd_webhook)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
