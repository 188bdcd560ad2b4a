"""Verifiers live in People: one added there is asked when the switch reaches its confirmation window; one
removed is no longer asked once the cooling-off has passed; a new address waits the same; and the question
speaks the verifier's language, greets them by their People name and names the owner by their profile name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.store.tables import audit_entries, outbox
from baton.testing import FakeClock, RecordingSender
from tests_support import settings_for

PASSWORD = "correct horse battery"
POLICY = {"interval": "30d", "grace": "1d", "confirm": {"window": "3d", "quorum": 1,
                                                        "verifiers": [{"name": "marco", "email": "marco@example.org"}]},
          "stages": [{"name": "tell", "after": "0d", "audience": ["owner"], "action": "notify"}]}
# Words of the English question that no Italian one may contain.
ENGLISH = ("Hello", "reachable", "unreachable", "trusted contact", "checked in", "closes", "Answer here", "question")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2})?")


@dataclass
class World:
    runtime: Runtime
    client: TestClient
    owner: int
    clock: FakeClock
    sender: RecordingSender
    totp: pyotp.TOTP

    def run(self) -> None:
        self.runtime.worker(senders={Channel.EMAIL: self.sender, Channel.APPRISE: self.sender}).run_once()

    def asked(self) -> list[str]:
        """Who got a verifier's question, in order."""
        with self.runtime.engine.connect() as conn:
            return [r.recipient for r in conn.execute(select(outbox).where(outbox.c.purpose == "verify")
                                                      .order_by(outbox.c.id))]

    def to_confirmation(self) -> None:
        """Past the deadline and the grace (1 day): the verifiers are asked."""
        deadline = self.runtime.service.status(self.owner).deadline
        self.clock.advance(seconds=(deadline - self.clock.now()).total_seconds() + 60)
        self.run()
        self.clock.advance(days=1)
        self.run()
        self.clock.advance(minutes=1)
        self.run()
        assert self.runtime.service.status(self.owner).status == "confirming"

    def audited(self) -> list[str]:
        with self.runtime.engine.connect() as conn:
            return [r.kind for r in conn.execute(select(audit_entries.c.kind).where(
                audit_entries.c.owner_id == self.owner).order_by(audit_entries.c.seq))]


def _world(db_url: str, clock: FakeClock, cooling_off_hours: int) -> Iterator[World]:
    runtime = build(settings_for(db_url, cooling_off_hours=cooling_off_hours), clock=clock)
    made = runtime.service.create_owner("owner@example.org", PASSWORD, "Europe/Rome", totp=True, policy=POLICY)
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    assert made.totp_secret is not None
    yield World(runtime, client, made.owner.id, clock, RecordingSender(), pyotp.TOTP(made.totp_secret))
    runtime.engine.dispose()


@pytest.fixture
def world(db_url: str, clock: FakeClock) -> Iterator[World]:
    yield from _world(db_url, clock, 72)


def _add_giulia(world: World, **extra: Any) -> dict[str, Any]:
    made = world.client.post("/api/people", json={"name": "giulia", "display_name": "Giulia Rossi", "role": "verifier",
                                                  "email": "giulia@example.org", "language": "it",
                                                  "timezone": "Europe/Rome", **extra})
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_existing_policy_verifiers_are_people_and_the_policy_names_them(world: World) -> None:
    """The policy's verifier written with an address became a People entry the policy names by its id."""
    assert world.client.get("/api/policy").json()["confirm"]["verifiers"] == ["marco"]
    [marco] = world.client.get("/api/people").json()
    assert (marco["name"], marco["role"], marco["email"], marco["asked"]) == ("marco", "verifier",
                                                                             "marco@example.org", True)


def test_a_verifier_added_in_people_is_asked_when_the_switch_reaches_confirmation(world: World) -> None:
    made = _add_giulia(world)
    assert made["asked"] is True and made["enrol_url"] is None
    assert world.client.get("/api/policy").json()["confirm"]["verifiers"] == ["marco", "giulia"]
    assert world.client.get("/api/status").json()["pending_changes"] == []  # one more to ask hastens nothing
    world.to_confirmation()
    assert world.asked() == ["marco@example.org", "giulia@example.org"]
    assert "people.added" in world.audited()


