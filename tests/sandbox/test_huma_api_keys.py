"""The Huma sandbox's API keys: the configured key may do everything; `POST /_sandbox/api-keys` makes a key
holding only the permissions given, and a call it may not make answers 403 (StandardServerErrorResponse, as
Huma's Spring answers "Access Denied") without changing anything."""

from __future__ import annotations

import httpx
import pytest

from humacrona_sandbox.huma_app import PERMISSIONS


def _token(url: str, client_id: str, client_secret: str) -> dict:
    answer = httpx.post(url + "/auth/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                         "client_secret": client_secret}, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_key_without_a_permission_is_refused_that_call_only(sandboxes):
    url = sandboxes.huma_url
    created = httpx.post(url + "/_sandbox/api-keys", json={"permissions": ["users:read"]}, timeout=10)
    assert created.status_code == 201 and created.json()["permissions"] == ["users:read"]
    key = created.json()
    headers = _token(url, key["clientId"], key["clientSecret"])
    users = httpx.get(url + "/users", headers=headers, params={"limit": 1}, timeout=10)
    assert users.status_code == 200
    user_id = users.json()["items"][0]["id"]
    positions = httpx.get(f"{url}/users/{user_id}/positions", headers=headers, timeout=10)
    refused = httpx.patch(f"{url}/users/{user_id}", headers=headers, json={"givenName": "Changed"}, timeout=10)
    for answer, path in ((positions, f"/users/{user_id}/positions"), (refused, f"/users/{user_id}")):
        assert answer.status_code == 403
        body = answer.json()
        assert body["error"] == "Forbidden" and body["message"] == "Access Denied" and body["path"] == path
    details = httpx.get(f"{url}/users/{user_id}", headers=headers, timeout=10).json()
    assert details["givenName"]["value"] != "Changed"  # nothing was written


def test_the_configured_key_holds_every_permission(sandboxes):
    env = sandboxes.env
    headers = _token(sandboxes.huma_url, env["HUMA_CLIENT_ID"], env["HUMA_CLIENT_SECRET"])
    for path in ("/users", "/groups", "/job-titles"):
        assert httpx.get(sandboxes.huma_url + path, headers=headers, timeout=10).status_code == 200


@pytest.mark.parametrize("body", [{"permissions": ["users:delete-everything"]}, {"permissions": "users:read"},
                                  {"permissions": [], "role": "admin"}])
def test_a_key_with_unknown_permissions_is_refused(sandboxes, body):
    answer = httpx.post(sandboxes.huma_url + "/_sandbox/api-keys", json=body, timeout=10)
    assert answer.status_code == 400 and answer.json()["errorCode"].startswith("field:")


def test_the_permission_names_cover_every_api_area(sandboxes):
    areas = {template.split("/")[3] if "/positions" in template else template.split("/")[1]
             for _method, template in sandboxes.huma.api_operations if template != "/auth/oauth/token"}
    assert {p.split(":")[0] for p in PERMISSIONS} == areas
