"""The `humacrona` command: check, sync, the PAXml export for a new Crona Lön, the webhook receiver and the storage
key; and, git-style, the commands other installed distributions contribute (entry-point group `COMMANDS_GROUP`:
in a clone of the repository the development package humacrona_sandbox adds `sandbox`, `demo` and `dev`; a
deployed wheel has none).

Building the parser and answering `--help` import nothing heavy (no Dagster, pandas, httpx, Starlette or
SQLAlchemy), and no contributed command: they are listed from their distributions' metadata and loaded only to
run. Each command imports what it needs when it runs. Errors go to stderr; a misconfiguration is one line there
and exit code 2, as is an unknown command (every command listed, the close ones suggested) or a contributed one
that cannot be loaded."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import sys
from pathlib import Path

from .cli_connection import add_connection_option, connection_settings, sync_policy
from .cli_paxml import add_paxml as _add_paxml
from .terminal import fail as _fail
from .terminal import say as _say
from .terminal import shown as _shown

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Entry points: a command name -> a callable given the rest of argv, returning the exit code.
COMMANDS_GROUP = "humacrona.commands"
OWN_COMMANDS = ("check", "sync", "paxml", "webhook", "key")
# `humacrona sync --detailed-exitcode`, as `terraform plan -detailed-exitcode`: CHANGES_EXIT_CODE when the dry run
# planned writes to make now, or the sync sent writes; else 0; 1 an error, 2 a misconfiguration (as without it).
CHANGES_EXIT_CODE = 3
# The development package's commands: named only to say, when one is asked for and missing, where it comes from.
DEVELOPMENT_COMMANDS = ("sandbox", "demo", "dev")


def ensure_dagster_home() -> Path:
    """The Dagster home folder (`state.home.dagster_home`: $DAGSTER_HOME, else ./.dagster_home), absolute, in
    $DAGSTER_HOME for Dagster, holding a copy of the repository's dagster.yaml when it has none."""
    from .state.home import DAGSTER_HOME_ENV, dagster_home

    home = dagster_home().resolve()
    template = PROJECT_ROOT / "dagster.yaml"
    if template.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(template, home / "dagster.yaml")
    os.environ[DAGSTER_HOME_ENV] = str(home)
    return home


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


def _confirmed(connection, command: str):
    """The connection's latest confirmation (None: none yet); a state database that cannot be read is a
    `RuntimeError` carrying the one line to print."""
    from .state.confirmations import Confirmations

    try:
        return Confirmations().latest(connection)
    except Exception as error:  # noqa: BLE001 - one line, whatever the database said
        raise RuntimeError(f"humacrona {command}: cannot read the state database ({type(error).__name__}); check "
                           "HUMACRONA_STATE_URL or DAGSTER_HOME") from error


def _sync_ready(args: argparse.Namespace):
    """The connection and policy `cmd_sync` runs with, once the options, the settings and the confirmation allow
    the run; a ValueError carries the one line to print instead."""
    from .connection.check import connection_of

    if args.plan and args.dry_run:
        raise ValueError("humacrona sync: --plan applies a reviewed plan and --dry-run only plans; give one of them")
    chosen, settings = connection_settings(args, "sync")
    policy, policy_path = sync_policy(args, chosen)
    problem = settings.problem()
    if problem is not None:
        raise ValueError(problem)
    ensure_dagster_home()
    connection = connection_of(settings, chosen.name)
    try:
        confirmed = _confirmed(connection, "sync")
    except RuntimeError as error:
        raise ValueError(str(error)) from error
    if confirmed is None and not args.dry_run:  # nothing is read or written before the administrator confirmed
        raise ValueError(connection.not_confirmed_line())
    if confirmed is None:
        _say(f"Note: {connection.not_confirmed_line()} (this dry run writes nothing).")
    return chosen, policy, policy_path


def cmd_sync(args: argparse.Namespace) -> int:
    """"Synchronize users" for one connection (HUMA_*, CRONA_*, or one of the connections file's), with its policy."""
    try:
        chosen, policy, policy_path = _sync_ready(args)
    except ValueError as error:
        return _fail(str(error))
    from . import launch
    from .cli_runs import failure_lines, problem_lines
    from .report.times import UnknownTimeZone

    job = "plan_sync" if args.dry_run else "sync_users"
    run_config = None
    if args.plan:
        from .defs.review import PLAN_OPTION

        run_config = {"ops": {"sync_plan": {"config": {PLAN_OPTION: args.plan}}}}
    from .connection.connections import DEFAULT_NAME

    whom = f" for connection {chosen.name}" if chosen.name != DEFAULT_NAME else ""
    policy_name = policy_path or "default"
    if args.plan:
        _say(f"Running {job}{whom} with policy {policy_name}, applying the plan reviewed in run {_shown(args.plan)}"
             " ...")
    else:
        _say(f"Running {job}{whom} with policy {policy_name} ...")
    try:
        result = launch.run_job(job, {"policy": policy}, partition_key=chosen.name, run_config=run_config,
                                verbose=args.verbose)
    except UnknownTimeZone as error:  # read when the code location loads; one line, like every setting
        return _fail(str(error))
    problems = problem_lines(result)
    if problems:
        return _fail("; ".join(problems))
    if not args.dry_run:
        launch.say_sync(result, _say)
    elif result.success:
        launch.say_plan(result, _say)
        again = f"--connection {chosen.name}" if args.policy is None else f"--policy {args.policy}"
        _say(launch.line("To apply it", f"humacrona sync {again} --plan {result.run_id}"
                         " (exactly this plan; an employee that changes meanwhile is not written)"))
    if not result.success:
        for line in failure_lines(result):
            _say(line, err=True)
        return 1
    launch.say_checks(result, _say)
    if not args.detailed_exitcode:
        return 0
    changes = launch.planned_writes(result) if args.dry_run else launch.writes_made(result)
    return CHANGES_EXIT_CODE if changes else 0