def test_a_verifier_removed_from_people_is_asked_until_the_cooling_off_ends_then_no_more(world: World) -> None:
    _add_giulia(world)
    removed = world.client.delete("/api/people/giulia")
    assert removed.status_code == 200, removed.text
    leaves = removed.json()["leaves_at"]
    assert leaves == (world.clock.now() + timedelta(hours=72)).isoformat().replace("+00:00", "Z")
    [change] = world.client.get("/api/status").json()["pending_changes"]
    assert change["kind"] == "policy" and "verifier(s) removed or given another address: giulia" in change["reasons"]
    listed = {p["name"]: p for p in world.client.get("/api/people").json()}
    assert listed["giulia"]["leaves_at"] == leaves  # shown as leaving while the policy still asks her
    assert world.client.get("/api/policy").json()["confirm"]["verifiers"] == ["marco", "giulia"]
    world.clock.advance(hours=72, seconds=1)
    world.run()
    assert world.client.get("/api/policy").json()["confirm"]["verifiers"] == ["marco"]
    assert "giulia" not in {p["name"] for p in world.client.get("/api/people").json()}
    world.to_confirmation()
    assert world.asked() == ["marco@example.org"]
    assert {"people.removed", "change.held", "change.applied"} <= set(world.audited())


def test_two_removals_in_a_row_both_take_effect(world: World) -> None:
    """The second removal starts from the policy the first one waits with: it does not bring giulia back."""
    _add_giulia(world)
    assert world.client.post("/api/people", json={"name": "budi", "role": "verifier", "email": "budi@example.org",
                                                  "language": "id"}).status_code == 201
    world.client.delete("/api/people/giulia")
    world.client.delete("/api/people/budi")
    [change] = world.client.get("/api/status").json()["pending_changes"]
    assert change["kind"] == "policy"
    world.clock.advance(hours=72, seconds=1)
    world.run()
    assert world.client.get("/api/policy").json()["confirm"]["verifiers"] == ["marco"]
    world.to_confirmation()
    assert world.asked() == ["marco@example.org"]


def test_a_removal_cancelled_in_its_cooling_off_keeps_the_verifier_asked(world: World) -> None:
    _add_giulia(world)
    world.client.delete("/api/people/giulia")
    [change] = world.client.get("/api/status").json()["pending_changes"]
    assert world.client.delete(f"/api/changes/{change['id']}").status_code == 200
    world.clock.advance(hours=80)
    world.run()
    assert world.client.get("/api/policy").json()["confirm"]["verifiers"] == ["marco", "giulia"]
    assert "giulia" in {p["name"] for p in world.client.get("/api/people").json()}
    world.to_confirmation()
    assert world.asked() == ["marco@example.org", "giulia@example.org"]


