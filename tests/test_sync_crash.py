"""A sync killed in the middle of its writes, then run again, ends where an uninterrupted sync ends, with no
duplicate employee on either side (issue 4, section 4). Everything runs as a user runs it: `humacrona
sandbox` and `humacrona sync` in their own processes, the sync killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pandas as pd

from humacrona_pipeline.core.canonical import build_table
from humacrona_pipeline.core.fields import CRONA, FIELD_NAMES, HUMA
from tests.defs.sync_testkit import read_both
from tests.test_cli import SandboxProcess, _humacrona

POLICY = """\
default_winner: huma
missing_values: fill
create_in_crona: all
create_in_huma: all
approve_mass_change: true
"""
SEED = ["--employees", "40", "--seed", "3"]


def _writes(env: dict) -> int:
    """Writes both sandboxes have answered so far (POST and PATCH on their APIs)."""
    total = 0
    for url in (env["HUMA_BASE_URL"], env["CRONA_BASE_URL"]):
        requests = httpx.get(url + "/_sandbox/stats", timeout=5).json()["requests"]
        total += sum(n for route, n in requests.items()
                     if route.split()[0] in ("POST", "PATCH") and "token" not in route and "auth" not in route)
    return total


def _confirm(env: dict, home: Path) -> None:
    """`humacrona check --confirm`, as the administrator runs it before the first sync."""
    result = subprocess.run([*_humacrona(), "check", "--confirm", "--by", "pytest"], cwd=home, capture_output=True,
                            text=True, timeout=120, env={**os.environ, **env, "DAGSTER_HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr


def _sync(env: dict, home: Path, policy: Path) -> subprocess.Popen:
    return subprocess.Popen([*_humacrona(), "sync", "--policy", str(policy)], cwd=home,
                            env={**os.environ, **env, "DAGSTER_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return out


def _state(sandbox) -> dict[str, pd.DataFrame]:
    """Each system's synced fields by work email (record ids left out: a created Huma user gets a new id)."""
    huma_raw, crona_raw = read_both(sandbox)
    out = {}
    for side, raw in ((HUMA, huma_raw), (CRONA, crona_raw)):
        frame = build_table(raw, side).frame[list(FIELD_NAMES)]
        assert frame["work_email"].is_unique, f"a duplicate {side} employee"
        out[side] = frame.set_index("work_email").sort_index()
    return out


def test_a_sync_killed_mid_apply_converges_on_rerun_to_the_uninterrupted_result(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    crashed.mkdir()
    clean.mkdir()
    # Slow writes (150 ms a request) so the kill lands between the first and the last write.
    interrupted = SandboxProcess(*SEED, "--latency-ms", "150")
    reference = SandboxProcess(*SEED)
    try:
        _confirm(interrupted.env, crashed)
        _confirm(reference.env, clean)
        proc = _sync(interrupted.env, crashed, policy)
        deadline = time.monotonic() + 240
        while _writes(interrupted.env) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the sync finished before it could be killed:\n" + proc.communicate()[0]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        partial = _writes(interrupted.env)
        assert partial >= 3

        rerun = _finish(_sync(interrupted.env, crashed, policy))
        _finish(_sync(reference.env, clean, policy))
        assert _writes(interrupted.env) > partial, rerun

        after_crash, uninterrupted = _state(interrupted), _state(reference)
        for side in (HUMA, CRONA):
            pd.testing.assert_frame_equal(after_crash[side], uninterrupted[side], check_dtype=False)
        # And the interrupted system really changed: the sync did something to converge.
        assert len(after_crash[CRONA]) > 0
    finally:
        interrupted.stop()
        reference.stop()
