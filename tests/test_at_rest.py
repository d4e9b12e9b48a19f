"""No full salary account at rest: after a full `humacrona sync` and a real-time push (webhook → inbox →
sensor → run), nothing under DAGSTER_HOME holds a seeded bank account in any spelling, and every file the
pipeline wrote there is readable by its owner only. With `HUMACRONA_STORAGE_KEY` the outputs are stored
encrypted; without it they are not stored at all."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
from cryptography.fernet import Fernet

from humacrona_pipeline.definitions import build_defs
from humacrona_pipeline.defs.realtime.jobs import JOB_NAME
from humacrona_pipeline.defs.realtime.resources import InboxResource
from humacrona_pipeline.defs.realtime.sensors import huma_changes_sensor
from humacrona_pipeline.defs.storage import NOT_KEPT, STORAGE_KEY_ENV
from humacrona_pipeline.state import db
from humacrona_pipeline.state.inbox import Inbox
from humacrona_pipeline.webhook import build_app
from humacrona_sandbox.runner import SandboxOptions, start_sandboxes
from humacrona_sandbox.server import BackgroundServer

SECRET = "at-rest-secret"
EMPLOYEES, SEED = 40, 13
SEPARATORS = re.compile(rb"[ \-,.]")  # how people group account digits: "8327-9 123 456 789-0"
# Written by Dagster itself (run, event and schedule storage, compute logs): searched, their modes not asserted.
DAGSTER_OWN = ("history", "schedules", "logs", "dagster.yaml", "compute_logs")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def account_spellings(seeded) -> tuple[set[bytes], set[bytes]]:
    """Every seeded account as typed, and as bare digits (clearing + account, and the account part alone when it
    has 7 digits or more), from both systems."""
    typed: set[str] = set()
    digits: set[str] = set()
    for user in seeded.huma_users:
        number = (user.get("bankAccount") or {}).get("number")
        if number:
            typed.add(number)
            whole = _digits(number)
            digits.update({whole, whole[4:]} | ({whole[5:]} if whole.startswith("8") else set()))
    for employee in seeded.crona_employees:
        clearing, account = employee.get("UtbetClearNr") or "", employee.get("UtbetKontoNr") or ""
        if account:
            typed.update({f"{clearing}-{account}", f"{clearing} {account}", f"{clearing}{account}"})
            digits.update({_digits(clearing + account), _digits(account)})
    return ({t.encode() for t in typed}, {d.encode() for d in digits if len(d) >= 7})


def hits_in(folder: Path, typed: set[bytes], digits: set[bytes]) -> list[str]:
    """``file: spelling`` for every seeded account found in any file under ``folder``."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        squeezed = SEPARATORS.sub(b"", raw)
        found += [f"{path.relative_to(folder)}: {t.decode()}" for t in typed if t in raw]
        found += [f"{path.relative_to(folder)}: {d.decode()}" for d in digits if d in squeezed]
    return found


