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


DEMO_POLICY_FILE = PROJECT_ROOT / "policy.example.yaml"


def demo_policy():
    """The example policy with approve_mass_change on: the seed's discrepancies touch about a quarter of the
    employees, above the 0.2 guard, which is what a first sync looks like."""
    from dataclasses import replace

    from .core.policy import Policy, load_policy
    from .defs.policy import SyncPolicy

    base = load_policy(DEMO_POLICY_FILE) if DEMO_POLICY_FILE.exists() else Policy()
    return SyncPolicy.from_policy(replace(base, approve_mass_change=True))


def _counted(values) -> str:
    """Labels with their counts, most frequent first ("matched 56, huma_only 2"); "none" when empty."""
    counts = values.value_counts()
    return ", ".join(f"{label} {n}" for label, n in counts.items()) or "none"


def _print_plan_summary(result) -> None:
    """Counts only: no value (and so no bank account) is printed."""
    huma = result.output_for_node("huma_employees")
    crona = result.output_for_node("crona_employees")
    matches = result.output_for_node("employee_matches")
    conflicts = result.output_for_node("employee_conflicts")
    plan = result.output_for_node("sync_plan")
    counts = {
        node: result.asset_materializations_for_node(node)[0].metadata["dagster/row_count"].value
        for node in ("huma_users_raw", "crona_employees_raw")
    }
    ops = plan.operations
    _say("3/3  What a sync with the demo policy would do (nothing was written):")
    _say(f"     Huma  (huma_users_raw)      {counts['huma_users_raw']:>7}")
    _say(f"     Crona (crona_employees_raw) {counts['crona_employees_raw']:>7}")
    _say(f"     Quarantined values  Huma {len(huma.quarantine)}, Crona {len(crona.quarantine)}")
    _say(f"     Matches             {_counted(matches['status'])}")
    _say(f"     Conflicts           {_counted(conflicts['kind'])}")
    _say(f"     Plan operations     {_counted(ops['target'] + ' ' + ops['action'])}")
    _say(f"     Not planned         {len(plan.not_planned)}")
    for evaluation in result.get_asset_check_evaluations():
        verdict = "passed" if evaluation.passed else f"failed ({evaluation.severity.value})"
        _say(f"     check {evaluation.check_name:<24} {verdict}: {evaluation.description or ''}")


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

        from .definitions import build_defs, defs

        _say(f"2/3  Planning the sync through Dagster: job plan_sync, policy {DEMO_POLICY_FILE.name} with"
             f" approve_mass_change (instance {home}) ...")
        demo_defs = build_defs({**defs.resources, "policy": demo_policy()})
        job = demo_defs.resolve_job_def("plan_sync")
        result = job.execute_in_process(
            instance=dg.DagsterInstance.get(),
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            raise_on_error=False,
        )
        if not result.success:
            for event in result.all_events:
                if event.is_failure:
                    _say(f"     FAILED {event.step_key or ''}: {event.message}")
            for evaluation in result.get_asset_check_evaluations():
                if not evaluation.passed:
                    _say(f"     check {evaluation.check_name} failed: {evaluation.description}")
            return 1
        _print_plan_summary(result)
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
