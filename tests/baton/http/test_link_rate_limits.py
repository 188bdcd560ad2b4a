"""Link pages are limited per address (unknown tokens) and per link (presses); a lock-out of one
channel never stops the owner checking in through another."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.services.accounts import NewOwner
from baton.store import links
from baton.store.links import Purpose
from baton.testing import FakeClock
from tests_support import settings_for


@pytest.fixture
def setup(sqlite_url: str, clock: FakeClock) -> tuple[Runtime, NewOwner, object]:
    runtime = build(settings_for(sqlite_url, token_failures_per_minute=3, link_posts_per_minute=5), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    return runtime, made, create_app(runtime.service)


def _link(runtime: Runtime, owner: int) -> str:
    now = runtime.service.clock.now()
    with runtime.engine.begin() as conn:
        return links.token(runtime.service.key, links.create(
                conn, owner, Purpose.CHECKIN, now, expires_at=now + timedelta(days=14)))


def test_one_link_pressed_too_often_is_held_back_and_other_links_are_not(
        setup: tuple[Runtime, NewOwner, object]) -> None:
    runtime, made, app = setup
    client = TestClient(app, client=("198.51.100.4", 4000))
    token = _link(runtime, made.owner.id)
    statuses = [client.post(f"/l/{token}").status_code for _ in range(6)]
    assert statuses == [200, 410, 410, 410, 410, 429]
    held = client.post(f"/l/{token}")
    assert held.status_code == 429 and "Too many attempts in a short time" in held.text
    assert held.headers["content-type"].startswith("text/html")
    assert client.post(f"/l/{_link(runtime, made.owner.id)}").status_code == 200  # another link: its own count


def test_guessing_link_tokens_locks_that_address_out_of_links_only(setup: tuple[Runtime, NewOwner, object]) -> None:
    runtime, made, app = setup
    guesser = TestClient(app, client=("198.51.100.5", 4000))
    for number in range(9):  # three times the token limit
        assert guesser.get(f"/l/guess-{number}").status_code == 404
    token = _link(runtime, made.owner.id)
    assert guesser.post(f"/l/{token}").status_code == 429
    # The owner behind the same address still checks in with the API token, and from elsewhere by the link.
    api = guesser.post("/api/checkin", headers={"Authorization": f"Bearer {made.api_token}"})
    assert api.status_code == 200
    assert TestClient(app, client=("203.0.113.5", 4000)).post(f"/l/{token}").status_code == 200