def _pipeline_files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file() and not set(p.relative_to(home).parts) & set(DAGSTER_OWN)]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _humacrona(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("humacrona")
    assert exe, "the `humacrona` console script is not installed"
    return subprocess.run([exe, *args], check=False, capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd)


@pytest.mark.parametrize("with_key", [True, False], ids=["storage-key", "no-storage-key"])
def test_a_full_sync_and_a_push_leave_no_salary_account_at_rest(with_key, tmp_path, dagster_home, monkeypatch):
    for variable in [v for v in os.environ if v.startswith(("HUMACRONA_", "HUMA_", "CRONA_"))]:
        monkeypatch.delenv(variable)  # reports, outbox and state database in DAGSTER_HOME, as by default
    if with_key:
        monkeypatch.setenv(STORAGE_KEY_ENV, Fernet.generate_key().decode())
    policy = tmp_path / "policy.yaml"
    policy.write_text("default_winner: huma\napprove_mass_change: true\n")
    receiver = BackgroundServer(build_app(SECRET, None, Inbox()), port=0).start()
    try:
        with start_sandboxes(SandboxOptions(employees=EMPLOYEES, seed=SEED, huma_port=0, crona_port=0)) as sandboxes:
            sandboxes.huma.register_webhook(receiver.url + "/huma/webhook", secret=SECRET)
            env = {**os.environ, **sandboxes.env}
            checked = _humacrona("check", "--confirm", env=env, cwd=tmp_path)
            assert checked.returncode == 0, checked.stdout + checked.stderr
            synced = _humacrona("sync", "--policy", str(policy), env=env, cwd=tmp_path)
            assert synced.returncode == 0, synced.stdout + synced.stderr

            # A change in Huma: its webhook body carries the user's full bank account.
            person = sandboxes.seeded.huma_users[0]
            assert person.get("bankAccount")
            sandboxes.huma.admin_update_user(person["id"], {"familyName": "Vilarsson"})
            deadline = time.monotonic() + 20
            while Inbox().count() < 1:
                assert time.monotonic() < deadline, "the webhook event never reached the inbox"
                time.sleep(0.05)
            for name, value in sandboxes.env.items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("HUMACRONA_POLICY_FILE", str(policy))
            instance = dg.DagsterInstance.get()  # DAGSTER_HOME's, as the daemon's
            try:
                tick = huma_changes_sensor(dg.build_sensor_context(instance=instance,
                                                                   resources={"inbox": InboxResource()}))
                (request,) = tick.run_requests
                pushed = build_defs().resolve_job_def(JOB_NAME).execute_in_process(
                    run_config=request.run_config, tags=request.tags, partition_key=request.partition_key,
                    instance=instance, raise_on_error=False)
                assert pushed.success, [e.message for e in pushed.all_events if e.is_failure]
                said = [r.user_message for r in instance.all_logs(pushed.run_id) if NOT_KEPT in r.user_message]
                assert len(said) == (0 if with_key else 1)  # once per run, without a key
            finally:
                instance.dispose()
            seeded = sandboxes.seeded
    finally:
        receiver.stop()
        db.dispose_all()

    typed, digits = account_spellings(seeded)
    assert len(digits) > EMPLOYEES  # the search looks for something
    assert hits_in(dagster_home, typed, digits) == []

    stored = [p for p in (dagster_home / "storage").rglob("*") if p.is_file() and "compute_logs" not in p.parts]
    assert bool(stored) == with_key  # encrypted outputs with a key; nothing at rest without
    wrote = _pipeline_files(dagster_home)
    assert {p.relative_to(dagster_home).parts[0] for p in wrote} >= {"reports", "outbox", db.SQLITE_FILE}
    assert {str(p.relative_to(dagster_home)): oct(_mode(p)) for p in wrote if _mode(p) != 0o600} == {}


def test_the_search_finds_an_account_in_any_spelling(tmp_path):
    """The search above is not blind: a seeded account typed, grouped or bare is found."""
    from humacrona_sandbox.seed import generate

    seeded = generate(5, SEED)
    typed, digits = account_spellings(seeded)
    employee = next(e for e in seeded.crona_employees if e.get("UtbetKontoNr"))
    clearing, account = employee["UtbetClearNr"], employee["UtbetKontoNr"]
    grouped = f"{clearing}-{account[:3]} {account[3:6]} {account[6:]}"
    for spelling in (f"{clearing}, {account}", grouped, account):
        (tmp_path / "leak.txt").write_text(f"noise {spelling} noise")
        assert hits_in(tmp_path, typed, digits), spelling
    (tmp_path / "leak.txt").write_text(f"masked: ****{account[-4:]}")
    assert hits_in(tmp_path, typed, digits) == []


def test_stored_outputs_need_the_key_that_wrote_them(tmp_path):
    """An output stored with one key cannot be read with another: one line says what to do."""
    from humacrona_pipeline.defs.storage import EncryptedPickleIOManager, StoredOutputUnreadable

    written = EncryptedPickleIOManager(str(tmp_path), Fernet.generate_key().decode())
    context = dg.build_output_context(asset_key=dg.AssetKey("sync_plan"))
    written.handle_output(context, {"account": "8327-9 123 456 789-0"})
    (path,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert b"8327" not in path.read_bytes() and _mode(path) == 0o600
    loaded = dg.build_input_context(asset_key=dg.AssetKey("sync_plan"), upstream_output=context)
    assert written.load_input(loaded) == {"account": "8327-9 123 456 789-0"}
    other = EncryptedPickleIOManager(str(tmp_path), Fernet.generate_key().decode())
    with pytest.raises(StoredOutputUnreadable, match="stored output of sync_plan was written with another "
                                                     "HUMACRONA_STORAGE_KEY; rerun the job that makes it"):
        other.load_input(loaded)


def test_without_a_key_an_output_from_another_run_is_missing_with_the_reason():
    """Without a storage key nothing is kept between runs: an asset whose upstream was not made in the same run
    says so, instead of reading anything stored."""
    from humacrona_pipeline.defs.storage import RunMemoryIOManager, StoredOutputUnreadable

    made = dg.build_output_context(asset_key=dg.AssetKey("sync_plan"), run_id="an-earlier-run", step_key="sync_plan",
                                   name="result")
    RunMemoryIOManager().handle_output(made, {"account": "8327-9 123 456 789-0"})
    later = RunMemoryIOManager()  # the next run's
    with pytest.raises(StoredOutputUnreadable, match=f"sync_plan was not made in this run and {re.escape(NOT_KEPT)}"):
        later.load_input(dg.build_input_context(asset_key=dg.AssetKey("sync_plan"), upstream_output=made))
