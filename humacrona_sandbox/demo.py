"""`humacrona demo`: a full "Synchronize users" on embedded sandboxes, told in a few lines per step: plan, sync, a
second sync that finds nothing to do, and a change made in Huma followed to Crona Lön in real time.

It drives the product as a user does: the sandboxes run in this process; everything else is the `humacrona`
command in subprocesses, with the documented environment variables (`product`): `humacrona check --confirm`,
`humacrona sync --dry-run`, `humacrona sync` twice (its `--detailed-exitcode` tells whether anything was left to
write) and `humacrona webhook`, the receiver Huma's webhooks are registered to, which pushes each change it stores.
The lines `humacrona sync` prints are shown as it prints them; Dagster's own log lines stay off the terminal (every
run is in the instance, for the Dagster UI); the report and the email come last.

With `--crona-channel paxml` Crona Lön is reached through PAXml files instead of its API (`demo_paxml`): the sync
reads Crona's export from a folder and writes its changes as an import file there, which the demo imports into
the Crona sandbox as the payroll administrator would; the next sync reads the new export and finds the file's
operations applied. The real-time step is skipped: on that channel a change is written in the next sync's file."""

from __future__ import annotations

import argparse
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .product import (
    DEMO_POLICY,
    WEBHOOK_SECRET_ENV,
    WEBHOOK_TOKEN_ENV,
    confirm_sandboxes,
    dagster_home,
    humacrona_command,
    product_environment,
    say,
    write_demo_policy,
)
from .runner import RunningSandboxes, SandboxOptions, start_sandboxes

if TYPE_CHECKING:
    from .demo_paxml import PaxmlFolder  # loaded with the PAXml story only: `humacrona demo --help` stays light

DEMO_WEBHOOK_SECRET = "demo-webhook-secret"  # the demo's receiver and Huma sandbox only: never a real Huma secret
CHANGES_EXIT_CODE = 3  # `humacrona sync --detailed-exitcode`: writes were planned (--dry-run) or made
INDENT = "     "
LABEL_WIDTH = 16  # as `humacrona sync` aligns its lines
RECEIVER_TIMEOUT_S = 120  # for `humacrona webhook` to say READY (it loads the push in the background)
ARRIVAL_TIMEOUT_S = 60  # for a change made in Huma to reach Crona
CRONA_EMPLOYEES = "employees"  # the Crona sandbox's collection, keyed by AnstNr
FAMILY_NAME = ("familyName", "EfNamn")  # the family name in Huma's API and in Crona Lön's
CHANNELS = ("api", "paxml")  # `--crona-channel`: Crona Lön's API, or its PAXml files
# The second sync's line on the operations of the earlier import file (its Ledger line): how many it found in Crona
RESOLVED = re.compile(r"\b(\d+) applied, (\d+) not applied\b")


def line(label: str, text: str) -> str:
    """One aligned line of a step, as `humacrona sync` prints its own: ``label`` in the left column."""
    return f"{INDENT}{label:<{LABEL_WIDTH}} {text}"


