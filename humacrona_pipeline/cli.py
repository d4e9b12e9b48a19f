"""The `humacrona` command: sandboxes, the demo, check, sync, the webhook receiver and the dev server.

Building the parser and answering `--help` import nothing heavy (no Dagster, pandas, httpx, Starlette or
SQLAlchemy): each command imports what it needs when it runs. Errors go to stderr; a misconfiguration is
one line there and exit code 2."""

from __future__ import annotations

import argparse
import os
import re
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


def _shown(text: str) -> str:
    """Text with every character that could hide or reorder what the terminal shows (a right-to-left
    override, a zero-width space from Huma's or Crona's data) made visible, "<U+202E>" (`core.display`)."""
    # Imported here, not at the top: --help and --version stay fast.
    from .core.display import visible_lines

    return visible_lines(text)


def _say(text: str = "") -> None:
    print(_shown(text), flush=True)


def _fail(line: str, code: int = 2) -> int:
    """One line on stderr; the exit code (2: a misconfiguration the user can fix)."""
    print(_shown(line), file=sys.stderr, flush=True)
    return code


def _run_id(text: str) -> str:
    """A Dagster run id as --plan takes it (the id `humacrona sync --dry-run` printed, or the UI shows)."""
    value = text.strip()
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}", value):
        raise argparse.ArgumentTypeError(f"not a run id: {_shown(text)!r} (like 4f0c2d1e-...; `humacrona sync"
                                         " --dry-run` prints the one to give)")
    return value


def _quiet_connectors() -> None:
    """The connectors' retry warnings would reach stderr through logging's last resort; the one line says it."""
    import logging

    logging.getLogger("humacrona").addHandler(logging.NullHandler())


def cmd_sandbox(args: argparse.Namespace) -> int:
    from humacrona_sandbox.runner import options_from_args, serve

    try:
        serve(options_from_args(args))
    except (OSError, ValueError) as error:  # a port in use, --webhook-secret without --webhook-url, ...
        return _fail(f"humacrona sandbox: {error}")
    return 0


DEMO_POLICY_FILE = PROJECT_ROOT / "policy.example.yaml"
DEMO_POLICY = f"{DEMO_POLICY_FILE.name} with approve_mass_change: true"  # what the demo and `humacrona dev` apply
DEMO_WEBHOOK_SECRET = "demo-webhook-secret"  # the embedded sandbox's only: never a real Huma secret


def demo_policy():
    """The example policy with approve_mass_change on: the seed's discrepancies touch about a quarter of the
    employees, above the 0.2 guard, which is what a first sync looks like. The one statement of the demo's
    policy: `humacrona dev` gives Dagster the same, written by `write_demo_policy`."""
    from dataclasses import replace

    from .core.policy import Policy, load_policy
    from .defs.policy import SyncPolicy

    base = load_policy(DEMO_POLICY_FILE) if DEMO_POLICY_FILE.exists() else Policy()
    return SyncPolicy.from_policy(replace(base, approve_mass_change=True))


def write_demo_policy(directory: Path) -> Path:
    """`demo_policy()` as a policy file in ``directory``, for a process that reads HUMACRONA_POLICY_FILE (the
    Dagster of `humacrona dev`); rewritten on every start, so it follows policy.example.yaml."""
    import yaml

    from .state.files import write_private

    header = (f"# The policy of `humacrona demo` and `humacrona dev`: {DEMO_POLICY}.\n"
              f"# Written by humacrona from {DEMO_POLICY_FILE} on every start: edits here are lost.\n"
              "# To use your own, copy policy.example.yaml, edit it and point HUMACRONA_POLICY_FILE at the copy.\n")
    text = header + yaml.safe_dump(demo_policy().to_mapping(), sort_keys=False, allow_unicode=True)
    return write_private(directory / "policy.demo.yaml", text.encode("utf-8"))


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


def _confirm_sandboxes(sandboxes, command: str) -> None:
    """Sandboxes started here are ours to connect: confirm them (after their checks), so the syncs may write."""
    from .connection.check import confirm_sandboxes
    from .connection.user import os_user

    confirm_sandboxes(sandboxes, f"{os_user()} ({command}, sandboxes)")


