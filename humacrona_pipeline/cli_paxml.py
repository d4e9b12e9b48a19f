"""`humacrona paxml export --policy FILE --out FILE`: the command line of `paxml_export`, for setting up a new
Crona Lön payroll from Huma. Building the parser imports nothing heavy (`humacrona --help` stays fast); the work,
with Dagster and pandas, is imported when the command runs. Only the Huma variables are needed: Crona is not
reached, the file is what goes to it. Exit codes as for the other commands: 2 a misconfiguration (one line), 1 a
failure, 0 done; also 0, with the reason said, when the policy creates nobody, since nothing failed and nothing is
misconfigured for an export (an empty Huma, or a list of employees who are all quarantined, is legitimate)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .terminal import fail as _fail
from .terminal import say as _say

COMMAND = "humacrona paxml export"


def add_paxml(sub) -> None:
    """`paxml` and its one action, `export`, on the `humacrona` parser."""
    paxml = sub.add_parser(
        "paxml", help="PAXml files for Crona Lön: export the employees to create in a new payroll",
        description="Work with PAXml 2.0, the file format Crona Lön imports. `humacrona paxml export` writes every "
        "Huma employee the policy would create in Crona Lön as one validated file, for setting up a new payroll.")
    actions = paxml.add_subparsers(dest="paxml_command", required=True, metavar="ACTION",
                                   help="export: write the PAXml file of a new payroll")
    export = actions.add_parser(
        "export", help="write every Huma employee the policy would create in Crona Lön as one PAXml file",
        description="Read Huma (HUMA_* variables; Crona is not reached), plan as a sync against an empty Crona Lön "
        "with the policy (create_in_crona decides who; quarantined values are left out, employees Crona cannot "
        "hold are not included, each with the reason), and write those employees as one PAXml 2.0 file, validated "
        "against the schema, for Crona Lön's PAXml import. Nothing is written to Huma, Crona or the audit ledger.")
    export.add_argument("--policy", required=True, type=Path,
                        help="the resolution policy YAML (its create_in_crona: [all] or a list of work emails)")
    export.add_argument("--out", required=True, type=Path,
                        help="the PAXml file to write (it holds full salary accounts; readable by you only)")
    export.add_argument("--force", action="store_true", help="replace --out when it exists")
    export.add_argument("--verbose", action="store_true", help="show Dagster's log of the planning run on stderr")
    export.set_defaults(func=cmd_paxml_export)


def _misconfiguration(args: argparse.Namespace):
    """The policy when the command can run; else the one line saying what to fix (a ValueError)."""
    from .connection.variables import HUMA, of_system, problem_line
    from .defs.policy import SyncPolicy
    from .paxml_export import refusal

    try:
        policy = SyncPolicy.from_file(args.policy)
    except ValueError as error:
        raise ValueError(f"{COMMAND}: {error}") from error
    problem = problem_line(names=tuple(v.name for v in of_system(HUMA)))
    if problem is not None:
        raise ValueError(f"{COMMAND}: {problem}")
    out: Path = args.out
    if out.is_dir():
        raise ValueError(f"{COMMAND}: --out {out} is a folder; name the file to write")
    if out.exists() and not args.force:
        raise ValueError(refusal(out))
    if not out.resolve().parent.is_dir():
        raise ValueError(f"{COMMAND}: no folder {out.resolve().parent} for --out")
    return policy


def cmd_paxml_export(args: argparse.Namespace) -> int:
    try:
        policy = _misconfiguration(args)
    except ValueError as error:
        return _fail(str(error))
    from .paxml_export import ExportFailed, export
    from .report.times import UnknownTimeZone

    _say(f"Reading Huma and planning with policy {args.policy} against an empty Crona Lön (nothing is written to"
         " Huma or Crona) ...")
    try:
        done = export(policy, args.out, force=args.force, verbose=args.verbose)
    except UnknownTimeZone as error:  # read when the code location loads; one line, like every setting
        return _fail(str(error))
    except ExportFailed as failed:
        for detail in failed.details:
            _say(detail, err=True)
        return _fail(str(failed), failed.code)
    for text in summary(done):
        _say(text)
    return 0


def _nobody(done, excluded: set[str]) -> str:
    """Why the file would hold nobody."""
    from .core.policy import NONE
    from .paxml_export import NOT_SELECTED

    if done.policy_rule.endswith(NONE):
        return (f"the policy creates nobody in Crona Lön ({done.policy_rule}): set create_in_crona to [all] or to a"
                " list of work emails")
    if not done.huma_employees:
        return "Huma has no employees"
    if excluded == {NOT_SELECTED}:
        return f"the policy selects none of the Huma employees ({done.policy_rule}): list their work emails, or [all]"
    return "none of the Huma employees the policy selects can be created in Crona Lön (see above)"


def summary(done) -> list[str]:
    """What the export wrote and left out, in the words of a payroll administrator (`paxml_export.Export`)."""
    from .core.wording import plural
    from .launch import line
    from .paxml_export import EXCLUSIONS, NOT_SELECTED

    lines = [line("In the file", f"{plural(len(done.included), 'employee')} of {done.huma_employees} in Huma"
                  f" ({done.policy_rule})")]
    if done.left_out:
        lines.append(line("Left out", f"{plural(len(done.left_out), 'value')}, so the file has those employees"
                          " without them:"))
        lines += [line("", f"{employee}: {label}: {reason}") for employee, label, reason in done.left_out]
    excluded = {category: done.excluded[category] for category in EXCLUSIONS if done.excluded.get(category)}
    if excluded:
        counts = ", ".join(f"{len(found)} {category}" + (f" ({done.policy_rule})" if category == NOT_SELECTED else "")
                           for category, found in excluded.items())
        lines.append(line("Not included", f"{plural(sum(map(len, excluded.values())), 'Huma employee')}: {counts}"))
        for category, found in excluded.items():
            if category != NOT_SELECTED:  # the policy's choice needs no reason per employee
                lines += [line("", f"{category}: {employee}: {reason}") for employee, reason in found.items()]
    lines += [line("Check", warning) for warning in done.warnings]
    if done.path is None:
        return [*lines, f"No file written: {_nobody(done, set(excluded))}."]
    return [*lines, f"{'PAXml file':<14} {done.path} (PAXml 2.0, validated against the schema; it holds full salary"
            " accounts, so it is readable by you only)",
            f"{'Next':<14} import it in Crona Lön with its PAXml import; then the employees are in the payroll"]