class Receiver:
    """`humacrona webhook` on 127.0.0.1 (a free port), with the demo's client secret and the sandboxes' variables,
    so it pushes each change it stores. Started during the second sync (`start`), so it has loaded the push by
    step 5 without slowing the first steps down; its log goes to a temporary file, shown only when something
    failed."""

    def __init__(self, env: dict[str, str]):
        self.env = {key: value for key, value in env.items() if key != WEBHOOK_TOKEN_ENV}
        self.env[WEBHOOK_SECRET_ENV] = DEMO_WEBHOOK_SECRET
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed by stop()
        self.lines: queue.Queue[str | None] = queue.Queue()

    def start(self) -> None:
        self.proc = subprocess.Popen([*humacrona_command(), "webhook", "--host", "127.0.0.1", "--port", "0"],
                                     env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        threading.Thread(target=self._read, name="demo-receiver-stdout", daemon=True).start()

    def _read(self) -> None:
        for text in self.proc.stdout:
            self.lines.put(text.rstrip("\n"))
        self.lines.put(None)

    def url(self) -> str | None:
        """The URL it prints for Huma (its WEBHOOK_URL line), once it is READY; None when it did not get there."""
        if self.proc is None:
            self.start()
        url, deadline = None, time.monotonic() + RECEIVER_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                text = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if text is None or text == "READY":
                return url if text else None
            if text.startswith("WEBHOOK_URL="):
                url = text.partition("=")[2]
        return None

    def log_tail(self, lines: int = 15) -> list[str]:
        self.log.seek(0)
        return self.log.read().splitlines()[-lines:]

    def stop(self) -> None:
        """Stop it as Ctrl-C would: it lets a push it started finish, so the run is complete in the instance."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_sync(env: dict[str, str], policy: Path, *options: str,
             shown: list[str] | None = None) -> tuple[int, list[str]]:
    """`humacrona sync --policy <policy> --detailed-exitcode <options>`: the lines it prints about what it planned,
    wrote and checked are shown as it prints them (and added to ``shown``); the ones naming the report and the
    email are returned, to end the demo with. What it said on stderr (kept in a temporary file meanwhile) is shown
    when it failed. Returns (its exit code, those lines)."""
    kept, shown = [], shown if shown is not None else []
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as errors:
        with subprocess.Popen([*humacrona_command(), "sync", "--policy", str(policy), "--detailed-exitcode",
                               *options], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                              text=True) as proc:
            for text in proc.stdout:
                text = text.rstrip("\n")
                if text.startswith(("Report", "Email")):
                    kept.append(text)
                elif not text.startswith("Running "):  # the step's title says what runs
                    shown.append(text)
                    say(text if text.startswith(" ") else INDENT + text)
        if proc.returncode not in (0, CHANGES_EXIT_CODE):
            errors.seek(0)
            for text in errors.read().splitlines():
                say(f"{INDENT}{text}")
    return proc.returncode, kept


def _plan(env: dict[str, str], policy: Path) -> bool:
    """Step 2, the dry run; False when it failed (it said why)."""
    say("2/5  Planning a sync (humacrona sync --dry-run): a dry run, nothing is written")
    say(line("Policy", f"{DEMO_POLICY} (a first sync changes more employees than the example's mass-change"
             " guard allows)"))
    code, _ = run_sync(env, policy, "--dry-run")
    return code in (0, CHANGES_EXIT_CODE)


def _converged(code: int) -> bool:
    """Whether a sync run with --detailed-exitcode found nothing left to write (it says so either way)."""
    if code == CHANGES_EXIT_CODE:
        say(f"{INDENT}NOT converged: the second sync still had something to write")
    if code != 0:
        return False
    say(f"{INDENT}Converged: nothing left to write (`humacrona sync --detailed-exitcode` exited 0).")
    return True


def _syncs(env: dict[str, str], policy: Path, receiver: Receiver) -> list[str] | None:
    """Steps 2 to 4; the first sync's report lines, or None when a step failed (it said why)."""
    if not _plan(env, policy):
        return None
    say("3/5  Synchronising (humacrona sync): writes both systems, reads every write back, records it in the"
        " audit ledger")
    code, report = run_sync(env, policy)
    if code not in (0, CHANGES_EXIT_CODE):
        return None
    say("4/5  Synchronising again right away (humacrona sync)")
    receiver.start()  # for step 5
    code, _ = run_sync(env, policy)
    return report if _converged(code) else None


def _paxml_syncs(env: dict[str, str], policy: Path, folder: PaxmlFolder) -> list[str] | None:
    """Steps 2 to 4 on the PAXml channel: plan, sync (an import file), the administrator's import and export in
    Crona Lön, sync again; the first sync's report lines, or None when a step failed (it said why)."""
    if not _plan(env, policy):
        return None
    say("3/5  Synchronising (humacrona sync): writes Huma, and Crona's changes as one PAXml import file")
    code, report = run_sync(env, policy)
    if code not in (0, CHANGES_EXIT_CODE):
        return None
    files = folder.import_files()
    if not files:
        say(f"{INDENT}No import file was written in {folder.imports}")
        return None
    written = files[-1]  # the sync said where ("Import file") and what to do with it ("To do")
    answer = folder.import_into_crona(written)
    counts = answer.counts
    say(line("Crona Lön", f"the administrator imports the file ({plural(folder.employees_in(written), 'employee')}):"
             f" {counts['applied']} applied ({counts['created']} created, {counts['updated']} updated),"
             f" {counts['refused']} refused"))
    for text in answer.refusals[:3]:
        say(line("", f"refused {text}"))
    exported = folder.export_from_crona()
    say(line("Export", f"{exported.relative_to(folder.path)}: Crona's employees after the import"))
    say("4/5  Synchronising again (humacrona sync): reads the new export, checks the import file was applied")
    seen: list[str] = []
    code, _ = run_sync(env, policy, shown=seen)
    if not _converged(code):
        return None
    resolved = [found for text in seen if (found := RESOLVED.search(text))]
    if not resolved or int(resolved[0][1]) == 0 or int(resolved[0][2]) != 0:
        say(f"{INDENT}NOT every operation of {written.name} was found applied in Crona's new export")
        return None
    return report


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _someone(sandboxes: RunningSandboxes) -> dict:
    """A person both systems hold alike (none of the seed's planted discrepancies is theirs)."""
    planted = {d.email for d in sandboxes.seeded.discrepancies}
    return next(u for u in sandboxes.seeded.huma_users if u["email"].lower() not in planted and u.get("employmentId"))


def _arrived(sandboxes: RunningSandboxes, anstnr: str, value: str, started: float) -> bool:
    """Poll the Crona sandbox until its employee ``anstnr`` has ``value`` as family name (True), or time out."""
    column = FAMILY_NAME[1]
    while True:
        employee = sandboxes.crona.store.get(CRONA_EMPLOYEES, anstnr) or {}
        if employee.get(column) == value:
            return True
        if time.monotonic() - started > ARRIVAL_TIMEOUT_S:
            say(f"{INDENT}The change did NOT arrive in Crona within {ARRIVAL_TIMEOUT_S} s ({column} is"
                f" {employee.get(column)!r})")
            return False
        time.sleep(0.05)


def _real_time(sandboxes: RunningSandboxes, receiver: Receiver) -> bool:
    """Step 5: one change made in Huma, followed to Crona: webhook (signed) → `humacrona webhook` → inbox → the
    push run it starts (job push_huma_changes). True when Crona holds the new value."""
    say("5/5  Real time: a change made in Huma reaches Crona within seconds")
    url = receiver.url()
    if url is None:
        say(f"{INDENT}humacrona webhook did not start; its last lines:")
        return False
    sandboxes.huma.register_webhook(url, secret=DEMO_WEBHOOK_SECRET)
    say(line("Receiver", f"humacrona webhook at {url}, registered in Huma with the client secret it checks"))
    person = _someone(sandboxes)
    new_name = f"{person[FAMILY_NAME[0]]}-Realtid"
    sent = sandboxes.huma.webhooks.stats()["sent"]
    started = time.monotonic()
    sandboxes.huma.admin_update_user(person["id"], {FAMILY_NAME[0]: new_name})
    say(f"{INDENT}Changed {person['email']}'s family name in Huma to {new_name!r}, as HR would in Huma")
    if sandboxes.huma.webhooks.wait_idle(30) and sandboxes.huma.webhooks.stats()["sent"] > sent:
        say(line(f"{time.monotonic() - started:.2f} s", "Huma's webhook reached the receiver (humacrona webhook),"
                 " which stored it in the inbox and started its push run (job push_huma_changes)"))
    if not _arrived(sandboxes, person["employmentId"], new_name, started):
        return False
    say(line(f"{time.monotonic() - started:.2f} s", f"Crona has the new family name ({FAMILY_NAME[1]} {new_name!r})"))
    return True


def run_demo(employees: int, seed: int, channel: str = "api") -> int:
    home = dagster_home()
    started = time.monotonic()
    say("humacrona demo: Huma (HR) and Crona Lön (payroll) kept in sync by Dagster jobs, on local sandboxes")
    say(f"1/5  Starting the sandboxes (local stand-ins for both systems): {employees} people, seed {seed},"
        " with the discrepancies real data has")
    policy = write_demo_policy(home)
    with start_sandboxes(SandboxOptions(employees=employees, seed=seed, huma_port=0, crona_port=0)) as sandboxes:
        say(line("Huma", sandboxes.huma_url))
        say(line("Crona", sandboxes.crona_url))
        env = product_environment(sandboxes.env, home, str(policy))
        if channel == "paxml":
            report = _paxml_story(sandboxes, env, policy)
        else:
            receiver = Receiver(env)
            try:
                report = _story(sandboxes, env, policy, receiver)
            finally:
                receiver.stop()
    if report is None:
        return 1
    say(f"Done in {time.monotonic() - started:.1f} s. Every run is in the Dagster instance {home}:"
        " `humacrona dev` started from here shows them in the Dagster UI.")
    for text in report:
        say(text)
    return 0


def _story(sandboxes: RunningSandboxes, env: dict[str, str], policy: Path, receiver: Receiver) -> list[str] | None:
    """Steps 1 (the confirmation) to 5; the report lines, or None when a step failed (it said why)."""
    if not confirm_sandboxes(env, "humacrona demo", INDENT):
        return None
    say(line("Connection", "checked and confirmed (humacrona check --confirm): the sandboxes are ours to connect"))
    report = _syncs(env, policy, receiver)
    if report is None:
        return None
    if not _real_time(sandboxes, receiver):
        for text in receiver.log_tail():
            say(f"{INDENT}{text}")
        return None
    return report


def _paxml_story(sandboxes: RunningSandboxes, env: dict[str, str], policy: Path) -> list[str] | None:
    """Steps 1 (Crona's first export, the confirmation) to 5 on the PAXml channel; the report lines, or None."""
    from .demo_paxml import PaxmlFolder, paxml_environment

    folder = PaxmlFolder(sandboxes.crona_url)
    env = paxml_environment(env, folder.path)
    say(line("PAXml folder", f"{folder.path} (Crona Lön is reached through files here, not its API)"))
    exported = folder.export_from_crona()
    say(line("Export", f"{exported.relative_to(folder.path)}: Crona's employees, as its administrator exports"
             " them from Crona Lön"))
    if not confirm_sandboxes(env, "humacrona demo", INDENT):
        return None
    say(line("Connection", "checked and confirmed (humacrona check --confirm): the sandbox and the folder are"
             " ours to use"))
    report = _paxml_syncs(env, policy, folder)
    if report is not None:
        say("5/5  Real time: skipped, humacrona webhook does not write to Crona on the PAXml channel (the next"
            " sync's file carries the change)")
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--employees", type=int, default=200, help="people to seed (default %(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data (default %(default)s)")
    parser.add_argument("--crona-channel", choices=CHANNELS, default="api",
                        help="how humacrona reaches Crona Lön: its API, or PAXml export and import files"
                        " (default %(default)s)")