def cmd_key(args: argparse.Namespace) -> int:
    """A new HUMACRONA_STORAGE_KEY on stdout, nothing else, so it can be captured (``export ...=$(humacrona key)``)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode("ascii"), flush=True)
    return 0


def _ask(report, connection, by: str) -> bool:
    """At a terminal: the statement, what it is about, and the administrator's yes (True) or anything else."""
    from .state.confirmations import STATEMENT

    organisation = report.huma_organisation or "not named"
    company = report.crona_company or "not named"
    _say(f'"{STATEMENT}": Huma organisation {organisation} at {connection.huma_base_url}, Crona Lön company '
         f"{company} at {connection.crona_base_url}.")
    try:
        answer = input(f"Confirm this as {by}? Type yes to confirm: ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("yes", "y")


def cmd_check(args: argparse.Namespace) -> int:
    """Check both connections with the configured credentials; record the administrator's confirmation."""
    try:
        chosen, settings = connection_settings(args, "check")
    except ValueError as error:
        return _fail(str(error))
    problem = settings.problem()
    if problem is not None:
        return _fail(problem)
    ensure_dagster_home()
    _quiet_connectors()
    from .connection.check import connection_of, format_rows, record, run_checks
    from .connection.user import os_user
    from .state.confirmations import STATEMENT

    connection = connection_of(settings, chosen.name)
    _say(f"Checking the connection: Huma {connection.huma_base_url} (client id {connection.huma_client_id}), "
         f"Crona Lön {connection.crona_base_url} ...")
    report = run_checks(settings)
    for line in format_rows(report.rows):
        _say(line)
    if not report.ok:  # never a confirmation for a connection that does not work
        return _fail(report.problem_line())
    try:
        existing = _confirmed(connection, "check")
    except RuntimeError as error:
        return _fail(str(error))
    by = args.by or os_user()
    if not args.confirm and existing is not None:
        _say(f"Confirmed by {existing.confirmed_by} at {existing.confirmed_at} UTC: syncs may write.")
        return 0
    if not args.confirm and not sys.stdin.isatty():
        _say(f"Not confirmed yet: {connection.not_confirmed_line()} (or `humacrona check` in a terminal), to"
             " record that you are authorised to connect these systems; until then a sync writes nothing.")
        return 0
    if not args.confirm and not _ask(report, connection, by):
        _say("Not confirmed; nothing recorded.")
        return 1
    confirmation = record(report, settings, by, name=chosen.name)
    _say(f"Confirmed by {confirmation.confirmed_by} at {confirmation.confirmed_at} UTC: \"{STATEMENT}\" "
         f"({connection.described()}).")
    return 0


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


def contributed_commands() -> dict:
    """The commands installed distributions contribute, by name (`COMMANDS_GROUP` entry points), read from their
    metadata: nothing of theirs is imported here."""
    from importlib.metadata import entry_points

    return {entry.name: entry for entry in entry_points(group=COMMANDS_GROUP) if entry.name not in OWN_COMMANDS}


def _add_check(sub) -> None:
    check = sub.add_parser(
        "check", help="check both connections and confirm the authority to connect them",
        description="Check the connections the HUMA_*/CRONA_* variables configure (token obtained, employees "
        "readable; write permission is not checkable without a write), print what holds, and record the "
        "administrator's confirmation that they are authorised to connect this Huma organisation and this Crona "
        "Lön company. Syncs refuse to write until it is recorded.")
    check.add_argument("--confirm", action="store_true",
                       help="record the confirmation without asking (non-interactive); only when every check passed")
    check.add_argument("--by", metavar="NAME", default=None, help="who confirms (default: the operating system user)")
    add_connection_option(check)
    check.set_defaults(func=cmd_check)


def _add_sync(sub) -> None:
    sync = sub.add_parser(
        "sync", help="Synchronize users: plan, write both systems, verify, audit, report, email",
        description="Run sync_users (or, with --dry-run, plan_sync) against the systems the HUMA_*/CRONA_* "
        "variables name, with a resolution policy; the run is recorded in DAGSTER_HOME's instance.")
    sync.add_argument("--policy", type=Path, help="the resolution policy YAML (see policy.example.yaml); required "
                      "without a connections file, and left out with one (each connection names its policy)")
    add_connection_option(sync)
    sync.add_argument("--dry-run", action="store_true", help="plan only (job plan_sync); write nothing")
    sync.add_argument("--plan", metavar="RUN_ID", type=_run_id,
                      help="apply exactly the plan a --dry-run (plan_sync run) made, as it was reviewed: an employee"
                      " changed in either system since is not written and is reported as drifted")
    sync.add_argument("--detailed-exitcode", action="store_true",
                      help=f"exit {CHANGES_EXIT_CODE} with --dry-run when the plan has writes to make now (held"
                      " salary-account changes do not count), without it when the sync sent writes to Huma or Crona"
                      " Lön (read back as written or not, failed ones included; drifted, held and skipped operations"
                      " were not sent); else 0 (1 on an error, 2 on a misconfiguration); for scripts, as `terraform"
                      " plan -detailed-exitcode`")
    sync.add_argument("--verbose", action="store_true", help="show Dagster's log of the run on stderr")
    sync.set_defaults(func=cmd_sync)


def _add_webhook(sub) -> None:
    from .webhook_options import add_arguments

    webhook = sub.add_parser(
        "webhook", help="receive Huma's webhooks (POST /huma/webhook) into the inbox until stopped",
        description="Serve the receiver Huma's webhooks are registered to: it checks each delivery's signature "
        "(HUMACRONA_WEBHOOK_SECRET) and/or Bearer token (HUMACRONA_WEBHOOK_TOKEN), stores it in the inbox and "
        "starts its push run at once (the huma_changes_sensor is the backstop, and starts them itself when the "
        "receiver is not set up to; its first lines say which).")
    add_arguments(webhook)
    webhook.set_defaults(func=cmd_webhook)


def _add_key(sub) -> None:
    key = sub.add_parser(
        "key", help="print a new HUMACRONA_STORAGE_KEY (a Fernet key)",
        description="Print a new random key for HUMACRONA_STORAGE_KEY: with it, the outputs Dagster keeps between "
        "runs (under DAGSTER_HOME/storage) are encrypted; without it they are kept in memory for the run only. Keep "
        "it like a password; a new key makes the stored outputs unreadable (rerun the jobs).")
    key.set_defaults(func=cmd_key)


def _source(entry) -> str:
    """The distribution that contributes ``entry`` (its top-level module when the metadata does not say)."""
    return getattr(getattr(entry, "dist", None), "name", None) or entry.module.split(".")[0]


def _add_contributed(sub, contributed: dict) -> None:
    """A line in --help for each contributed command; argparse never runs them (`main` hands them their argv)."""
    for name, entry in sorted(contributed.items()):
        source = _source(entry)
        sub.add_parser(name, add_help=False,
                       help=f"from {source} (`humacrona {name} --help` says more)",
                       description=f"`humacrona {name}` is contributed by {source} ({entry.value}); its own --help"
                       " describes it.")


def build_parser(contributed: dict | None = None) -> argparse.ArgumentParser:
    """The command line; cheap to build (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="humacrona", description="Keep Huma and Crona Lön employees in sync.")
    parser.add_argument("--version", action=_Version, help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_check(sub)
    _add_sync(sub)
    _add_paxml(sub)
    _add_webhook(sub)
    _add_key(sub)
    _add_contributed(sub, contributed_commands() if contributed is None else contributed)
    return parser


def _unknown(name: str, contributed: dict) -> int:
    """One line: every command this installation has, the close ones suggested; for a development command, where
    it comes from."""
    available = [*OWN_COMMANDS, *sorted(contributed)]
    text = f"humacrona: no command {name!r} (commands: {', '.join(available)})"
    close = difflib.get_close_matches(name, available, n=3)
    if close:
        text += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    if name in DEVELOPMENT_COMMANDS:
        text += (f"; `humacrona {name}` comes with the development install: a clone of the repository, then"
                 f" `python -m uv run --locked humacrona {name}`")
    return _fail(text)


def _run_contributed(name: str, entry, argv: list[str]) -> int:
    """Load a contributed command and run it; one that cannot be loaded is one line, exit 2."""
    try:
        command = entry.load()
    except (ImportError, AttributeError) as error:
        return _fail(f"humacrona: the command {name!r} from {_source(entry)} cannot be loaded ({entry.value}:"
                     f" {type(error).__name__}: {error})")
    return command(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one command; a contributed one (`contributed_commands`) is loaded and given the rest of ``argv``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and not argv[0].startswith("-") and argv[0] not in OWN_COMMANDS:
        contributed = contributed_commands()
        entry = contributed.get(argv[0])
        if entry is None:
            return _unknown(argv[0], contributed)
        return _run_contributed(argv[0], entry, argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