def cmd_demo(args: argparse.Namespace) -> int:
    """A full "Synchronize users" on embedded sandboxes, told in a few lines per step: plan, sync, a second sync
    that finds nothing to do, and a change in Huma followed to Crona in real time. Dagster's own log lines stay
    off the terminal (every run is in the instance, for the Dagster UI); the report and the email come last."""
    from humacrona_sandbox.runner import SandboxOptions, start_sandboxes

    from . import launch
    from .core.wording import percent, plural, verb

    home = ensure_dagster_home()
    started = time.monotonic()
    _say("humacrona demo: Huma (HR) and Crona Lön (payroll) kept in sync by Dagster jobs, on local sandboxes")
    _say(f"1/5  Starting the sandboxes (local stand-ins for both systems): {args.employees} people, seed {args.seed},"
         " with the discrepancies real data has")
    options = SandboxOptions(employees=args.employees, seed=args.seed, huma_port=0, crona_port=0)
    with start_sandboxes(options) as sandboxes:
        _say(launch.line("Huma", sandboxes.huma_url))
        _say(launch.line("Crona", sandboxes.crona_url))
        resources = {**_sandbox_resources(sandboxes), "policy": demo_policy()}
        _confirm_sandboxes(sandboxes, "humacrona demo")

        guard = percent(resources["policy"].max_update_share)
        _say("2/5  Planning a sync (job plan_sync): a dry run, nothing is written")
        _say(launch.line("Policy", f"{DEMO_POLICY} (a first sync changes more employees than the {guard} guard"
                                   " allows)"))
        planned = launch.run_job("plan_sync", resources)
        if not planned.success:
            launch.say_failures(planned, _say)
            return 1
        launch.say_plan(planned, _say)
        launch.say_checks(planned, _say)

        _say("3/5  Synchronising (job sync_users): writes both systems, reads every write back, records it in the"
             " audit ledger")
        synced = launch.run_job("sync_users", resources)
        launch.say_sync(synced, _say, paths=False)
        if not synced.success:
            launch.say_failures(synced, _say)
            return 1

        _say("4/5  Synchronising again right away (job sync_users)")
        again = launch.run_job("sync_users", resources)
        if not again.success:
            launch.say_failures(again, _say)
            return 1
        left = launch.planned_writes(again)
        if left:
            _say(f"     NOT converged: the second sync still planned {plural(left, 'write')}")
            launch.say_sync(again, _say, paths=False)
            return 1
        held = launch.held_changes(again)
        _say("     Converged: nothing left to write" + (
            f"; {plural(held, 'held salary-account change')} still {verb(held, 'waits', 'wait')} for approval"
            " in the policy" if held else "."))

        _say("5/5  Real time: a change made in Huma reaches Crona within seconds")
        if not launch.demo_realtime(sandboxes, resources, _say, secret=DEMO_WEBHOOK_SECRET):
            return 1
    _say(f"Done in {time.monotonic() - started:.1f} s. Every run is in the Dagster instance {home}:"
         " `humacrona dev` started from here shows them in the Dagster UI.")
    for text in launch.report_lines(synced):
        _say(text)
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """"Synchronize users" against the systems the environment names (HUMA_*, CRONA_*), with a policy file."""
    from .connection.variables import Settings
    from .defs.policy import SyncPolicy

    if args.plan and args.dry_run:
        return _fail("humacrona sync: --plan applies a reviewed plan and --dry-run only plans; give one of them")
    try:
        policy = SyncPolicy.from_file(args.policy)
    except ValueError as error:
        return _fail(f"humacrona sync: {error}")
    settings = Settings.from_env()
    problem = settings.problem()
    if problem is not None:
        return _fail(problem)
    ensure_dagster_home()
    from . import launch
    from .cli_runs import failure_lines, problem_lines
    from .connection.check import connection_of
    from .state.confirmations import Confirmations

    connection = connection_of(settings)
    try:
        confirmed = Confirmations().latest(connection)
    except Exception as error:  # noqa: BLE001 - one line, whatever the database said
        return _fail(f"humacrona sync: cannot read the state database ({type(error).__name__}); check "
                     "HUMACRONA_STATE_URL or DAGSTER_HOME")
    if confirmed is None:
        if not args.dry_run:  # nothing is read or written before the administrator confirmed
            return _fail(connection.not_confirmed_line())
        _say(f"Note: {connection.not_confirmed_line()} (this dry run writes nothing).")
    job = "plan_sync" if args.dry_run else "sync_users"
    run_config = None
    if args.plan:
        from .defs.review import PLAN_OPTION

        run_config = {"ops": {"sync_plan": {"config": {PLAN_OPTION: args.plan}}}}
        _say(f"Running {job} with policy {args.policy}, applying the plan reviewed in run {_shown(args.plan)} ...")
    else:
        _say(f"Running {job} with policy {args.policy} ...")
    from .report.times import UnknownTimeZone

    try:
        result = launch.run_job(job, {"policy": policy}, run_config=run_config, verbose=args.verbose)
    except UnknownTimeZone as error:  # read when the code location loads; one line, like every setting
        return _fail(str(error))
    problems = problem_lines(result)
    if problems:
        return _fail("; ".join(problems))
    if not args.dry_run:
        launch.say_sync(result, _say)
    elif result.success:
        launch.say_plan(result, _say)
        _say(launch.line("To apply it", f"humacrona sync --policy {args.policy} --plan {result.run_id}"
                         " (exactly this plan; an employee that changes meanwhile is not written)"))
    if not result.success:
        for line in failure_lines(result):
            print(_shown(line), file=sys.stderr, flush=True)
        return 1
    launch.say_checks(result, _say)
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    """A new HUMACRONA_STORAGE_KEY on stdout, nothing else, so it can be captured (``export ...=$(humacrona key)``)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode("ascii"), flush=True)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Check both connections with the configured credentials; record the administrator's confirmation."""
    from .connection.variables import Settings

    settings = Settings.from_env()
    problem = settings.problem()
    if problem is not None:
        return _fail(problem)
    ensure_dagster_home()
    _quiet_connectors()
    from .connection.check import connection_of, format_rows, record, run_checks
    from .connection.user import os_user
    from .state.confirmations import STATEMENT, Confirmations

    connection = connection_of(settings)
    _say(f"Checking the connection: Huma {connection.huma_base_url} (client id {connection.huma_client_id}), "
         f"Crona Lön {connection.crona_base_url} ...")
    report = run_checks(settings)
    for line in format_rows(report.rows):
        _say(line)
    if not report.ok:  # never a confirmation for a connection that does not work
        return _fail(report.problem_line())
    try:
        existing = Confirmations().latest(connection)
    except Exception as error:  # noqa: BLE001 - one line, whatever the database said
        return _fail(f"humacrona check: cannot read the state database ({type(error).__name__}); check "
                     "HUMACRONA_STATE_URL or DAGSTER_HOME")
    by = args.by or os_user()
    if not args.confirm and existing is not None:
        _say(f"Confirmed by {existing.confirmed_by} at {existing.confirmed_at} UTC: syncs may write.")
        return 0
    if not args.confirm and not sys.stdin.isatty():
        _say(f"Not confirmed yet: {connection.not_confirmed_line()} (or `humacrona check` in a terminal), to"
             " record that you are authorised to connect these systems; until then a sync writes nothing.")
        return 0
    if not args.confirm:
        organisation = report.huma_organisation or "not named"
        company = report.crona_company or "not named"
        _say(f'"{STATEMENT}": Huma organisation {organisation} at {connection.huma_base_url}, Crona Lön company '
             f"{company} at {connection.crona_base_url}.")
        try:
            answer = input(f"Confirm this as {by}? Type yes to confirm: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("yes", "y"):
            _say("Not confirmed; nothing recorded.")
            return 1
    confirmation = record(report, settings, by)
    _say(f"Confirmed by {confirmation.confirmed_by} at {confirmation.confirmed_at} UTC: \"{STATEMENT}\" "
         f"({connection.described()}).")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from .dev import run_dev

    return run_dev(args)


def cmd_webhook(args: argparse.Namespace) -> int:
    from .webhook import serve

    return serve(args)


class _Version(argparse.Action):
    """`--version`: the installed distribution's version, looked up only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("humacrona")
        except PackageNotFoundError:
            found = "unknown (not installed)"
        print(f"humacrona {found}", flush=True)  # on stdout, as argparse's own version action does
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The command line; cheap to build (see the module docstring)."""
    from humacrona_sandbox.runner import add_arguments

    from .dev import add_arguments as add_dev_arguments
    from .webhook_options import add_arguments as add_webhook_arguments

    parser = argparse.ArgumentParser(prog="humacrona", description="Keep Huma and Crona Lön employees in sync.")
    parser.add_argument("--version", action=_Version, help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=description)

    sandbox = command("sandbox", "serve the Huma and Crona Lön sandboxes on 127.0.0.1 until stopped",
                      "Serve local emulators of the Huma Open API and the Crona Lön API, seeded with realistic "
                      "employees, and print the HUMA_*/CRONA_* variables that point the pipeline at them.")
    add_arguments(sandbox)
    sandbox.set_defaults(func=cmd_sandbox)

    demo = command("demo", "run the demo on embedded sandboxes",
                   "Start both sandboxes, plan (plan_sync), sync (sync_users) twice, and follow one change made "
                   "in Huma to Crona Lön in real time; prints what happened at each step.")
    demo.add_argument("--employees", type=int, default=200, help="people to seed (default %(default)s)")
    demo.add_argument("--seed", type=int, default=42, help="seed of the generated data (default %(default)s)")
    demo.set_defaults(func=cmd_demo)

    check = command("check", "check both connections and confirm the authority to connect them",
                    "Check the connections the HUMA_*/CRONA_* variables configure (token obtained, employees "
                    "readable; write permission is not checkable without a write), print what holds, and record "
                    "the administrator's confirmation that they are authorised to connect this Huma organisation "
                    "and this Crona Lön company. Syncs refuse to write until it is recorded.")
    check.add_argument("--confirm", action="store_true",
                       help="record the confirmation without asking (non-interactive); only when every check passed")
    check.add_argument("--by", metavar="NAME", default=None,
                       help="who confirms (default: the operating system user)")
    check.set_defaults(func=cmd_check)

    sync = command("sync", "Synchronize users: plan, write both systems, verify, audit, report, email",
                   "Run sync_users (or, with --dry-run, plan_sync) against the systems the HUMA_*/CRONA_* "
                   "variables name, with a resolution policy; the run is recorded in DAGSTER_HOME's instance.")
    sync.add_argument("--policy", required=True, type=Path, help="the resolution policy YAML (see policy.example.yaml)")
    sync.add_argument("--dry-run", action="store_true", help="plan only (job plan_sync); write nothing")
    sync.add_argument("--plan", metavar="RUN_ID", type=_run_id,
                      help="apply exactly the plan a --dry-run (plan_sync run) made, as it was reviewed: an employee"
                      " changed in either system since is not written and is reported as drifted")
    sync.add_argument("--verbose", action="store_true", help="show Dagster's log of the run on stderr")
    sync.set_defaults(func=cmd_sync)

    dev = command("dev", "serve the sandboxes and the Dagster UI (webserver and daemon) pointed at them",
                  "Start both sandboxes and `dagster dev` on this code location with the sandbox variables, and "
                  "print the UI's links; Ctrl-C stops everything.")
    add_dev_arguments(dev)
    dev.set_defaults(func=cmd_dev)

    webhook = command("webhook", "receive Huma's webhooks (POST /huma/webhook) into the inbox until stopped",
                      "Serve the receiver Huma's webhooks are registered to: it checks each delivery's signature "
                      "(HUMACRONA_WEBHOOK_SECRET) and/or Bearer token (HUMACRONA_WEBHOOK_TOKEN) and stores it in the "
                      "inbox for huma_changes_sensor.")
    add_webhook_arguments(webhook)
    webhook.set_defaults(func=cmd_webhook)

    key = command("key", "print a new HUMACRONA_STORAGE_KEY (a Fernet key)",
                  "Print a new random key for HUMACRONA_STORAGE_KEY: with it, the outputs Dagster keeps between "
                  "runs (under DAGSTER_HOME/storage) are encrypted; without it they are kept in memory for the run "
                  "only. Keep it like a password; a new key makes the stored outputs unreadable (rerun the jobs).")
    key.set_defaults(func=cmd_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