def test_a_verifier_s_new_address_waits_its_cooling_off(world: World) -> None:
    """Whoever answers decides when the switch fires: a stolen session cannot redirect the question at once."""
    edited = world.client.patch("/api/people/marco", json={"email": "thief@example.org", "language": "pt"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["email"] == "marco@example.org" and edited.json()["language"] == "pt"  # the language at once
    assert edited.json()["email_from"]["email"] == "thief@example.org"
    [change] = world.client.get("/api/status").json()["pending_changes"]
    assert change["kind"] == "verifier" and change["what"] == "a new e-mail address for verifier marco"
    world.client.delete(f"/api/changes/{change['id']}")
    world.to_confirmation()
    assert world.asked() == ["marco@example.org"]


def test_a_verifier_s_new_address_is_used_after_the_cooling_off(world: World) -> None:
    world.client.patch("/api/people/marco", json={"email": "marco@new.example.org"})
    world.clock.advance(hours=72, seconds=1)
    world.run()
    assert world.client.get("/api/people").json()[0]["email"] == "marco@new.example.org"
    world.to_confirmation()
    assert world.asked() == ["marco@new.example.org"]


def test_a_policy_naming_an_unknown_verifier_adds_them_to_people_and_says_so(world: World) -> None:
    policy = {**POLICY, "confirm": {"window": "3d", "quorum": 1, "verifiers": ["marco", "Ana Lima <x>",
                                                                               "budi@example.org"]}}
    policy["confirm"]["verifiers"][1] = {"name": "Ana Lima", "email": "ana@example.org"}
    saved = world.client.put("/api/policy", json=policy)
    assert saved.status_code == 200, saved.text
    assert saved.json()["notes"] == [
        "verifier ana-lima was added to People (Ana Lima, ana@example.org, language en); edit them on the People "
        "page or with `baton people edit ana-lima`",
        "verifier budi was added to People (budi, budi@example.org, language en); edit them on the People page or "
        "with `baton people edit budi`"]
    assert world.client.get("/api/policy").json()["confirm"]["verifiers"] == ["marco", "ana-lima", "budi"]


def test_a_policy_cannot_give_a_verifier_another_address_than_people_has(world: World) -> None:
    policy = {**POLICY, "confirm": {**POLICY["confirm"], "verifiers": [{"name": "marco",
                                                                         "email": "thief@example.org"}]}}
    refused = world.client.put("/api/policy", json=policy)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "policy field `confirm.verifiers[0].email`: expected marco's address in People (marco@example.org), got "
        "'thief@example.org': change a verifier's address on the People page or with `baton people edit marco "
        "--email …`")


# -- the owner's People page -----------------------------------------------------------------------
def _signed_in(world: World) -> TestClient:
    browser = TestClient(create_app(world.runtime.service), base_url=world.runtime.settings.base_url)
    world.clock.advance(seconds=30)
    page = browser.get("/signin").text
    form = {"email": "owner@example.org", "password": PASSWORD, "totp": world.totp.at(world.clock.now()),
            "csrf": _csrf(page)}
    assert browser.post("/signin", data=form, follow_redirects=False).status_code == 303
    return browser


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def test_a_verifier_added_and_removed_on_the_people_page_is_asked_then_not(world: World) -> None:
    browser = _signed_in(world)
    added = browser.post("/people", data={"name": "giulia", "display_name": "Giulia Rossi", "role": "verifier",
                                          "email": "giulia@example.org", "language": "it",
                                          "timezone": "Europe/Rome", "csrf": _csrf(browser.get("/people").text)})
    assert added.status_code == 200, added.text
    assert "giulia was added. Your policy asks them from now on." in added.text
    edit = browser.get("/people/giulia/edit")
    assert edit.status_code == 200 and 'value="Giulia Rossi"' in edit.text
    saved = browser.post("/people/giulia/edit", data={"display_name": "Giulia R.", "email": "giulia@example.org",
                                                 "language": "it", "timezone": "", "csrf": _csrf(edit.text)})
    assert saved.status_code == 200 and "giulia was saved." in saved.text and "Giulia R." in saved.text
    removed = browser.post("/people/giulia/remove", data={"csrf": _csrf(edit.text)})
    assert removed.status_code == 200
    assert "giulia was removed. Your policy still asks them until" in removed.text
    assert "leaves the policy" in browser.get("/people").text
    world.clock.advance(hours=73)
    world.run()
    world.to_confirmation()
    assert world.asked() == ["marco@example.org"]


# -- the question, in the verifier's language --------------------------------------------------------
def test_an_italian_verifier_is_asked_in_italian_with_her_people_name_and_the_owner_s_name(world: World) -> None:
    world.client.put("/api/handover/profile", json={"business": "Rossi Hosting", "owner_name": "Paolo Bianchi"})
    _add_giulia(world)
    world.to_confirmation()
    world.run()
    [mail] = [m for m in world.sender.sent if m.purpose == "verify" and m.recipient == "giulia@example.org"]
    assert mail.subject == "Paolo Bianchi è raggiungibile? Una domanda da Baton"
    assert mail.body_text.startswith("Gentile Giulia Rossi,\n")
    assert "Paolo Bianchi L'ha indicata come persona di fiducia" in mail.body_text
    body = re.sub(r"http://\S+", "", mail.body_text)
    for word in ENGLISH:
        assert word not in body, word
    assert not ISO.search(body), body
    assert re.search(r"Non dà segni di vita dal \d{1,2} \w+ 2026, \d{2}:\d{2} CET\.", mail.body_text)
    assert re.search(r"La domanda si chiude il \d{1,2} \w+ 2026, \d{2}:\d{2} CET\.", mail.body_text)
    path = re.findall(r"http://baton\.test(/v/\S+)", mail.body_text)[0]
    page = world.client.get(path)
    assert page.status_code == 200 and '<html lang="it">' in page.text
    assert "Buongiorno Giulia Rossi" in page.text and "<strong>Paolo Bianchi</strong>" in page.text
    main = re.sub(r"<[^>]+>", " ", page.text.split("<main>")[1])  # what the page says, not its form values
    for word in ENGLISH:
        assert word not in main, word
    assert not ISO.search(main), main
    done = world.client.post(path, data={"answer": "reachable"})
    assert done.status_code == 200 and "Grazie" in done.text and "raggiungibile" in done.text
    spent = world.client.get(path)
    assert spent.status_code == 410 and '<html lang="it">' in spent.text


def test_the_owner_without_a_profile_is_named_by_their_address(world: World) -> None:
    world.to_confirmation()
    world.run()
    [mail] = [m for m in world.sender.sent if m.purpose == "verify"]
    assert mail.subject == "Is owner@example.org reachable? A question from Baton"
    assert mail.body_text.startswith("Hello marco,\n")
