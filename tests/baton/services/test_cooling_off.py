"""A stolen token or session may check in and may make the release later, never earlier: a change that
could hasten a release waits a cooling-off, is announced on every channel, can be cancelled, and takes
effect when the cooling-off ends (never after the switch's deadline)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.services.access import OwnerAccess
from baton.store.tables import channels, outbox, switches
from baton.testing import FakeClock, RecordingSender
from tests_support import settings_for

SLOW = {"interval": "30d", "reminders": ["1d"], "grace": "7d",
        "stages": [{"name": "tell", "after": "0d", "audience": ["owner"], "action": "notify"}]}
FAST = {"interval": "1s", "grace": "0s", "stages": SLOW["stages"]}


@dataclass
class World:
    runtime: Runtime
    client: TestClient
    owner: int
    clock: FakeClock
    sender: RecordingSender
    totp: pyotp.TOTP

    def run(self) -> None:
        worker = self.runtime.worker(senders={Channel.EMAIL: self.sender, Channel.APPRISE: self.sender})
        worker.run_once()

    def events(self) -> list[str]:
        return [e["event"] for e in self.runtime.service.timeline(self.owner, 1000)]

    def stored(self, purpose: str) -> list[Any]:
        with self.runtime.engine.connect() as conn:
            return conn.execute(select(outbox).where(outbox.c.purpose == purpose).order_by(outbox.c.id)).all()


@pytest.fixture
def world(db_url: str, clock: FakeClock) -> Iterator[World]:
    runtime = build(settings_for(db_url, cooling_off_hours=72), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", totp=True,
                                        policy=SLOW)
    with runtime.engine.begin() as conn:  # a chat channel, inserted as stored (its checks are not tested here)
        conn.execute(insert(channels).values(owner_id=made.owner.id, url="ntfy://owner-alerts", label="phone",
                                             created_at=clock.now()))
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    assert made.totp_secret is not None
    yield World(runtime, client, made.owner.id, clock, RecordingSender(), pyotp.TOTP(made.totp_secret))
    runtime.engine.dispose()


def test_a_hastening_policy_from_a_token_waits_its_cooling_off_then_takes_effect(world: World) -> None:
    """``interval: 1s, grace: 0s`` with only the bearer token: held 72 h, announced, no fire meanwhile;
    when the cooling-off ends it takes effect, and the switch fires on the new policy's timeline."""
    held = world.client.put("/api/policy", json=FAST)
    assert held.status_code == 200, held.text
    [change] = held.json()["pending_changes"]
    assert change["kind"] == "policy" and any("check-ins every 1s instead of 30d" in r for r in change["reasons"])
    assert change["takes_effect_at"] == (world.clock.now() + timedelta(hours=72)).isoformat().replace("+00:00", "Z")
    assert world.client.get("/api/policy").json()["interval"] == "30d"  # the policy in force is unchanged
    for _ in range(71):
        world.clock.advance(hours=1)
        world.run()
    assert "fired" not in world.events() and world.runtime.service.status(world.owner).status == "armed"
    world.clock.advance(hours=1, seconds=2)
    world.run()
    assert world.client.get("/api/policy").json()["interval"] == "1s"
    assert world.events()[-4:] == ["checkin", "deadline", "fired", "stage"]
    fired = world.runtime.service.timeline(world.owner)[-2]
    start = world.clock.now() - timedelta(seconds=2)
    assert fired["at"] == (start + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert world.client.get("/api/changes").json() == []


def test_the_announcement_reaches_every_channel_and_only_the_email_carries_the_cancel_link(world: World) -> None:
    world.client.put("/api/policy", json=FAST)
    [mail] = [m for m in world.stored("change_held") if m.channel == "email"]
    [chat] = [m for m in world.stored("change_held") if m.channel == "apprise"]
    assert mail.recipient == "owner@example.org" and "/x/" in mail.body_text
    assert "/x/" not in chat.body_text and "cancel it from the link in your e-mail" in chat.body_text
    world.run()
    sent = {m.channel: m for m in world.sender.sent if m.purpose == "change_held"}
    assert re.search(r"http://baton\.test/x/[A-Za-z0-9_\-]{35}\b", sent[Channel.EMAIL].body_text)
    assert "/x/" not in sent[Channel.APPRISE].body_text


def test_the_cancel_link_shows_then_cancels_and_the_policy_never_changes(world: World) -> None:
    world.client.put("/api/policy", json=FAST)
    world.run()
    [mail] = [m for m in world.sender.sent if m.purpose == "change_held" and m.channel is Channel.EMAIL]
    path = re.findall(r"http://baton\.test(/x/\S+)", mail.body_text)[0]
    page = world.client.get(path)
    assert page.status_code == 200 and "a new switch policy" in page.text and "Cancel this change" in page.text
    assert world.client.get("/api/changes").json() != []  # opening the page changed nothing
    done = world.client.post(path)
    assert done.status_code == 200 and "The change is cancelled" in done.text
    assert world.client.post(path).status_code == 410
    world.clock.advance(hours=80)
    world.run()
    assert world.client.get("/api/policy").json()["interval"] == "30d"
    assert "fired" not in world.events()


def test_the_owner_cancels_from_the_api_and_a_newer_policy_replaces_a_held_one(world: World) -> None:
    first = world.client.put("/api/policy", json=FAST).json()["pending_changes"][0]
    second = world.client.put("/api/policy", json={**FAST, "interval": "2s"}).json()["pending_changes"]
    assert [c["id"] for c in second] != [first["id"]] and len(second) == 1
    assert world.client.delete(f"/api/changes/{first['id']}").status_code == 404  # replaced already
    cancelled = world.client.delete(f"/api/changes/{second[0]['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["id"] == second[0]["id"]
    assert world.client.get("/api/status").json()["pending_changes"] == []


def test_a_change_that_only_delays_applies_at_once(world: World) -> None:
    later = world.client.put("/api/policy", json={**SLOW, "interval": "40d", "grace": "8d"})
    assert later.status_code == 200 and later.json()["pending_changes"] == []
    assert world.client.get("/api/policy").json()["interval"] == "40d"
    assert world.stored("change_held") == []


def test_the_cooling_off_never_outlasts_the_deadline(world: World) -> None:
    """With a one-day interval the change takes effect at the (re-armed) deadline, not 72 h later: the
    cooling-off must not delay a release either."""
    daily = {**SLOW, "interval": "1d", "reminders": []}
    made = world.runtime.service.create_owner("daily@example.org", "correct horse battery", "UTC", policy=daily)
    world.clock.advance(hours=1)
    held = world.runtime.service.set_policy(made.owner.id, {**daily, "grace": "1h"}).to_dict()
    [change] = held["pending_changes"]
    assert change["takes_effect_at"] == held["deadline"] == (world.clock.now() + timedelta(days=1)).isoformat(
    ).replace("+00:00", "Z")
    world.clock.advance(days=1)
    world.run()
    assert world.runtime.service.get_policy(made.owner.id)["grace"] == "1h"


def test_a_new_requester_link_works_only_after_its_cooling_off(world: World) -> None:
    made = world.client.post("/api/requesters", json={"name": "Dewi", "email": "dewi@example.org"})
    assert made.status_code == 201, made.text
    path = made.json()["url"].removeprefix(world.runtime.settings.base_url)
    early = world.client.post(path)
    assert early.status_code == 410 and "works from" in early.text
    assert [r["name"] for r in world.client.get("/api/requesters").json()] == ["Dewi"]
    world.clock.advance(hours=72)
    world.run()
    asked = world.client.post(path)
    assert asked.status_code == 200, asked.text
    assert world.runtime.service.status(world.owner).release_request is not None


def test_a_revoked_requester_link_never_works(world: World) -> None:
    made = world.client.post("/api/requesters", json={"name": "Dewi", "email": "dewi@example.org"}).json()
    assert world.client.delete(f"/api/requesters/{made['id']}").status_code == 200
    assert world.client.get("/api/changes").json() == [] and world.client.get("/api/requesters").json() == []
    world.clock.advance(hours=80)
    world.run()
    assert world.client.post(made["url"].removeprefix(world.runtime.settings.base_url)).status_code == 410


def test_tokens_are_listed_named_and_revoked(world: World) -> None:
    made = world.client.post("/api/tokens", json={"name": "phone shortcut"})
    assert made.status_code == 201
    token = made.json()["token"]
    listed = world.client.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["init", "phone shortcut"] and all("token" not in t for t in listed)
    phone = TestClient(world.client.app, base_url=world.runtime.settings.base_url)
    phone.headers["Authorization"] = f"Bearer {token}"
    assert phone.post("/api/checkin").status_code == 200
    world.clock.advance(minutes=10)
    assert phone.get("/api/status").status_code == 200
    used = {t["name"]: t["last_used_at"] for t in world.client.get("/api/tokens").json()}
    assert used["phone shortcut"] is not None
    assert world.client.delete(f"/api/tokens/{made.json()['id']}").status_code == 200
    assert phone.get("/api/status").status_code == 401
    with world.runtime.engine.connect() as conn:
        assert token not in str(conn.execute(select(switches)).all())


def test_the_web_asks_a_fresh_code_for_a_hastening_change(world: World) -> None:
    """On the policy page a change that could hasten the release needs the authenticator's current code;
    without it nothing is saved, with it the change is held like the API's."""
    web = OwnerAccess(world.runtime.service)
    browser = TestClient(world.client.app, base_url=world.runtime.settings.base_url)
    page = browser.get("/signin")
    csrf = re.findall(r'name="csrf" value="([^"]+)"', page.text)[0]
    signed = browser.post("/signin", data={"email": "owner@example.org", "password": "correct horse battery",
                                           "totp": world.totp.at(world.clock.now()), "csrf": csrf,
                                           "next": "/"}, follow_redirects=False)
    assert signed.status_code == 303
    form = browser.get("/policy")
    csrf = re.findall(r'name="csrf" value="([^"]+)"', form.text)[0]
    values = {"mode": "interval", "interval": "7d", "timezone": "Europe/Rome", "reminders": "1d", "grace": "7d",
              "stages": "tell, 0d, notify, owner", "max_pause": "90d", "request_wait": "7d", "csrf": csrf,
              "action": "save"}
    refused = browser.post("/policy", data=values)
    assert refused.status_code == 422 and "enter the current 6-digit code" in refused.text
    assert web.held_changes(world.owner) == [] and world.client.get("/api/policy").json()["interval"] == "30d"
    world.clock.advance(seconds=30)
    saved = browser.post("/policy", data={**values, "code": world.totp.at(world.clock.now())})
    assert saved.status_code == 200 and "it waits until" in saved.text, saved.text
    [change] = web.held_changes(world.owner)
    assert change["kind"] == "policy"
    cancel = re.findall(r'action="(/changes/\d+/cancel)"', saved.text)[0]
    csrf = re.findall(r'name="csrf" value="([^"]+)"', saved.text)[0]
    done = browser.post(cancel, data={"csrf": csrf})
    assert done.status_code == 200 and "Cancelled: a new switch policy" in done.text
    assert web.held_changes(world.owner) == []


def test_removing_a_channel_waits_and_the_channel_keeps_its_alerts_meanwhile(world: World) -> None:
    """Fewer channels could let a release come unnoticed: the removal is held, then done."""
    [channel] = world.client.get("/api/channels").json()
    held = world.client.delete(f"/api/channels/{channel['id']}")
    assert held.status_code == 200 and held.json()["takes_effect_at"] is not None
    assert [c["id"] for c in world.client.get("/api/channels").json()] == [channel["id"]]
    [change] = world.client.get("/api/changes").json()
    assert change["kind"] == "channel" and "phone" in change["what"]
    world.clock.advance(hours=72)
    world.run()
    assert world.client.get("/api/channels").json() == [] and world.client.get("/api/changes").json() == []
