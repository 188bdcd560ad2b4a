"""The API's answers to bad input: wrong tokens, malformed JSON, invalid policies, rate limits."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.testing import FakeClock
from tests_support import settings_for


@pytest.fixture
def api(sqlite_url: str, clock: FakeClock) -> tuple[Runtime, TestClient, str]:
    runtime = build(settings_for(sqlite_url, token_failures_per_minute=3), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    return runtime, TestClient(create_app(runtime.service)), made.api_token


def test_a_request_without_a_token_is_refused_with_401(api: tuple[Runtime, TestClient, str]) -> None:
    """No Authorization header: 401 that says what was expected."""
    _, client, _ = api
    response = client.post("/api/checkin")
    assert response.status_code == 401
    assert response.json() == {"detail": "expected an Authorization: Bearer <token> header, got none"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_tokens_are_refused_and_then_rate_limited(api: tuple[Runtime, TestClient, str]) -> None:
    """Three wrong tokens in a minute, then 429 even for the right one from that address."""
    _, client, token = api
    for _ in range(3):
        response = client.get("/api/status", headers={"Authorization": "Bearer bt_wrong"})
        assert response.status_code == 401 and response.json() == {"detail": "the token is not valid"}
    blocked = client.get("/api/status", headers={"Authorization": f"Bearer {token}"})
    assert blocked.status_code == 429
    assert blocked.json() == {"detail": "too many failed attempts from this address; wait a minute and try again"}


def test_the_lock_out_never_stops_a_check_in_link(api: tuple[Runtime, TestClient, str]) -> None:
    """An address locked out of the token API can still check in through a reminder's link."""
    runtime, client, _ = api
    from baton.store import links
    from baton.store.links import Purpose

    with runtime.engine.begin() as conn:
        token = links.token(runtime.service.key, links.create(
                conn, 1, Purpose.CHECKIN, runtime.service.clock.now(), expires_at=None))
    for _ in range(4):
        client.get("/api/status", headers={"Authorization": "Bearer bt_wrong"})
    assert client.post(f"/l/{token}").status_code == 200


def test_malformed_json_gets_one_readable_line(api: tuple[Runtime, TestClient, str]) -> None:
    """A body that is not JSON: 422 with one line naming the problem."""
    _, client, token = api
    response = client.put("/api/policy", content=b'{"interval": ', headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("body: expected valid JSON") and "\n" not in detail


@pytest.mark.parametrize(("policy", "detail"), [
    ({"interval": "0d"}, "policy field `interval`: expected a duration longer than zero, got '0d'"),
    ({"interval": "-3d"}, "policy field `interval`: expected a duration of zero or more, got '-3d'"),
    ({"interval": "30d", "reminders": ["31d"]},
     "policy field `reminders[0]`: expected less than the interval (30d), got '31d'"),
    ({"interval": "30d", "timezone": "Mars/Olympus"},
     "policy field `timezone`: expected an IANA time zone like Europe/Rome, got 'Mars/Olympus'"),
    ({"interval": "30d", "confirm": {"window": "3d", "verifiers": ["ana"], "quorum": 2}},
     "policy field `confirm.quorum`: expected at most 1 (the number of verifiers), got 2"),
    ({"interval": "30d", "stages": [{"name": "x", "after": "0d", "action": "launch"}]},
     "policy field `stages[0].action`: expected one of notify, notify_customers, release, got 'launch'"),
    ({"interval": "30d", "stages": [{"name": "x", "after": "0d", "audience": ["bob"]}]},
     "policy field `stages[0].audience[0]`: expected owner, a verifier's name or an e-mail address, got 'bob'"),
], ids=["zero-interval", "negative", "reminder-too-long", "unknown-zone", "quorum", "action", "audience"])
def test_an_invalid_policy_names_its_field_and_changes_nothing(api: tuple[Runtime, TestClient, str],
                                                              policy: dict[str, object], detail: str) -> None:
    """Each invalid policy is refused with a message naming the field; the old policy stays."""
    runtime, client, token = api
    headers = {"Authorization": f"Bearer {token}"}
    before = client.get("/api/policy", headers=headers).json()
    response = client.put("/api/policy", json=policy, headers=headers)
    assert response.status_code == 422
    assert response.json() == {"detail": detail}
    assert client.get("/api/policy", headers=headers).json() == before


def test_a_pause_longer_than_the_maximum_is_refused(api: tuple[Runtime, TestClient, str]) -> None:
    """A pause beyond max_pause: 409 naming the limit; the switch stays armed."""
    runtime, client, token = api
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/pause", json={"until": "2026-12-01T00:00:00Z"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["detail"].startswith("expected a pause of at most 90d, got ")
    assert client.get("/api/status", headers=headers).json()["status"] == "armed"


def test_the_openapi_document_lists_the_owner_api(api: tuple[Runtime, TestClient, str]) -> None:
    """The OpenAPI document describes every owner route."""
    _, client, _ = api
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/checkin", "/api/status", "/api/policy", "/api/pause", "/api/timeline",
            "/api/audit/verify", "/api/channels", "/api/requesters"} <= set(paths)


def test_a_pause_end_may_carry_any_offset(api: tuple[Runtime, TestClient, str]) -> None:
    """``+02:00`` is accepted and stored as the same moment in UTC."""
    _, client, token = api
    response = client.post("/api/pause", json={"until": "2026-01-20T09:00:00+02:00"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["paused_until"] == "2026-01-20T07:00:00Z"
