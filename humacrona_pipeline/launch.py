"""Launching the code location's jobs from the command line (`humacrona sync`, `humacrona demo`) and saying
what they did. Counts and masked values only: nothing printed here can carry a bank account or a secret."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import dagster as dg
import pandas as pd

from .core.fields import SYSTEM_NAMES

Say = Callable[[str], None]
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def run_job(name: str, resources: Mapping[str, object], *, quiet: bool = False) -> dg.ExecuteInProcessResult:
    """Run one job of the code location on the current Dagster instance (DAGSTER_HOME), with ``resources``
    replacing the environment-bound ones they name."""
    from .definitions import build_defs

    located = build_defs(resources)
    job = located.resolve_job_def(name)
    return job.execute_in_process(instance=dg.DagsterInstance.get(), raise_on_error=False,
                                  run_config=None if quiet else CONSOLE_INFO)


def counted(values: pd.Series) -> str:
    """Labels with their counts, most frequent first ("matched 56, huma_only 2"); "none" when empty."""
    counts = values.value_counts()
    return ", ".join(f"{label} {n}" for label, n in counts.items()) or "none"


def say_failures(result: dg.ExecuteInProcessResult, say: Say) -> None:
    for event in result.all_events:
        if event.is_failure and event.step_key:
            say(f"     FAILED {event.step_key}: {event.message}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            say(f"     check {evaluation.check_name} failed ({evaluation.severity.value}): {evaluation.description}")


def say_checks(result: dg.ExecuteInProcessResult, say: Say) -> None:
    for evaluation in result.get_asset_check_evaluations():
        verdict = "passed" if evaluation.passed else f"failed ({evaluation.severity.value})"
        say(f"     check {evaluation.check_name:<24} {verdict}: {evaluation.description or ''}")


def say_plan(result: dg.ExecuteInProcessResult, say: Say) -> None:
    """What the run found and planned (works for `plan_sync` and `sync_users`)."""
    huma = result.output_for_node("huma_employees")
    crona = result.output_for_node("crona_employees")
    matches = result.output_for_node("employee_matches")
    conflicts = result.output_for_node("employee_conflicts")
    plan = result.output_for_node("sync_plan")
    ops = plan.operations
    say(f"     Employees           Huma {len(huma.frame)}, Crona {len(crona.frame)}")
    say(f"     Quarantined values  Huma {len(huma.quarantine)}, Crona {len(crona.quarantine)}")
    say(f"     Matches             {counted(matches['status'])}")
    say(f"     Conflicts           {counted(conflicts['kind'])}")
    if len(conflicts):
        say(f"       by field          {counted(conflicts['field'])}")
    say(f"     Plan operations     {counted(ops['target'] + ' ' + ops['action'])}")
    say(f"     Not planned         {counted(plan.not_planned['category'])}")


def planned_writes(result: dg.ExecuteInProcessResult) -> int:
    """Operations the plan asks to write now (held ones wait for approval and are not counted)."""
    ops = result.output_for_node("sync_plan").operations
    return int((ops["action"] != "held").sum())


def say_sync(result: dg.ExecuteInProcessResult, say: Say) -> None:
    """What the apply did per system, and where the report and the email went."""
    for node in ("crona_writeback", "huma_writeback"):
        try:
            outcomes = result.output_for_node(node)
        except Exception:  # the step did not run (a guard or a check stopped it)
            say(f"     {node:<16} not run")
            continue
        system = SYSTEM_NAMES["crona" if node.startswith("crona") else "huma"]
        shown = counted(outcomes["action"] + " " + outcomes["status"]) if len(outcomes) else "nothing to write"
        say(f"     {system:<6} {shown}")
    try:
        report = result.output_for_node("sync_report")
    except Exception:
        return
    say(f"     Report  {report['report_path']}")
    say(f"     Email   {report['subject']!r} -> {report['email']}")


def demo_realtime(sandboxes, resources: Mapping[str, object], say: Say, *, secret: str) -> bool:
    """One change made in Huma, followed to Crona: webhook (signed) → receiver → inbox → one sensor tick →
    the push run. The sensor is evaluated here, once, as the daemon would; True when Crona holds the value."""
    import time

    from .core.fields import BY_NAME
    from .definitions import build_defs
    from .defs.realtime.jobs import JOB_NAME
    from .defs.realtime.resources import InboxResource
    from .defs.realtime.sensors import huma_changes_sensor
    from .sandbox.server import BackgroundServer
    from .state.inbox import Inbox
    from .webhook import build_app

    inbox = Inbox()
    receiver = BackgroundServer(build_app(secret, None, inbox), port=0).start()
    try:
        sandboxes.huma.register_webhook(receiver.url + "/huma/webhook", secret=secret)
        planted = {d.email for d in sandboxes.seeded.discrepancies}  # someone both systems hold alike
        person = next(u for u in sandboxes.seeded.huma_users if u["email"].lower() not in planted)
        column = BY_NAME["family_name"].crona_columns[0]
        new_name = f"{person['familyName']}-Realtid"
        before, cursor = inbox.count(), str(inbox.last_id())  # a demo run again starts after its earlier events
        started = time.monotonic()
        sandboxes.huma.admin_update_user(person["id"], {"familyName": new_name})
        say(f"     Changed {person['email']}'s family name in Huma (as HR would in Huma's UI) to {new_name!r}")
        while inbox.count() == before:
            if time.monotonic() - started > 30:
                say("     no webhook arrived within 30 s")
                return False
            time.sleep(0.05)
        say(f"     webhook received and stored in the inbox after {time.monotonic() - started:.2f} s")
        instance = dg.DagsterInstance.get()
        tick = huma_changes_sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                            resources={"inbox": InboxResource()}))
        located = build_defs(resources)
        for request in tick.run_requests:
            say(f"     sensor huma_changes_sensor requested run {request.run_key}")
            run = located.resolve_job_def(JOB_NAME).execute_in_process(
                run_config=request.run_config, tags=request.tags, instance=instance, raise_on_error=False)
            if not run.success:
                say_failures(run, say)
                return False
        employee = _crona_employee(resources, person.get("employmentId"))
        arrived = employee is not None and employee.get(column) == new_name
        say(f"     Crona now has {column} = {employee.get(column) if employee else None!r} for"
            f" {person['email']}, {time.monotonic() - started:.2f} s after the change in Huma"
            if arrived else "     the change did NOT arrive in Crona")
        return arrived
    finally:
        receiver.stop()


def _crona_employee(resources: Mapping[str, object], anstnr) -> dict | None:
    import asyncio

    if not anstnr:
        return None
    client = resources["crona"].client()

    async def read():
        async with client:
            return await client.get_employee(anstnr)

    return asyncio.run(read())
