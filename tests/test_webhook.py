"""The Huma webhook receiver over real HTTP: authentication, size limits, shape, storage before 2xx, and
the `humacrona webhook` command."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from humacrona_pipeline.serving import BackgroundServer
from humacrona_pipeline.state.inbox import PENDING, Inbox
from humacrona_pipeline.webhook import PATH, InsecureConfiguration, build_app

SECRET = "whsec-Sup3r-s3cret-value"
TOKEN = "tok-7f3a9c1e-access-token"
ACCOUNT = "8327-9, 123 456 789-7"


def event_body(topic: str = "users-update", *users: dict, **extra) -> bytes:
    users = users or ({"id": "3f1c0a6e-1111-4d2b-9c55-000000000001", "email": "Anna.Berg@example.se",
                       "phone": "+46701234567", "bankAccount": {"type": "national", "number": ACCOUNT}},)
    return json.dumps({"topic": topic, "users": list(users), **extra}).encode()


def sign_hex(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_b64(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(body: bytes, *, topic: str | None = "users-update", signature: str | None = "hex",
            token: str | None = TOKEN) -> dict[str, str]:
    out = {"content-type": "application/json"}
    if topic is not None:
        out["huma-topic"] = topic
    if signature == "hex":
        out["huma-hmac-sha256"] = sign_hex(body)
    elif signature == "b64":
        out["huma-hmac-sha256"] = sign_b64(body)
    elif signature is not None:
        out["huma-hmac-sha256"] = signature
    if token is not None:
        out["authorization"] = f"Bearer {token}"
    return out


@pytest.fixture
def inbox(tmp_path) -> Inbox:
    return Inbox(f"sqlite:///{tmp_path / 'state.sqlite'}")


@contextmanager
def receiver(inbox: Inbox, secret: str | None = SECRET, token: str | None = TOKEN, **kwargs):
    with (BackgroundServer(build_app(secret, token, inbox, **kwargs)) as server,
          httpx.Client(base_url=server.url, timeout=10) as client):
        yield client


@pytest.fixture
def client(inbox):
    with receiver(inbox) as c:
        yield c


# ------------------------------------------------------------------------------------------ authentication

@pytest.mark.parametrize("signature", ["hex", "HEX", "b64"])
def test_a_signed_delivery_is_stored_before_the_answer(client, inbox, signature):
    body = event_body()
    sent = headers(body, signature="hex" if signature != "b64" else "b64")
    if signature == "HEX":
        sent["huma-hmac-sha256"] = sent["huma-hmac-sha256"].upper()
    answer = client.post(PATH, content=body, headers=sent)
    assert answer.status_code == 200, answer.text
    event_id = answer.json()["event_id"]
    assert answer.json() == {"stored": True, "event_id": event_id}
    [stored] = inbox.after(0)
    assert (stored.id, stored.topic, stored.user_ids, stored.emails) == (
        event_id, "users-update", ("3f1c0a6e-1111-4d2b-9c55-000000000001",), ("anna.berg@example.se",))


def test_the_root_path_is_the_same_endpoint_and_healthz_answers(client, inbox):
    body = event_body("users-create")
    assert client.post("/", content=body, headers=headers(body, topic="users-create")).json()["stored"] is True
    assert client.get("/healthz").status_code == 200
    assert client.get(PATH).status_code == 405
    assert inbox.count() == 1


@pytest.mark.parametrize("case", ["forged", "other-secret", "missing", "empty", "for-another-body"])
def test_a_bad_or_missing_signature_is_refused_and_nothing_stored(client, inbox, case):
    body = event_body()
    signature = {"forged": "0" * 64, "other-secret": sign_hex(body, "not-the-secret"), "missing": None, "empty": "",
                 "for-another-body": sign_b64(event_body("users-delete"))}[case]
    answer = client.post(PATH, content=body, headers=headers(body, signature=signature))
    assert answer.status_code == 401
    assert inbox.count() == 0


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_a_wrong_or_missing_token_is_refused(client, inbox, token):
    body = event_body()
    sent = headers(body, token=token)
    if token == "":
        sent["authorization"] = TOKEN  # no "Bearer " scheme
    assert client.post(PATH, content=body, headers=sent).status_code == 401
    assert inbox.count() == 0


def test_a_token_alone_or_a_secret_alone_is_enough_when_only_it_is_configured(inbox):
    body = event_body()
    with receiver(inbox, secret=None) as c:
        assert c.post(PATH, content=body, headers=headers(body, signature=None)).status_code == 200
        assert c.post(PATH, content=body, headers=headers(body, signature=None, token="nope")).status_code == 401
    other = event_body("users-create")
    with receiver(inbox, token=None) as c:
        assert c.post(PATH, content=other, headers=headers(other, topic="users-create", token=None)).status_code == 200
    assert inbox.count() == 2


def test_no_authentication_is_refused_unless_asked_for_loudly(inbox, caplog):
    with pytest.raises(InsecureConfiguration):
        build_app(None, None, inbox)
    with pytest.raises(InsecureConfiguration):
        build_app("  ", "", inbox)
    with (caplog.at_level(logging.WARNING, logger="humacrona_pipeline.webhook"),
          receiver(inbox, secret=None, token=None, allow_no_auth=True) as c):
        body = event_body()
        assert c.post(PATH, content=body, headers={"content-type": "application/json"}).status_code == 200
    assert "WITHOUT authentication" in caplog.text


# --------------------------------------------------------------------------------------- redelivery, storage

def test_a_redelivered_event_is_stored_once(client, inbox):
    body = event_body()
    first = client.post(PATH, content=body, headers=headers(body))
    again = client.post(PATH, content=body, headers=headers(body, signature="b64"))
    assert first.json()["stored"] is True
    assert again.status_code == 200 and again.json() == {"stored": False, "duplicate": True}
    assert inbox.count() == 1


def test_a_receiver_that_pushes_keeps_its_events_pending_and_asks_once_per_new_event(inbox):
    asked = []
    with receiver(inbox, on_stored=lambda connection: asked.append((connection, inbox.count()))) as c:
        body = event_body()
        first = c.post(PATH, content=body, headers=headers(body))
        again = c.post(PATH, content=body, headers=headers(body))  # a redelivery: nothing new to push
        other = event_body("users-create", {"id": "u-2", "email": "b@x.se"})
        c.post(PATH, content=other, headers=headers(other, topic="users-create"))
    assert first.json()["stored"] is True and again.json()["duplicate"] is True
    assert asked == [("default", 1), ("default", 2)]  # each time after the event was stored, naming its connection
    assert [e.claimed_by for e in inbox.after(0)] == [PENDING, PENDING]  # the sensor leaves them to it
    assert all(e.delivered_at and e.delivered_at <= e.received_at for e in inbox.after(0))


def test_a_failing_push_request_still_answers_200_and_the_event_stays_for_the_sensor(inbox, caplog):
    def broken(_connection: str) -> None:
        raise RuntimeError("the push worker is gone")

    with receiver(inbox, on_stored=broken) as c:
        body = event_body()
        answer = c.post(PATH, content=body, headers=headers(body))
    assert answer.status_code == 200 and answer.json()["stored"] is True
    (event,) = inbox.after(0)
    assert event.claimed_by == PENDING  # taken over by huma_changes_sensor after CLAIM_GRACE_S
    assert "the sensor will" in caplog.text


def test_a_receiver_without_push_stores_events_unclaimed(client, inbox):
    body = event_body()
    client.post(PATH, content=body, headers=headers(body))
    assert [e.claimed_by for e in inbox.after(0)] == [None]  # the sensor's next tick pushes it


def test_a_storage_failure_is_answered_503_so_huma_retries(tmp_path):
    (tmp_path / "down.sqlite").mkdir()  # a directory where the database file should be: cannot be opened
    with receiver(Inbox(f"sqlite:///{tmp_path / 'down.sqlite'}")) as c:
        body = event_body()
        answer = c.post(PATH, content=body, headers=headers(body))
    assert answer.status_code == 503
    assert "stored" not in answer.json()
    assert answer.headers["retry-after"]


# ------------------------------------------------------------------------------------------- malformed bodies

MALFORMED = {
    "not json": b"topic=users-update",
    "truncated json": event_body()[:-3],
    "not utf-8": b'{"topic": "users-update", "users": [{"id": "\xff", "email": "a@x.se"}]}',
    "array": b'[{"id": "u1", "email": "a@x.se"}]',
    "no topic": json.dumps({"users": [{"id": "u1", "email": "a@x.se"}]}).encode(),
    "unknown topic": event_body("users-rename"),
    "no users": json.dumps({"topic": "users-update"}).encode(),
    "users not a list": json.dumps({"topic": "users-update", "users": {"id": "u1", "email": "a@x.se"}}).encode(),
    "user not an object": event_body("users-update", "u1"),
    "user without id": event_body("users-update", {"email": "a@x.se"}),
    "numeric id": event_body("users-update", {"id": 17, "email": "a@x.se"}),
    "blank id": event_body("users-update", {"id": " ", "email": "a@x.se"}),
    "user without email": event_body("users-update", {"id": "u1"}),
    "null email": event_body("users-update", {"id": "u1", "email": None}),
    "deeply nested": b'{"topic": "users-update", "users": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_body_is_refused_400_and_nothing_stored(client, inbox, case):
    body = MALFORMED[case]
    topic = "users-rename" if case == "unknown topic" else "users-update"
    answer = client.post(PATH, content=body, headers=headers(body, topic=topic))
    assert answer.status_code == 400, answer.text
    assert inbox.count() == 0


def test_a_topic_header_that_differs_from_the_body_is_refused(client, inbox):
    body = event_body("users-update")
    assert client.post(PATH, content=body, headers=headers(body, topic="users-delete")).status_code == 400
    assert client.post(PATH, content=body, headers=headers(body, topic=None)).status_code == 200  # header optional
    assert inbox.count() == 1


def test_a_body_that_is_not_declared_json_is_refused(client, inbox):
    body = event_body()
    sent = {**headers(body), "content-type": "text/plain"}
    assert client.post(PATH, content=body, headers=sent).status_code == 415
    assert inbox.count() == 0


# -------------------------------------------------------------------------------------------- oversized bodies

LIMIT = 2048


@pytest.fixture
def small(inbox):
    with receiver(inbox, max_body_bytes=LIMIT) as c:
        yield c


def padded(size: int) -> bytes:
    """A valid event of exactly ``size`` bytes."""
    body = event_body(padding="")
    return event_body(padding="x" * (size - len(body)))


def test_a_body_at_the_limit_is_accepted_and_one_byte_more_is_413(small, inbox):
    at_limit, over = padded(LIMIT), padded(LIMIT + 1)
    assert len(at_limit) == LIMIT and len(over) == LIMIT + 1
    assert small.post(PATH, content=over, headers=headers(over)).status_code == 413
    assert inbox.count() == 0
    assert small.post(PATH, content=at_limit, headers=headers(at_limit)).status_code == 200
    assert inbox.count() == 1


def test_a_chunked_body_without_content_length_is_cut_off_at_the_limit(small, inbox):
    body = padded(3 * LIMIT)
    sent = headers(body)

    def chunks():
        for i in range(0, len(body), 512):
            yield body[i:i + 512]

    answer = small.post(PATH, content=chunks(), headers=sent)
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413
    assert inbox.count() == 0


def test_a_declared_oversized_body_is_refused_before_it_is_read(inbox):
    with (BackgroundServer(build_app(SECRET, TOKEN, inbox, max_body_bytes=LIMIT)) as server,
          socket.create_connection((server.host, server.port), timeout=5) as sock):
        sock.sendall((f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Authorization: Bearer {TOKEN}\r\nContent-Length: 1000000000\r\n\r\n").encode())
        reply = sock.recv(4096)  # no body was sent: only an answer that does not wait for it arrives
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]
    assert inbox.count() == 0


# ----------------------------------------------------------------------------------------------------- logging

def test_the_log_names_topic_count_and_event_id_but_no_secret(inbox, caplog):
    with caplog.at_level(logging.DEBUG), receiver(inbox) as c:
        body = event_body()
        stored = c.post(PATH, content=body, headers=headers(body)).json()["event_id"]
        c.post(PATH, content=body, headers=headers(body))
        c.post(PATH, content=body, headers=headers(body, signature=sign_hex(body, "guess")))
        c.post(PATH, content=body, headers=headers(body, token="guess"))
        c.post(PATH, content=b"{", headers=headers(b"{"))
    text = caplog.text
    assert f"users-update with 1 users stored as event {stored}" in text
    assert "redelivery" in text and "refused (401)" in text and "refused (400)" in text
    for secret in (SECRET, TOKEN, ACCOUNT, "123 456 789", sign_hex(body), sign_b64(body)):
        assert secret not in text


# ------------------------------------------------------------------------------------------------- the command

def _humacrona() -> list[str]:
    exe = shutil.which("humacrona")
    return [exe] if exe else [sys.executable, "-m", "humacrona_pipeline.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUMACRONA_")}
    return {**env, "DAGSTER_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1", **extra}


class WebhookProcess:
    """`humacrona webhook --port 0` in a subprocess; its output is read on a thread, so nothing blocks."""

    def __init__(self, env: dict[str, str], *args: str):
        self.proc = subprocess.Popen([*_humacrona(), "webhook", "--port", "0", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_ready(self, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        url = None
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if line.startswith("WEBHOOK_URL="):
                url = line.partition("=")[2]
            if line == "READY":
                assert url, self.output()
                return url
        self.stop()
        raise AssertionError("the receiver did not print READY:\n" + self.output())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return self.proc.returncode

    def output(self) -> str:
        return "\n".join(self.lines)


def test_the_command_serves_until_sigterm_and_never_prints_a_secret(tmp_path):
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    process = WebhookProcess(_env(tmp_path, HUMACRONA_WEBHOOK_SECRET=SECRET, HUMACRONA_WEBHOOK_TOKEN=TOKEN,
                                  HUMACRONA_STATE_URL=state))
    try:
        url = process.wait_ready()
        assert re.fullmatch(rf"http://127\.0\.0\.1:\d+{PATH}", url), url
        body = event_body()
        with httpx.Client(timeout=10) as c:
            assert c.get(url.replace(PATH, "/healthz")).status_code == 200
            answer = c.post(url, content=body, headers=headers(body))
            assert answer.status_code == 200 and answer.json()["stored"] is True, answer.text
            assert c.post(url, content=body, headers=headers(body, signature="0" * 64)).status_code == 401
            assert c.post(url, content=body, headers=headers(body, token="guess")).status_code == 401
    finally:
        code = process.stop()
    assert code == 0, process.output()
    assert Inbox(state).count() == 1
    out = process.output()
    assert f"stored as event {answer.json()['event_id']}" in out
    for secret in (SECRET, TOKEN, ACCOUNT, "123 456 789"):
        assert secret not in out


def test_the_command_refuses_to_start_without_authentication_unless_insecure(tmp_path):
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    refused = subprocess.run([*_humacrona(), "webhook", "--port", "0"], env=_env(tmp_path, HUMACRONA_STATE_URL=state),
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "HUMACRONA_WEBHOOK_SECRET" in refused.stderr and "--insecure-no-auth" in refused.stderr

    process = WebhookProcess(_env(tmp_path, HUMACRONA_STATE_URL=state), "--insecure-no-auth")
    try:
        process.wait_ready()
    finally:
        assert process.stop() == 0
    assert "WARNING" in process.output() and "NO client secret" in process.output()


# The receiver up to READY in a fresh interpreter: its stdout, swapped, notes which heavy libraries are loaded when
# READY is printed, then stops it as SIGTERM would.
READY_PROBE = """
import io, json, os, signal, sys
from humacrona_pipeline.cli import main

class AtReady(io.StringIO):
    loaded = None

    def write(self, text):
        if text.strip() == "READY" and AtReady.loaded is None:
            AtReady.loaded = sorted(m for m in sys.argv[1:] if m in sys.modules)
            os.kill(os.getpid(), signal.SIGTERM)
        return super().write(text)

real, sys.stdout = sys.stdout, AtReady()
code = main(["webhook", "--host", "127.0.0.1", "--port", "0", "--insecure-no-auth"])
sys.stdout = real
print(json.dumps([code, AtReady.loaded]))
"""


def test_the_receiver_is_ready_without_loading_pandas_or_dagster(tmp_path):
    """Its first lines are printed, and its app and options built, without pandas or Dagster (the push worker
    loads Dagster in its own process)."""
    from humacrona_pipeline.defs.realtime.trigger import CONNECTION_VARIABLES

    env = {k: v for k, v in _env(tmp_path, HUMACRONA_STATE_URL=f"sqlite:///{tmp_path / 'state.sqlite'}").items()
           if k not in CONNECTION_VARIABLES}
    done = subprocess.run([sys.executable, "-c", READY_PROBE, "pandas", "numpy", "dagster"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == [0, []], done.stderr[-3000:]
