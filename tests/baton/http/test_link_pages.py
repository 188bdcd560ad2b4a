"""One-time link pages: a GET shows, a POST acts; used and expired links explain themselves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.store import links
from baton.store.links import Purpose
from baton.testing import FakeClock
from tests_support import settings_for


@pytest.fixture
def setup(sqlite_url: str, clock: FakeClock) -> tuple[Runtime, TestClient, int]:
    runtime = build(settings_for(sqlite_url), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    return runtime, TestClient(create_app(runtime.service)), made.owner.id


def _link(runtime: Runtime, owner: int, days: int = 14) -> str:
    now = runtime.service.clock.now()
    with runtime.engine.begin() as conn:
        return links.token(runtime.service.key, links.create(
                conn, owner, Purpose.CHECKIN, now, expires_at=now + timedelta(days=days)))


def test_opening_a_check_in_link_does_not_check_in(setup: tuple[Runtime, TestClient, int],
                                                   clock: FakeClock) -> None:
    """A GET (a mail scanner, a chat preview) shows the page with a button and changes nothing."""
    runtime, client, owner = setup
    token = _link(runtime, owner)
    before = runtime.service.status(owner).last_checkin
    clock.advance(days=2)
    for _ in range(3):
        page = client.get(f"/l/{token}")
        assert page.status_code == 200 and "I am here — check in" in page.text
    assert runtime.service.status(owner).last_checkin == before
    assert runtime.service.timeline(owner) == []


def test_pressing_the_button_checks_in_once(setup: tuple[Runtime, TestClient, int], clock: FakeClock) -> None:
    """The POST checks in; the same link then says it was used."""
    runtime, client, owner = setup
    token = _link(runtime, owner)
    clock.advance(days=2)
    done = client.post(f"/l/{token}")
    assert done.status_code == 200 and "you are checked in" in done.text
    assert runtime.service.status(owner).last_checkin == clock.now()
    again = client.post(f"/l/{token}")
    assert again.status_code == 410 and "This link was already used" in again.text
    assert "<code>baton checkin</code>" in again.text  # the owner's other ways to check in
    assert [e["event"] for e in runtime.service.timeline(owner)] == ["checkin"]


def test_an_expired_link_says_so(setup: tuple[Runtime, TestClient, int], clock: FakeClock) -> None:
    """After its expiry a link shows a page that says it expired, and checks nobody in."""
    runtime, client, owner = setup
    token = _link(runtime, owner, days=1)
    clock.advance(days=2)
    for response in (client.get(f"/l/{token}"), client.post(f"/l/{token}")):
        assert response.status_code == 410
        assert "This link has expired" in response.text and "Traceback" not in response.text
    assert runtime.service.timeline(owner) == []


def test_an_unknown_link_is_a_plain_not_found_page(setup: tuple[Runtime, TestClient, int]) -> None:
    """A made-up token: 404 with an explanation."""
    _, client, _ = setup
    response = client.get("/l/not-a-real-token")
    assert response.status_code == 404 and "This link is not known" in response.text
