"""The webhook receiver with several connections, over real HTTP: each connection's webhooks on its own path,
checked with its own secret and stored in its own inbox; another connection's signature, an unknown connection's
path and today's single path are refused with nothing stored; and the `humacrona webhook` command with a
connections file."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from contextlib import contextmanager

import httpx
import pytest
import yaml

from humacrona_pipeline.serving import BackgroundServer
from humacrona_pipeline.state import db
from humacrona_pipeline.state.inbox import PENDING, Inbox
from humacrona_pipeline.webhook import PATH, Endpoint, InsecureConfiguration, build_app, build_receiver
from tests.test_webhook import TOKEN, WebhookProcess, _env, event_body

NORTH_SECRET, SOUTH_SECRET = "whsec-north-5d1e9a0c", "whsec-south-8b2f4c7e"
ANNA = {"id": "3f1c0a6e-1111-4d2b-9c55-000000000001", "email": "anna@example.se"}
BO = {"id": "3f1c0a6e-1111-4d2b-9c55-000000000002", "email": "bo@example.se"}


def signed(body: bytes, secret: str, **extra: str) -> dict[str, str]:
    return {"content-type": "application/json", "huma-topic": "users-update",
            "huma-hmac-sha256": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(), **extra}


@pytest.fixture
def url(tmp_path):
    yield f"sqlite:///{tmp_path / 'state.sqlite'}"
    db.dispose_all()


def inboxes(url: str) -> dict[str, Inbox]:
    return {name: Inbox(url, connection=name) for name in ("north", "south", "default")}


@contextmanager
def receiver(endpoints, token=None, **kwargs):
    with (BackgroundServer(build_receiver(endpoints, token, **kwargs)) as server,
          httpx.Client(base_url=server.url, timeout=10) as client):
        yield client


@pytest.fixture
def two(url):
    """A receiver for north and south, each with its own secret (no access token)."""
    boxes = inboxes(url)
    asked: list[str] = []
    endpoints = [Endpoint(boxes["north"], NORTH_SECRET, "WEBHOOK_SECRET_NORTH"),
                 Endpoint(boxes["south"], SOUTH_SECRET, "WEBHOOK_SECRET_SOUTH")]
    with receiver(endpoints, on_stored=asked.append) as client:
        yield client, boxes, asked


def test_each_connections_webhooks_land_in_its_own_inbox(two):
    client, boxes, asked = two
    anna, bo = event_body("users-update", ANNA), event_body("users-update", BO)
    to_north = client.post(f"{PATH}/north", content=anna, headers=signed(anna, NORTH_SECRET))
    to_south = client.post(f"{PATH}/south", content=bo, headers=signed(bo, SOUTH_SECRET))
    assert to_north.status_code == 200 and to_south.status_code == 200, (to_north.text, to_south.text)
    assert [(e.id, e.user_ids) for e in boxes["north"].after(0)] == [(to_north.json()["event_id"], (ANNA["id"],))]
    assert [(e.id, e.user_ids) for e in boxes["south"].after(0)] == [(to_south.json()["event_id"], (BO["id"],))]
    assert asked == ["north", "south"]  # each push asked for the connection the event is for
    assert all(e.claimed_by == PENDING for box in ("north", "south") for e in boxes[box].after(0))
    # the same body delivered to both paths is one event for each; delivered again, it is known
    again = client.post(f"{PATH}/south", content=anna, headers=signed(anna, SOUTH_SECRET))
    assert again.json()["stored"] is True
    assert client.post(f"{PATH}/south", content=anna, headers=signed(anna, SOUTH_SECRET)).json()["duplicate"]
    assert (boxes["north"].count(), boxes["south"].count(), boxes["default"].count()) == (1, 2, 0)


def test_a_body_signed_with_another_connections_secret_is_refused_and_nothing_stored(two, caplog):
    client, boxes, asked = two
    body = event_body("users-update", ANNA)
    with caplog.at_level(logging.INFO, logger="humacrona_pipeline.webhook"):
        answer = client.post(f"{PATH}/south", content=body, headers=signed(body, NORTH_SECRET))
    assert answer.status_code == 401
    assert (boxes["north"].count(), boxes["south"].count()) == (0, 0) and asked == []
    assert "connection south refused (401)" in caplog.text
    assert NORTH_SECRET not in caplog.text and SOUTH_SECRET not in caplog.text


@pytest.mark.parametrize("path", [f"{PATH}/west", f"{PATH}/default", f"{PATH}/North", PATH, "/"])
def test_an_unknown_connections_path_and_todays_single_path_are_404_and_nothing_stored(two, url, path, caplog):
    client, boxes, asked = two
    body = event_body("users-update", ANNA)
    with caplog.at_level(logging.INFO, logger="humacrona_pipeline.webhook"):
        answer = client.post(path, content=body, headers=signed(body, NORTH_SECRET))
    assert answer.status_code == 404 and "stored" not in answer.json()
    assert sum(box.count() for box in boxes.values()) == 0 and Inbox(url, connection="west").count() == 0
    assert asked == [] and "refused (404)" in caplog.text
    assert "west" not in caplog.text  # a made-up name is not written to the log


def test_a_connection_without_a_secret_needs_the_access_token_or_consent(url):
    boxes = inboxes(url)
    endpoints = [Endpoint(boxes["north"], NORTH_SECRET, "WEBHOOK_SECRET_NORTH"), Endpoint(boxes["south"])]
    with pytest.raises(InsecureConfiguration, match=r"connection\(s\) south .*HUMACRONA_WEBHOOK_TOKEN"):
        build_receiver(endpoints, None)
    body = event_body("users-update", ANNA)
    bearer = {"authorization": f"Bearer {TOKEN}"}
    with receiver(endpoints, TOKEN) as client:  # the token guards every path; north also needs its signature
        assert client.post(f"{PATH}/south", content=body, headers=signed(body, "anything")).status_code == 401
        assert client.post(f"{PATH}/south", content=body, headers=signed(body, "x", **bearer)).status_code == 200
        assert client.post(f"{PATH}/north", content=body, headers=signed(body, "x", **bearer)).status_code == 401
        assert client.post(f"{PATH}/north", content=body,
                           headers=signed(body, NORTH_SECRET, **bearer)).status_code == 200
    assert (boxes["north"].count(), boxes["south"].count()) == (1, 1)
    with receiver(endpoints, None, allow_no_auth=True) as client:  # consent: south's path takes anything
        other = event_body("users-create", BO)
        assert client.post(f"{PATH}/south", content=other, headers={"content-type": "application/json"}).json()[
            "stored"] is True
        assert client.post(f"{PATH}/north", content=other, headers={}).status_code == 401
    assert (boxes["north"].count(), boxes["south"].count()) == (1, 2)


def test_one_connection_is_served_on_todays_paths_and_its_own(url):
    boxes = inboxes(url)
    secret = "whsec-default-0a1b2c3d"
    with (BackgroundServer(build_app(secret, None, boxes["default"])) as server,
          httpx.Client(base_url=server.url, timeout=10) as client):
        for i, path in enumerate((PATH, "/", f"{PATH}/default")):
            body = event_body("users-update", {**ANNA, "id": f"u-{i}"})
            assert client.post(path, content=body, headers=signed(body, secret)).json()["stored"] is True
        body = event_body("users-update", BO)
        assert client.post(f"{PATH}/north", content=body, headers=signed(body, secret)).status_code == 404
    assert [e.user_ids for e in boxes["default"].after(0)] == [("u-0",), ("u-1",), ("u-2",)]


def test_two_endpoints_for_one_connection_are_refused(url):
    with pytest.raises(ValueError, match="more than once"):
        build_receiver([Endpoint(Inbox(url, "north"), NORTH_SECRET), Endpoint(Inbox(url, "north"), SOUTH_SECRET)],
                       None)


# ------------------------------------------------------------------------------------ the command with a file

def _connections_file(tmp_path, *, south_secret_env: str | None = "WEBHOOK_SECRET_SOUTH"):
    (tmp_path / "policy.yaml").write_text("default_winner: crona\n", encoding="utf-8")
    entries = []
    for name, code, secret_env in (("north", "CRONA_CODE_NORTH", "WEBHOOK_SECRET_NORTH"),
                                   ("south", "CRONA_CODE_SOUTH", south_secret_env)):
        entry = {"name": name, "crona": {"base_url": "https://crona.example.se", "activation_code_env": code},
                 "policy": "policy.yaml", "report_to": f"lon-{name}@example.se"}
        if secret_env:
            entry["webhook_secret_env"] = secret_env
        entries.append(entry)
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump({"connections": entries}), encoding="utf-8")
    return path


def _file_env(tmp_path, **extra: str) -> dict[str, str]:
    env = _env(tmp_path, HUMACRONA_CONNECTIONS_FILE=str(_connections_file(tmp_path)),
               HUMACRONA_STATE_URL=f"sqlite:///{tmp_path / 'state.sqlite'}",
               HUMA_BASE_URL="https://openapi.humahr.com", HUMA_CLIENT_ID="client-1",
               HUMA_CLIENT_SECRET="huma-secret-6b1f0c9a", CRONA_CODE_NORTH="CRONA-N-7K4M-2Q9X",
               CRONA_CODE_SOUTH="CRONA-S-3P8R-5T1W", WEBHOOK_SECRET_NORTH=NORTH_SECRET,
               WEBHOOK_SECRET_SOUTH=SOUTH_SECRET, **extra)
    env.pop("DAGSTER_HOME")  # no instance: the sensor pushes, this test starts no run
    return env


def _ready_urls(process: WebhookProcess) -> dict[str, str]:
    """The ``WEBHOOK_URL[<connection>]=`` lines the receiver prints before READY."""
    urls = {}
    while (line := process._queue.get(timeout=60)) != "READY":
        assert line is not None, process.output()
        process.lines.append(line)
        if found := re.fullmatch(r"WEBHOOK_URL\[([a-z0-9_-]+)\]=(\S+)", line):
            urls[found[1]] = found[2]
    return urls


def test_the_command_serves_each_connection_of_the_file_on_its_own_path(tmp_path):
    process = WebhookProcess(_file_env(tmp_path))
    try:
        urls = _ready_urls(process)
        assert set(urls) == {"north", "south"}, process.output()
        assert re.fullmatch(rf"http://127\.0\.0\.1:\d+{PATH}/north", urls["north"])
        body = event_body("users-update", ANNA)
        with httpx.Client(timeout=10) as c:
            assert c.post(urls["north"], content=body, headers=signed(body, NORTH_SECRET)).json()["stored"] is True
            assert c.post(urls["south"], content=body, headers=signed(body, NORTH_SECRET)).status_code == 401
            assert c.post(urls["south"], content=body, headers=signed(body, SOUTH_SECRET)).json()["stored"] is True
            assert c.post(urls["north"].replace("/north", ""), content=body,
                          headers=signed(body, NORTH_SECRET)).status_code == 404
    finally:
        code = process.stop()
    assert code == 0, process.output()
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    assert (Inbox(state, "north").count(), Inbox(state, "south").count(), Inbox(state).count()) == (1, 1, 0)
    out = process.output()
    assert "# connection north: required: client secret (huma-hmac-sha256), from WEBHOOK_SECRET_NORTH" in out
    for secret in (NORTH_SECRET, SOUTH_SECRET, "huma-secret-6b1f0c9a", "CRONA-N-7K4M-2Q9X"):
        assert secret not in out


def test_the_command_refuses_a_connection_without_a_secret_and_a_bad_file(tmp_path):
    import subprocess

    from tests.test_webhook import _humacrona

    env = _file_env(tmp_path)
    _connections_file(tmp_path, south_secret_env=None)
    refused = subprocess.run([*_humacrona(), "webhook", "--port", "0"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 2
    assert "south (no webhook_secret_env)" in refused.stderr and "--insecure-no-auth" in refused.stderr
    env["WEBHOOK_SECRET_NORTH"] = ""
    _connections_file(tmp_path)
    refused = subprocess.run([*_humacrona(), "webhook", "--port", "0"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 2
    assert "WEBHOOK_SECRET_NORTH is blank" in refused.stderr  # the file's own check, one line, before listening
    assert SOUTH_SECRET not in refused.stderr + refused.stdout
