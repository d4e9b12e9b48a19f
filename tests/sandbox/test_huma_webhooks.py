"""The Huma sandbox sends webhooks like Huma: topics, signatures, bearer tokens, whole-user payloads,
in order, in the background, with retries; registered by options, admin endpoints or Python methods.

A small starlette receiver on an ephemeral port records every request it gets."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from humacrona_sandbox.huma_app import HumaSandbox, HumaSandboxSettings
from humacrona_sandbox.huma_webhooks import USER_KEYS, WebhookSettings
from humacrona_sandbox.runner import SandboxOptions, add_arguments, options_from_args, start_sandboxes
from humacrona_sandbox.server import BackgroundServer
from humacrona_sandbox.store import Store
from tests.sandbox.huma_testkit import TITLES, seed_user, seed_users

SECRET = "s3cr3t-webhook-key"
TOKEN = "receiver-token-123"
FAST = WebhookSettings(backoff_s=0.05, backoff_max_s=0.2, timeout_s=2.0, stop_timeout_s=3.0)


# ---------------------------------------------------------------- the receiver


@dataclass
class Received:
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> dict:
        return json.loads(self.raw)

    @property
    def topic(self) -> str:
        return self.body["topic"]

    @property
    def users(self) -> list[dict]:
        return self.body["users"]


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer first, then 200
    delay_s: float = 0.0

    def topics(self) -> list[str]:
        return [r.topic for r in self.requests]


@contextlib.contextmanager
def receiver(**options) -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    async def hook(request: Request) -> JSONResponse:
        rec = box["r"]
        rec.requests.append(Received({k.lower(): v for k, v in request.headers.items()}, await request.body()))
        if rec.delay_s:
            await asyncio.sleep(rec.delay_s)
        status = rec.answers.pop(0) if rec.answers else 200
        return JSONResponse({"ok": status < 300}, status_code=status)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with BackgroundServer(app) as server:
        box["r"] = Receiver(f"{server.url}/hook", **options)
        yield box["r"]


@dataclass
class Huma:
    sandbox: HumaSandbox
    url: str

    def api(self) -> httpx.Client:
        token = httpx.post(f"{self.url}/auth/oauth/token", data={
            "grant_type": "client_credentials", "client_id": self.sandbox.settings.client_id,
            "client_secret": self.sandbox.settings.client_secret}).json()["access_token"]
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/_sandbox", timeout=10)

    def settle(self) -> None:
        assert self.sandbox.wait_for_webhooks(10), self.sandbox.webhooks.stats()


@contextlib.contextmanager
def huma(users: list[dict] | None = None, webhooks: WebhookSettings = FAST) -> Iterator[Huma]:
    sandbox = HumaSandbox(Store(), HumaSandboxSettings(webhooks=webhooks))
    sandbox.load_seed(users if users is not None else seed_users(4))
    try:
        with BackgroundServer(sandbox.app) as server:
            yield Huma(sandbox, server.url)
    finally:
        sandbox.close()
        assert not sandbox.webhooks.running


def _hmac(raw: bytes, secret: str = SECRET) -> bytes:
    return hmac.new(secret.encode(), raw, hashlib.sha256).digest()


def _company(api: httpx.Client) -> str:
    return api.get("/groups").json()["items"][0]["id"]


# ---------------------------------------------------------------- what is sent


def test_create_update_and_position_changes_send_whole_users_signed_with_a_token():
    with receiver() as rec, huma() as h, h.api() as api:
        h.sandbox.register_webhook(rec.url, secret=SECRET, token=TOKEN)
        created = api.post("/users", json={"givenName": "Vera", "familyName": "Ek", "email": "Vera.Ek@nordljus.se",
                                           "phone": "+46 73 555 12 12", "groups": [_company(api)]})
        assert created.status_code == 200
        vera = created.json()["id"]
        user0 = seed_user(0)
        patched = api.patch(f"/users/{user0['id']}", json={"phone": "+46 70 999 88 77", "privateEmail": None})
        assert patched.status_code == 200
        title = api.get("/job-titles").json()[0]
        position = api.post(f"/users/{vera}/positions", json={
            "contractStartDate": "2024-02-01", "contractType": "Permanent", "titleId": title["id"]}).json()["id"]
        ended = api.patch(f"/users/{vera}/positions/{position}", json={"contractEndDate": "2099-06-30"})
        assert ended.status_code == 200
        assert api.delete(f"/users/{vera}/positions/{position}").status_code == 200
        h.settle()

    assert rec.topics() == ["users-create", "users-update", "users-update", "users-update", "users-update"]
    for got in rec.requests:
        assert got.headers["huma-topic"] == got.topic
        assert got.headers["content-type"] == "application/json"
        assert got.headers["huma-hmac-sha256"] == _hmac(got.raw).hex()
        assert got.headers["authorization"] == f"Bearer {TOKEN}"
        assert set(got.body) == {"topic", "users", "timestamp"} and got.body["timestamp"].endswith("Z")
        assert len(got.users) == 1 and tuple(got.users[0]) == USER_KEYS

    create, update, pos_create, pos_update, pos_delete = (r.users[0] for r in rec.requests)
    assert create == {"id": vera, "email": "Vera.Ek@nordljus.se", "givenName": "Vera", "familyName": "Ek",
                      "phone": "+46 73 555 12 12", "employmentId": None, "privateEmail": None, "homeAddress": None,
                      "bankAccount": None, "position": None}
    # an update carries the whole current user, not only what changed
    assert update == {
        "id": user0["id"], "email": user0["email"], "givenName": user0["givenName"],
        "familyName": user0["familyName"], "phone": "+46 70 999 88 77", "employmentId": user0["employmentId"],
        "privateEmail": None,
        "homeAddress": {**user0["homeAddress"], "line2": None, "line3": None},
        "bankAccount": user0["bankAccount"],
        "position": {"id": user0["positions"][0]["id"], "contractStartDate": "2019-03-01", "contractEndDate": None,
                     "title": TITLES[0]},
    }
    assert pos_create["id"] == vera and pos_create["position"] == {
        "id": position, "contractStartDate": "2024-02-01", "contractEndDate": None, "title": title["name"]}
    assert pos_update["position"]["contractEndDate"] == "2099-06-30"
    assert pos_delete["id"] == vera and pos_delete["email"] == "Vera.Ek@nordljus.se" and pos_delete["position"] is None


def test_base64_signatures_and_admin_registration_list_and_delete():
    with receiver() as rec, huma() as h, h.api() as api, h.admin() as admin:
        made = admin.post("/webhooks", json={"url": rec.url, "secret": SECRET, "signature": "base64"})
        assert made.status_code == 201, made.text
        webhook = made.json()
        assert webhook["url"] == rec.url and webhook["secretSet"] is True and webhook["tokenSet"] is False
        listed = admin.get("/webhooks").json()
        assert [w["id"] for w in listed["webhooks"]] == [webhook["id"]]
        assert SECRET not in json.dumps(listed)

        api.patch(f"/users/{seed_user(1)['id']}", json={"employmentId": "E-77"})
        h.settle()
        assert admin.delete(f"/webhooks/{webhook['id']}").status_code == 200
        assert admin.delete(f"/webhooks/{webhook['id']}").status_code == 404
        api.patch(f"/users/{seed_user(1)['id']}", json={"employmentId": "E-78"})  # nobody listens any more
        h.settle()
        assert admin.get("/webhooks").json()["webhooks"] == []

    assert len(rec.requests) == 1
    got = rec.requests[0]
    assert got.headers["huma-hmac-sha256"] == base64.b64encode(_hmac(got.raw)).decode()
    assert "authorization" not in got.headers
    assert got.users[0]["employmentId"] == "E-77"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "url"), ({"url": "ftp://x.se/hook"}, "url"),
    ({"url": "http://127.0.0.1:9/h", "signature": "md5"}, "signature"),
    ({"url": "http://127.0.0.1:9/h", "secret": ""}, "secret"),
    ({"url": "http://127.0.0.1:9/h", "events": []}, "events"),
])
def test_bad_registrations_are_refused(body, field):
    with huma() as h, h.admin() as admin:
        answer = admin.post("/webhooks", json=body)
        assert answer.status_code == 400 and answer.json()["fields"] == [field], answer.text
        assert admin.get("/webhooks").json()["webhooks"] == []
    with pytest.raises(ValueError):
        HumaSandbox(Store()).register_webhook("not a url")


def test_several_receivers_each_get_every_event_in_order():
    with receiver() as first, receiver() as second, huma() as h, h.api() as api:
        h.sandbox.register_webhook(first.url, secret=SECRET)
        h.sandbox.register_webhook(second.url, token=TOKEN)
        for n in range(15):
            assert api.patch(f"/users/{seed_user(2)['id']}", json={"employmentId": f"SEQ-{n}"}).status_code == 200
        h.settle()
    for rec in (first, second):
        assert [r.users[0]["employmentId"] for r in rec.requests] == [f"SEQ-{n}" for n in range(15)]
    assert "huma-hmac-sha256" in first.requests[0].headers and "huma-hmac-sha256" not in second.requests[0].headers
    assert second.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_refused_write_sends_nothing():
    with receiver() as rec, huma() as h, h.api() as api:
        h.sandbox.register_webhook(rec.url)
        bad = api.patch(f"/users/{seed_user(0)['id']}", json={"email": seed_user(1)["email"]})
        assert bad.status_code == 400
        h.settle()
        assert rec.requests == [] and h.sandbox.webhooks.stats()["events"] == 0


# ---------------------------------------------------------------- the HR administrator's changes


def test_admin_update_applies_the_api_rules_and_sends_an_update():
    with receiver() as rec, huma() as h, h.admin() as admin:
        h.sandbox.register_webhook(rec.url, secret=SECRET)
        user1 = seed_user(1)
        changed = admin.patch(f"/users/{user1['id']}", json={
            "phone": "+46 70 123 00 99",
            "homeAddress": {**user1["homeAddress"], "city": "Uppsala", "postalCode": "75310"},
            "position": {"contractEndDate": "2099-12-31", "title": "Chief Listener"}})
        assert changed.status_code == 200, changed.text
        details = changed.json()
        assert details["phone"]["value"] == "+46 70 123 00 99"
        assert details["jobTitle"]["value"]["name"] == "Chief Listener"
        h.settle()
        assert len(rec.requests) == 1
        event = rec.requests[0]
        assert event.topic == "users-update" and event.headers["huma-hmac-sha256"] == _hmac(event.raw).hex()
        user = event.users[0]
        assert user["id"] == user1["id"] and user["email"] == user1["email"] and user["phone"] == "+46 70 123 00 99"
        assert user["homeAddress"]["city"] == "Uppsala"
        assert user["position"]["contractEndDate"] == "2099-12-31" and user["position"]["title"] == "Chief Listener"

        # the same rules as the API: nothing is written and nothing sent when one is broken
        refusals = [
            ({"homeAddress": {**user1["homeAddress"], "country": "Sverige"}}, ["homeAddress.country"]),
            ({"email": seed_user(0)["email"].upper()}, ["email"]),
            ({"position": {"contractEndDate": "2001-01-01"}}, ["position.contractEndDate"]),
            ({"position": {"title": " "}, "givenName": None}, ["givenName", "position.title"]),
            ({"nickname": "Bo"}, ["nickname"]),
        ]
        for body, fields in refusals:
            answer = admin.patch(f"/users/{user1['id']}", json=body)
            assert answer.status_code == 400 and answer.json()["fields"] == fields, answer.text
        assert admin.patch("/users/00000000-0000-4000-8000-000000000000", json={"phone": None}).status_code == 404
        h.settle()
        assert len(rec.requests) == 1
        assert h.sandbox.directory.user(user1["id"])["homeAddress"]["country"] == "SE"

        # by email, and from Python
        by_email = admin.patch("/users", params={"email": seed_user(2)["email"].upper()}, json={"employmentId": "HR-2"})
        assert by_email.status_code == 200 and by_email.json()["employmentId"]["value"] == "HR-2"
        back = h.sandbox.admin_update_user(seed_user(3)["email"], {"privateEmail": "tre@example.org"})
        assert back["privateEmail"]["value"] == "tre@example.org"
        h.settle()
    assert [(r.topic, r.users[0]["id"]) for r in rec.requests[1:]] == [
        ("users-update", seed_user(2)["id"]), ("users-update", seed_user(3)["id"])]
    assert rec.requests[2].users[0]["privateEmail"] == "tre@example.org"


def test_admin_gives_a_user_without_a_position_one_and_deletes_users():
    with receiver() as rec, huma() as h, h.api() as api, h.admin() as admin:
        h.sandbox.register_webhook(rec.url)
        vera = api.post("/users", json={"givenName": "Vera", "familyName": "Ek", "email": "vera.ek@nordljus.se",
                                        "groups": [_company(api)]}).json()["id"]
        lacking = admin.patch(f"/users/{vera}", json={"position": {"title": "Developer"}})
        assert lacking.status_code == 400 and lacking.json()["fields"] == ["position.contractStartDate"]
        given = admin.patch(f"/users/{vera}",
                            json={"position": {"title": "developer", "contractStartDate": "2024-05-01"}})
        assert given.status_code == 200, given.text
        assert [p["title"]["name"] for p in api.get(f"/users/{vera}/positions").json()["items"]] == ["Developer"]

        gone = admin.delete(f"/users/{vera}")
        assert gone.status_code == 200 and gone.json() == {"deleted": {"id": vera, "email": "vera.ek@nordljus.se"}}
        assert api.get(f"/users/{vera}").status_code == 404
        assert admin.delete(f"/users/{vera}").status_code == 404
        assert h.sandbox.admin_delete_user(seed_user(0)["email"]) == {"id": seed_user(0)["id"],
                                                                       "email": seed_user(0)["email"]}
        # the email is free again
        again = api.post("/users", json={"givenName": "Vera", "familyName": "Ek", "email": "vera.ek@nordljus.se",
                                         "groups": [_company(api)]})
        assert again.status_code == 200
        h.settle()
    assert rec.topics() == ["users-create", "users-update", "users-delete", "users-delete", "users-create"]
    assert rec.requests[1].users[0]["position"]["title"] == "Developer"
    assert rec.requests[2].users == [{"id": vera, "email": "vera.ek@nordljus.se"}]


# ---------------------------------------------------------------- export


def test_export_sends_every_user_in_batches_of_100():
    users = seed_users(230)
    with receiver() as rec, huma(users) as h, h.admin() as admin:
        h.sandbox.register_webhook(rec.url, secret=SECRET)
        answer = admin.post("/webhooks/export")
        assert answer.status_code == 202 and answer.json()["requestsPerWebhook"] == 3
        assert admin.post("/webhooks/export", params={"id": "nope"}).status_code == 404
        h.settle()
    assert rec.topics() == ["users-export"] * 3
    assert [len(r.users) for r in rec.requests] == [100, 100, 30]
    assert [u["id"] for r in rec.requests for u in r.users] == [u["id"] for u in users]
    assert all(r.headers["huma-topic"] == "users-export" and r.headers["huma-hmac-sha256"] == _hmac(r.raw).hex()
               for r in rec.requests)
    assert all(tuple(u) == USER_KEYS for r in rec.requests for u in r.users)


# ---------------------------------------------------------------- delivery


def test_a_receiver_answering_500_twice_gets_the_event_on_the_third_attempt():
    with receiver(answers=[500, 500]) as rec, huma() as h, h.api() as api, h.admin() as admin:
        h.sandbox.register_webhook(rec.url, secret=SECRET)
        api.patch(f"/users/{seed_user(0)['id']}", json={"employmentId": "R-1"})
        h.settle()
        stats = admin.get("/stats").json()["webhooks"]
        listed = admin.get("/webhooks").json()["webhooks"][0]
    assert len(rec.requests) == 3 and len({r.raw for r in rec.requests}) == 1  # the same bytes, re-sent
    assert len({r.headers["huma-hmac-sha256"] for r in rec.requests}) == 1
    assert stats == {"registered": 1, "events": 1, "sent": 1, "failed": 0, "dropped": 0, "attempts": 3, "pending": 0}
    assert listed["sent"] == 1 and listed["attempts"] == 3 and listed["failed"] == 0


def test_deliveries_that_keep_failing_are_dropped_and_counted():
    settings = WebhookSettings(max_attempts=3, backoff_s=0.01, backoff_max_s=0.02, timeout_s=1.0)
    with (receiver(answers=[503] * 3 + [404] * 3) as rec, huma(webhooks=settings) as h, h.api() as api,
          h.admin() as admin):
        h.sandbox.register_webhook(rec.url)
        h.sandbox.register_webhook("http://127.0.0.1:1/nobody-listens")  # connection refused
        api.patch(f"/users/{seed_user(0)['id']}", json={"employmentId": "F-1"})
        api.patch(f"/users/{seed_user(0)['id']}", json={"employmentId": "F-2"})
        api.patch(f"/users/{seed_user(0)['id']}", json={"employmentId": "F-3"})
        h.settle()
        stats = admin.get("/stats").json()["webhooks"]
        listed = {w["url"]: w for w in admin.get("/webhooks").json()["webhooks"]}
    assert [r.users[0]["employmentId"] for r in rec.requests] == ["F-1"] * 3 + ["F-2"] * 3 + ["F-3"]
    assert listed[rec.url]["failed"] == 2 and listed[rec.url]["sent"] == 1
    refused = listed["http://127.0.0.1:1/nobody-listens"]
    assert refused["failed"] == 3 and refused["sent"] == 0 and refused["attempts"] == 9 and refused["lastError"]
    assert stats["sent"] == 1 and stats["failed"] == 5 and stats["pending"] == 0


def test_a_slow_receiver_never_delays_the_api_and_stopping_drops_what_is_pending():
    with receiver(delay_s=1.5) as rec, huma() as h, h.api() as api:
        h.sandbox.register_webhook(rec.url)
        started = time.monotonic()
        for n in range(5):
            assert api.patch(f"/users/{seed_user(1)['id']}", json={"employmentId": f"S-{n}"}).status_code == 200
        assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 5
        while not rec.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(rec.requests) == 1  # the first is in flight, the other four wait their turn
        started = time.monotonic()
        h.sandbox.close()
        assert time.monotonic() - started < 1.0
        assert not h.sandbox.webhooks.running
        stats = h.sandbox.webhooks.stats()
        assert stats["dropped"] == 5 and stats["pending"] == 0 and stats["sent"] == 0
        # after the stop, changes still succeed and are counted as dropped
        assert api.patch(f"/users/{seed_user(1)['id']}", json={"employmentId": "S-late"}).status_code == 200
        assert h.sandbox.webhooks.stats()["dropped"] == 6


def test_a_python_caller_may_register_on_a_sandbox_with_no_server_and_close_it():
    sandbox = HumaSandbox(Store(), HumaSandboxSettings(webhooks=FAST))
    sandbox.load_seed(seed_users(2))
    with receiver() as rec:
        webhook = sandbox.register_webhook(rec.url, signature="base64", secret=SECRET)
        sandbox.admin_update_user(seed_user(0)["id"], {"givenName": "Annika"})
        assert sandbox.wait_for_webhooks(10)
        sandbox.unregister_webhook(webhook)
        with pytest.raises(KeyError):
            sandbox.unregister_webhook(webhook)
        sandbox.close()
        sandbox.close()  # idempotent
    assert not sandbox.webhooks.running
    assert rec.requests[0].users[0]["givenName"] == "Annika"


# ---------------------------------------------------------------- the command line


def test_sandbox_options_register_a_webhook_and_stop_its_thread():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--huma-port", "0", "--crona-port", "0", "--employees", "6",
                              "--webhook-secret", SECRET, "--webhook-token", TOKEN, "--webhook-signature", "base64"])
    with receiver() as rec:
        options = options_from_args(args)
        assert options.webhook_signature == "base64" and options.webhook_url is None
        with pytest.raises(ValueError, match="--webhook-url"):
            start_sandboxes(options)
        options.webhook_url = rec.url
        with start_sandboxes(options) as running:
            listed = httpx.get(f"{running.huma_url}/_sandbox/webhooks").json()["webhooks"]
            assert [(w["url"], w["signature"], w["secretSet"], w["tokenSet"]) for w in listed] == [
                (rec.url, "base64", True, True)]
            user = running.huma.directory.users[next(iter(running.huma.directory.users))]
            running.huma.admin_update_user(user["id"], {"employmentId": "CLI-1"})
            assert running.huma.wait_for_webhooks(10)
        assert not running.huma.webhooks.running
    assert len(rec.requests) == 1
    got = rec.requests[0]
    assert got.headers["huma-hmac-sha256"] == base64.b64encode(_hmac(got.raw)).decode()
    assert got.headers["authorization"] == f"Bearer {TOKEN}"
    assert got.users[0]["employmentId"] == "CLI-1"
    with pytest.raises(SystemExit):
        parser.parse_args(["--webhook-signature", "sha1"])
    assert SandboxOptions().webhook_signature == "hex"
