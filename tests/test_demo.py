"""`humacrona demo` as a newcomer runs it (the README's first command): a story of one screen, in words an HR or
payroll administrator reads, without Dagster's log lines (which stay in the instance, for the Dagster UI), and
the HTML report and the email last. The demo (humacrona_sandbox.demo) drives the product through the `humacrona`
command, as a user does: check, sync --dry-run, sync twice and the webhook receiver."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from humacrona_pipeline.core.policy import load_policy
from humacrona_pipeline.defs.policy import SyncPolicy
from humacrona_sandbox.seed import generate
from tests.test_at_rest import account_spellings, hits_in

REPO = Path(__file__).resolve().parent.parent

MAX_LINES = 60
# A count of one written with a plural noun ("1 conflicts"): the demo says "1 conflict".
ONE_WITH_PLURAL = re.compile(r"(?<![\d.,])1 (employees|values|conflicts|checks|writes|changes|runs|users|records)\b")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The README's demo, default size and seed, in a fresh directory with its own Dagster instance."""
    exe = shutil.which("humacrona")
    assert exe, "the `humacrona` console script is not installed (pyproject [project.scripts])"
    where = tmp_path_factory.mktemp("demo")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HUMACRONA_", "HUMA_", "CRONA_", "DAGSTER_"))}
    env["DAGSTER_HOME"] = str(where / "home")
    result = subprocess.run([exe, "demo"], capture_output=True, text=True, timeout=600, env=env, cwd=where,
                            stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, where / "home"


def test_the_demo_fits_on_a_screen_without_dagster_log_lines_and_ends_with_the_report_and_the_email(demo):
    result, _ = demo
    lines = result.stdout.splitlines()
    assert len(lines) <= MAX_LINES, result.stdout
    everything = result.stdout + result.stderr
    for marker in (" - dagster - ", "DEBUG", "INFO"):
        assert marker not in everything, everything
    assert [line[:3] for line in lines if re.match(r"\d/5 ", line)] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    report, email = lines[-2], lines[-1]
    assert report.startswith("Report") and email.startswith("Email"), lines[-3:]
    report_path, email_path = Path(report.split()[-1]), Path(email.split()[-1])
    assert report_path.is_file() and report_path.suffix == ".html"
    assert email_path.is_file() and email_path.suffix == ".eml"
    assert not ONE_WITH_PLURAL.search(result.stdout), ONE_WITH_PLURAL.search(result.stdout)


def test_the_demo_says_what_it_found_synced_and_followed_in_real_time(demo):
    result, _ = demo
    out = result.stdout
    seeded = generate(200, seed=42)
    planted = {kind: sum(d.kind == kind for d in seeded.discrepancies) for kind in ("huma_only", "crona_only")}
    assert f"Huma {len(seeded.huma_users)}, Crona {len(seeded.crona_employees)}" in out, out
    assert f"{planted['huma_only']} only in Huma" in out and f"{planted['crona_only']} only in Crona" in out, out
    assert "Quarantined" in out and "missing in Huma" in out and "Plan operations" in out, out
    # The default seed stays under the quarantine warn share: every check passes and no check is mentioned.
    assert re.search(r"all \d+ checks passed", out) and "did not pass" not in out, out
    sync = out.split("3/5")[1].split("4/5")[0]
    assert "employees updated" in sync and "every write read back as written" in sync, sync
    assert "failed" not in sync, sync
    again = out.split("4/5")[1].split("5/5")[0]
    assert re.search(r"^ +Converged: nothing left to write", again, re.MULTILINE), again
    assert "1 salary-account change held, not written" in again and "updated" not in again, again
    assert "read back" not in again, again  # nothing was written, so nothing was read back
    received = r"^ +\d+\.\d\d s +Huma's webhook reached the receiver \(humacrona webhook\)"
    assert re.search(received, out, re.MULTILINE), out
    assert re.search(r"^ +\d+\.\d\d s +Crona has the new family name", out, re.MULTILINE), out
    assert re.search(r"^Done in \d+\.\d s\.", out, re.MULTILINE), out


def test_the_runs_and_their_log_lines_are_in_the_dagster_instance(demo, monkeypatch):
    """Off the terminal, not lost: the Dagster UI on the demo's instance shows every run with its logs."""
    _, home = demo
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's dagster.yaml keeps its storage there
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert sorted(run.job_name for run in runs) == ["plan_sync", "push_huma_changes", "sync_users", "sync_users"]
        (push,) = [run for run in runs if run.job_name == "push_huma_changes"]
        assert push.tags.get("humacrona/users") == "1", push.tags  # the one change made in Huma, pushed alone
        for run in runs:
            logs = instance.all_logs(run.run_id)
            assert run.status == dg.DagsterRunStatus.SUCCESS, run.job_name
            assert any(entry.is_dagster_event and entry.dagster_event.event_type == dg.DagsterEventType.STEP_SUCCESS
                       for entry in logs), run.job_name
            assert any(not entry.is_dagster_event and entry.level == logging.INFO and entry.user_message
                       for entry in logs), run.job_name


def test_the_demo_prints_no_secret_and_no_bank_account_beyond_its_last_four_digits(demo):
    result, _ = demo
    everything = result.stdout + result.stderr
    assert "CRONA-SANDBOX" not in everything and "client_secret" not in everything.lower()
    for e in generate(200, seed=42).crona_employees:
        if e["UtbetKontoNr"]:
            assert e["UtbetClearNr"] + e["UtbetKontoNr"] not in everything
            assert f"{e['UtbetClearNr']} {e['UtbetKontoNr']}" not in everything


def test_the_demo_drives_the_humacrona_command_with_the_example_policy_approving_the_mass_change(demo):
    """What it ran is what a user runs; the policy it applied is policy.example.yaml with approve_mass_change on,
    kept private beside the instance (`humacrona dev` gives Dagster the same)."""
    result, home = demo
    out = result.stdout
    for command in ("humacrona check --confirm", "humacrona sync --dry-run", "humacrona sync)", "humacrona webhook"):
        assert command in out, (command, out)
    written = home / "policy.demo.yaml"
    assert written.stat().st_mode & 0o777 == 0o600
    expected = load_policy(REPO / "policy.example.yaml")
    assert not expected.approve_mass_change
    assert SyncPolicy.from_file(written).policy() == replace(SyncPolicy.from_policy(expected).policy(),
                                                             approve_mass_change=True)


PAXML_EMPLOYEES = 40


@pytest.fixture(scope="module")
def paxml_demo(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """`humacrona demo --crona-channel paxml` on 40 people, its temporary PAXml folder in this test's directory
    (TMPDIR), beside its Dagster instance."""
    exe = shutil.which("humacrona")
    assert exe, "the `humacrona` console script is not installed (pyproject [project.scripts])"
    where = tmp_path_factory.mktemp("paxml-demo")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HUMACRONA_", "HUMA_", "CRONA_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(where / "home"), TMPDIR=str(where))
    result = subprocess.run([exe, "demo", "--crona-channel", "paxml", "--employees", str(PAXML_EMPLOYEES)],
                            capture_output=True, text=True, timeout=600, env=env, cwd=where,
                            stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, where / "home"


def _paxml_folder(out: str) -> Path:
    found = re.search(r"^ +PAXml folder +(\S+)", out, re.MULTILINE)
    assert found, out
    return Path(found[1])


def test_the_paxml_demo_writes_the_import_file_imports_it_in_crona_and_converges(paxml_demo):
    result, home = paxml_demo
    out = result.stdout
    assert len(out.splitlines()) <= MAX_LINES, out
    for marker in (" - dagster - ", "DEBUG", "INFO"):
        assert marker not in out + result.stderr
    assert [text[:3] for text in out.splitlines() if re.match(r"\d/5 ", text)] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    folder = _paxml_folder(out)
    assert home not in folder.parents and folder not in home.parents
    assert [p.name for p in sorted((folder / "export").iterdir())] == ["crona-export-1.xml", "crona-export-2.xml"]
    sync = out.split("3/5")[1].split("4/5")[0]
    written = re.search(r"^ +Import file +(\S+)$", sync, re.MULTILINE)  # the sync says where it wrote the file
    assert written, sync
    printed = Path(written[1])
    assert printed.parent == folder / "import" and printed.name.startswith("humacrona-import-")
    path = folder / "import" / "concluded" / printed.name  # the next sync saw it imported and moved it aside
    assert path.is_file() and not printed.exists()
    imported = re.search(r"the administrator imports the file \((\d+) employees?\): (\d+) applied"
                         r" \(\d+ created, \d+ updated\), 0 refused", sync)
    assert imported and int(imported[1]) == int(imported[2]) > 0, sync
    assert path.read_bytes().count(b"<person ") == int(imported[1])
    again = out.split("4/5")[1].split("5/5")[0]
    assert re.search(r"^ +Converged: nothing left to write", again, re.MULTILINE), again
    resolved = re.search(r"(\d+) applied, 0 not applied", again)  # the file's operations, found in the new export
    assert resolved and int(resolved[1]) >= int(imported[1]), again
    assert re.search(r"^5/5 +Real time: skipped", out, re.MULTILINE), out


def test_the_paxml_demo_keeps_full_salary_accounts_in_its_folder_never_in_dagster_home(paxml_demo):
    """Crona's exports (and an import file) hold full accounts, as Crona Lön needs them: they are in the PAXml
    folder, outside DAGSTER_HOME, which holds none."""
    result, home = paxml_demo
    typed, digits = account_spellings(generate(PAXML_EMPLOYEES, seed=42))
    assert hits_in(_paxml_folder(result.stdout), typed, digits)  # the search finds them where they are
    assert hits_in(home, typed, digits) == []
    assert "CRONA-SANDBOX" not in result.stdout + result.stderr

