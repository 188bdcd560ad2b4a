"""The collector on SQLite and PostgreSQL: who may be named, what a forwarded share must be (sealed text only),
once per package, and the collector's page and compartment file behind their own link."""

from __future__ import annotations

import base64
import html
import re

import pytest
from sqlalchemy import func, select
from test_vault_release import World

from baton.store import links as stored_links
from baton.store.tables import audit_entries, forwarded_shares, outbox
from baton.testing import FakeClock
from vault import agecrypt, keys, release

pytestmark = pytest.mark.usefixtures("world")


def _mails(world: World, purpose: str) -> list[tuple[str, str]]:
    with world.runtime.engine.connect() as conn:
        return [(r.recipient, stored_links.expand(world.runtime.service.key, r.body_text)) for r in conn.execute(
            select(outbox.c.recipient, outbox.c.body_text).where(outbox.c.purpose == purpose))]


def _path(world: World, body: str, letter: str) -> str:
    return re.findall(rf"http://\S+/{letter}/\S+", body)[0].replace(world.runtime.settings.base_url, "")


def _release(world: World, clock: FakeClock) -> dict[str, str]:
    worker = world.runtime.worker(senders={})
    clock.advance(days=33)
    worker.run_switches()
    return {recipient.split("@")[0]: _path(world, body, "d") for recipient, body in _mails(world, "release")}


def _collector(world: World, name: str | None) -> tuple[int, dict[str, object]]:
    answer = world.client.put("/api/vault/compartments/operations/collector", json={"collector": name})
    return answer.status_code, answer.json()


def test_only_a_person_with_an_age_key_can_collect(world: World) -> None:
    """An SSH key, a verifier, someone without a key, a stranger: refused, saying why; nobody: allowed."""
    world.client.post("/api/people", json={"name": "vera", "role": "verifier", "email": "vera@example.org"})
    world.client.post("/api/people", json={"name": "dora", "role": "heir", "email": "dora@example.org"})
    assert _collector(world, "bruno") == (422, {"detail": "bruno's key is an SSH key: a collector needs an age key "
                                                          "(age1…), because the holders' browsers seal the shares "
                                                          "to it"})
    assert _collector(world, "vera") == (422, {"detail": "vera is a verifier: a collector needs a key to receive "
                                                         "the shares with"})
    assert _collector(world, "dora") == (409, {"detail": "dora has no key yet: send the enrolment link (or make a "
                                                         "key card) first"})
    assert _collector(world, "nobody")[0] == 404
    assert _collector(world, "carla") == (200, {"compartment": "operations", "collector": "carla"})
    assert world.client.get("/api/vault/compartments").json()[0]["collector"] == "carla"
    assert _collector(world, None) == (200, {"compartment": "operations", "collector": None})
    with world.runtime.engine.connect() as conn:
        kinds = [r.data for r in conn.execute(select(audit_entries.c.data).where(
            audit_entries.c.kind == "vault.collector").order_by(audit_entries.c.seq))]
    assert kinds == [{"compartment": "operations", "collector": "carla"},
                     {"compartment": "operations", "collector": None}]


def test_a_holder_forwards_sealed_text_once_and_the_collector_gets_it(world: World, clock: FakeClock) -> None:
    """A share in the clear is refused and nothing stored; the sealed one is kept once; carla's page lists it."""
    assert _collector(world, "carla")[0] == 200
    downloads = _release(world, clock)
    [(recipient, collect_mail)] = _mails(world, "collect")
    assert recipient == "carla@example.org"
    page = world.client.get(downloads["ana"])
    assert "Send your share to Carla" in page.text
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    [share_b64] = re.findall(r'data-share="([^"]+)"', page.text)
    [carla_key] = re.findall(r'data-recipient="([^"]+)"', page.text)
    opened = agecrypt.decrypt(base64.b64decode(share_b64), keys.parse_identities(world.identities["ana"].read_bytes()),
                              "ana's share")
    [mnemonic] = release.read_share_file(opened)

    refused = world.client.post(f"{downloads['ana']}/forward", data={"sealed": mnemonic})
    assert refused.status_code == 422
    assert ("the sealed share: expected an age file sealed in your browser (-----BEGIN AGE ENCRYPTED FILE-----…), "
            "got something else; nothing was sent") in html.unescape(refused.text)
    with world.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(forwarded_shares)).scalar() == 0

    sealed = agecrypt.encrypt(opened, [keys.parse_recipient(carla_key)], armored=True).decode()
    done = world.client.post(f"{downloads['ana']}/forward", data={"sealed": sealed})
    assert done.status_code == 200 and "Your share is on its way" in done.text
    again = world.client.post(f"{downloads['ana']}/forward", data={"sealed": sealed})
    assert again.status_code == 409 and "Your share was sent to Carla, sealed to their key" in again.text
    with world.runtime.engine.connect() as conn:
        [stored] = conn.execute(select(forwarded_shares.c.sealed)).scalars().all()
    assert bytes(stored).startswith(b"age-encryption.org/v1\n-> X25519 ") and mnemonic.encode() not in bytes(stored)
    assert agecrypt.decrypt(bytes(stored), keys.parse_identities(world.identities["carla"].read_bytes()),
                            "forwarded") == opened

    collect = _path(world, collect_mail, "c")
    shown = world.client.get(collect)
    assert shown.status_code == 200 and "Collect the shares of operations" in shown.text
    assert "<td data-label=\"From\">Ana</td>" in shown.text and "connect-src 'self'" in \
        shown.headers["content-security-policy"]
    assert re.findall(r'data-forwarded="([^"]+)"', shown.text) == [base64.b64encode(bytes(stored)).decode()]
    ciphertext = world.client.get(f"{collect}/compartment.age")
    assert ciphertext.status_code == 200 and ciphertext.content.startswith(b"age-encryption.org/v1\n")
    assert world.client.post(collect).status_code == 405  # the page only shows


def test_a_compartment_without_a_collector_offers_no_forwarding(world: World, clock: FakeClock) -> None:
    """No collector: the download page has no script and no form, and a forward is refused."""
    downloads = _release(world, clock)
    page = world.client.get(downloads["ana"])
    assert "Send your share" not in page.text and "script-src" not in page.headers["content-security-policy"]
    refused = world.client.post(f"{downloads['ana']}/forward", data={"sealed": "x"})
    assert refused.status_code == 422 and _mails(world, "collect") == []
