"""Issue 9 §3: every misconfiguration a new user can make reads as ONE line on stderr naming the system and
the cause, exit code 2, no traceback and no secret: run as a user runs it (`humacrona sync --dry-run` and
`humacrona check` in their own processes) against sandboxes on ephemeral ports."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from tests.test_cli import _humacrona

REPO_ROOT = Path(__file__).resolve().parent.parent
POLICY = REPO_ROOT / "policy.example.yaml"
WRONG_SECRET = "0d9c8b7a-wrong-secret-6f5e4d3c2b1a"
WRONG_CODE = "CRONA-WRONG-CODE-1234"
COMMANDS = {
    "sync": ["sync", "--policy", str(POLICY), "--dry-run"],
    "check": ["check"],
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def run_humacrona(args: list[str], env: dict[str, str], home: Path, timeout: float = 300):
    """`humacrona ARGS` with exactly ``env``'s connection variables and a fresh instance under ``home``."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("HUMA_", "CRONA_", "HUMACRONA_")) and k != "DAGSTER_HOME"}
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run([*_humacrona(), *args], env={**clean, **env, "DAGSTER_HOME": str(home)},
                          capture_output=True, text=True, timeout=timeout, cwd=home, stdin=subprocess.DEVNULL)


def assert_one_line(result, *expected: str, secrets: tuple[str, ...] = ()) -> str:
    """Exit 2, exactly one non-empty line on stderr holding every ``expected`` text; no traceback, no secret."""
    everything = result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, everything
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert "Traceback" not in everything
    for secret in secrets:
        assert secret not in everything
    return lines[0]


class TlsServer:
    """An ASGI app over HTTPS on 127.0.0.1 with a self-signed certificate (made with the openssl binary)."""

    def __init__(self, app, directory: Path):
        key, cert = directory / "key.pem", directory / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                        str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, ssl_keyfile=str(key), ssl_certfile=str(cert), log_level="critical",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> TlsServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the TLS server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_variables_are_named_with_where_each_comes_from(command, tmp_path, sandboxes):
    env = {k: v for k, v in sandboxes.env.items() if k not in ("HUMA_BASE_URL", "CRONA_ACTIVATION_CODE")}
    env["HUMA_CLIENT_ID"] = "  "  # blank counts as missing
    line = assert_one_line(run_humacrona(COMMANDS[command], env, tmp_path / "home"),
                           "HUMA_BASE_URL — https://openapi.humahr.com", "HUMA_CLIENT_ID",
                           "CRONA_ACTIVATION_CODE — Crona Lön → Inställningar → Kopplingar",
                           secrets=(sandboxes.env["HUMA_CLIENT_SECRET"],))
    assert "HUMA_CLIENT_SECRET" not in line and "CRONA_BASE_URL" not in line  # set: not named


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wrong_huma_client_secret(command, tmp_path, sandboxes):
    env = {**sandboxes.env, "HUMA_CLIENT_SECRET": WRONG_SECRET}
    assert_one_line(run_humacrona(COMMANDS[command], env, tmp_path / "home"),
                    "Huma: the client credentials were refused (HUMA_CLIENT_ID / HUMA_CLIENT_SECRET)",
                    "invalid_client", secrets=(WRONG_SECRET, sandboxes.env["CRONA_ACTIVATION_CODE"]))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wrong_crona_aktiveringskod(command, tmp_path, sandboxes):
    env = {**sandboxes.env, "CRONA_ACTIVATION_CODE": WRONG_CODE}
    assert_one_line(run_humacrona(COMMANDS[command], env, tmp_path / "home"),
                    "Crona Lön: the Aktiveringskod was refused (CRONA_ACTIVATION_CODE)",
                    secrets=(WRONG_CODE, sandboxes.env["HUMA_CLIENT_SECRET"]))


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_base_url(command, tmp_path, sandboxes):
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {**sandboxes.env, "CRONA_BASE_URL": url}
    assert_one_line(run_humacrona(COMMANDS[command], env, tmp_path / "home"),
                    f"Crona Lön: cannot connect to {url}: connection refused (CRONA_BASE_URL)",
                    secrets=(sandboxes.env["CRONA_ACTIVATION_CODE"], sandboxes.env["HUMA_CLIENT_SECRET"]))


@pytest.mark.skipif(shutil.which("openssl") is None,
                    reason="needs the openssl binary to make a self-signed certificate")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_certificate_that_fails_verification(command, tmp_path, sandboxes):
    with TlsServer(sandboxes.huma.app, tmp_path) as tls:
        env = {**sandboxes.env, "HUMA_BASE_URL": tls.url}
        assert_one_line(run_humacrona(COMMANDS[command], env, tmp_path / "home"),
                        f"Huma: TLS failure connecting to {tls.url}: certificate verify failed", "(HUMA_BASE_URL)",
                        secrets=(sandboxes.env["HUMA_CLIENT_SECRET"], sandboxes.env["CRONA_ACTIVATION_CODE"]))


def test_the_tls_server_is_real(tmp_path, sandboxes):
    """The case above fails for the certificate, not for want of a server: trusting it, the same URL answers."""
    import httpx

    with TlsServer(sandboxes.huma.app, tmp_path) as tls:
        context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        answer = httpx.post(tls.url + "/auth/oauth/token", verify=context, timeout=10,
                            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_huma_key_without_the_permissions_the_sync_needs(command, tmp_path, sandboxes):
    key = sandboxes.huma.create_api_key(["groups:read", "job-titles:read"])  # no users:read
    env = {**sandboxes.env, "HUMA_CLIENT_ID": key["clientId"], "HUMA_CLIENT_SECRET": key["clientSecret"]}
    assert_one_line(run_humacrona(COMMANDS[command], env, tmp_path / "home"),
                    "Huma: the API key (HUMA_CLIENT_ID) lacks a permission the sync needs: GET /users answered "
                    "HTTP 403", secrets=(key["clientSecret"], sandboxes.env["CRONA_ACTIVATION_CODE"]))


def test_a_base_url_without_a_scheme(tmp_path, sandboxes):
    env = {**sandboxes.env, "CRONA_BASE_URL": "crona.example.se"}
    assert_one_line(run_humacrona(COMMANDS["sync"], env, tmp_path / "home"),
                    "CRONA_BASE_URL='crona.example.se'", "must start with https://")


def test_a_misspelt_policy_is_one_line_on_stderr(tmp_path, sandboxes):
    policy = tmp_path / "policy.yaml"
    policy.write_text("default_winer: huma\n")
    assert_one_line(run_humacrona(["sync", "--policy", str(policy)], sandboxes.env, tmp_path / "home"),
                    "unknown policy option(s) default_winer")
