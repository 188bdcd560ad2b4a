"""Everything a holder reads is in their language and time zone, names the owner as the owner's profile
does, and carries the signing key's fingerprint where it is an e-mail.

One owner (profile name "Wayan Sudarma", time zone Asia/Makassar) with five holders, one per language
(en, id, pt-BR, pt-PT, it), goes through the real service: enrolment, a key check, a release fired by
the clock, the packages built, the download pages opened and spent. Every text that reaches a holder
is then read as the holder would read it: the e-mails (text and HTML), the enrolment, key-check,
download and spent-link pages, the key card, the sealed key-check text and RECOVER.md/.html. None may
keep an English sentence-word from a fixed list, nor an ISO timestamp.
"""

from __future__ import annotations

import html
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from baton.cli.ownervault import OwnerVault, make_keycard
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.services.releases import vault_parts
from baton.store import links
from baton.store.tables import key_checks, outbox, packages, people
from baton.testing import FakeClock
from tests_support import settings_for
from vault import agecrypt, keys, policy_from_dict, signature
from vault.entries import entry_from_dict

OWNER_NAME = "Wayan Sudarma"
HOLDERS = {"ana": "en", "budi": "id", "joana": "pt-BR", "rui": "pt-PT", "marco": "it"}
NAMES = {"ana": "Ana Lima", "budi": "Budi Santoso", "joana": "Joana Costa", "rui": "Rui Almeida",
         "marco": "Marco Rossi"}
POLICY = {"interval": "30d", "grace": "1d", "timezone": "Asia/Makassar",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
PROFILE = {"business": "Sudarma Hosting", "owner_name": OWNER_NAME, "event": "passed_away",
           "successor": {"name": "Made Sudarma", "email": "made@example.org", "role": "executor"}}
PASSPHRASE = "owner passphrase long enough"
# Words of the English texts that are no word of Indonesian, Portuguese or Italian ("download" and "link"
# are: Italian and Brazilian Portuguese say "link di download", "link para download").
ENGLISH = ("because", "verifiers", "holders", "until", "answered", "unreachable", "quorum",
           "works once", "Hello", "Sent by", "chose you", "released", "grace period", "the owner", "your key",
           "Keep this", "Secret key", "Public key", "signing key", "Each link", "The other", "mistyped",
           "Enter it", "It proves", "business-continuity", "If a holder", "share of another")
# English a translation keeps on purpose: file names, and what the command-line tools print, quoted.
KEPT = ("holders.json", "Enter a recovery share:", "shares needed", "ERROR: Share already entered.",
        "Signature Verified Successfully", "Your master secret is", "SUCCESS!", "signing-keys.json",
        "signing-key.pem")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass
class Read:
    """What each holder read: (what, text) pairs, and the e-mails among them."""

    texts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    mails: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    holders_json: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    def add(self, holder: str, what: str, text: str, mail: bool = False) -> None:
        self.texts.setdefault(holder, []).append((what, text))
        if mail:
            self.mails.setdefault(holder, []).append((what, text))


def _plain(rendered: str) -> str:
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", rendered, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def _path(url: str) -> str:
    return urlsplit(url).path


@pytest.fixture
def read(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Read]:
    runtime: Runtime = build(settings_for(db_url, data_dir=tmp_path / "server"), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Asia/Makassar",
                                        policy=POLICY)
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    out = Read(fingerprint=signature.signer_fingerprint(runtime.service.signer))
    try:
        client.put("/api/handover/profile", json=PROFILE).raise_for_status()
        owner = OwnerVault(client, tmp_path / "owner" / "vault-key.age", lambda: PASSPHRASE)
        owner.init(PASSPHRASE)
        owner.ensure_compartment("estate")
        version, opened = owner.open("estate")
        opened.put(entry_from_dict({"id": "note", "kind": "note", "title": "Runbook",
                                    "fields": {"text": "restart nginx"}, "updated_at": "2026-11-22"}))
        owner.save("estate", version, opened)
        identities = {}
        for name, language in HOLDERS.items():
            added = client.post("/api/people", json={
                "name": name, "display_name": NAMES[name], "email": f"{name}@example.org", "language": language,
                "role": "heir", "share_contact": name == "ana"})
            added.raise_for_status()
            page = client.get(_path(added.json()["enrol_url"]))
            assert page.status_code == 200, page.text
            out.add(name, "enrolment page", _plain(page.text))
            identities[name] = keys.generate_identity()
            client.put(f"/api/people/{name}/key", json={"recipient": keys.public_of(identities[name]).text,
                                                        "source": "owner"}).raise_for_status()
            _public, card, _pdf = make_keycard(NAMES[name], OWNER_NAME, out.fingerprint, language)
            out.add(name, "key card", _plain(card))
        client.post("/api/people/checks", json={}).raise_for_status()
        owner.split("estate", policy_from_dict({"threshold": 3, "holders": list(HOLDERS)}))
        with runtime.engine.connect() as conn:
            for name in HOLDERS:
                sealed = conn.execute(select(key_checks.c.sealed).join(people, people.c.id == key_checks.c.person_id)
                                      .where(people.c.name == name).order_by(key_checks.c.id.desc())).scalars().first()
                assert sealed is not None
                out.add(name, "sealed key-check text",
                        agecrypt.decrypt(bytes(sealed), [identities[name]], "key check").decode())
        _read_mails(runtime, client, out, ("enrol", "keycheck"))  # key-check links expire: read them now
        clock.advance(days=32)
        runtime.worker(senders={}).run_switches()
        _read_mails(runtime, client, out, ("release",))
        _vault, builder = vault_parts(runtime.service)
        with runtime.engine.connect() as conn:
            built = conn.execute(select(packages.c.id, people.c.name).join(people, people.c.id == packages.c.person_id)
                                 ).all()
        for package_id, name in built:
            with zipfile.ZipFile(builder.build(package_id, clock.now())) as zipped:
                for member in zipped.namelist():
                    base = member.rsplit("/", 1)[-1]
                    if base in ("RECOVER.md", "RECOVER.html"):
                        text = zipped.read(member).decode()
                        out.add(name, base, _plain(text) if base.endswith(".html") else text)
                    if base == "holders.json":
                        out.holders_json[name] = json.loads(zipped.read(member))
        yield out
    finally:
        client.close()
        runtime.engine.dispose()


def _read_mails(runtime: Runtime, client: TestClient, out: Read, purposes: tuple[str, ...]) -> None:
    """The e-mails of ``purposes`` to holders, and the pages their links open."""
    with runtime.engine.connect() as conn:
        mails = conn.execute(select(outbox.c.purpose, outbox.c.recipient, outbox.c.subject, outbox.c.body_text,
                                    outbox.c.body_html).where(outbox.c.purpose.in_(purposes))).all()
    for mail in mails:
        name = mail.recipient.split("@")[0]
        for part, text in (("text", mail.body_text), ("html", _plain(mail.body_html or ""))):
            out.add(name, f"{mail.purpose} e-mail ({part})", f"{mail.subject}\n{text}", mail=True)
        if mail.purpose == "keycheck":
            [url] = re.findall(r"https?://\S+/k/\S+", links.expand(runtime.service.key, mail.body_text))
            page = client.get(_path(url))
            assert page.status_code == 200, page.text
            out.add(name, "key-check page", _plain(page.text))
        if mail.purpose == "release":
            [url] = re.findall(r"https?://\S+/d/\S+", links.expand(runtime.service.key, mail.body_text))
            page = client.get(_path(url))
            assert page.status_code == 200, page.text
            out.add(name, "download page", _plain(page.text))
            for _ in range(runtime.settings.download_uses):
                assert client.post(_path(url)).status_code == 200
            spent = client.get(_path(url))
            assert spent.status_code == 410, spent.text
            out.add(name, "spent-link page", _plain(spent.text))


def _english_left(text: str) -> list[str]:
    for kept in KEPT:
        text = text.replace(kept, " ")
    text = re.sub(r"\S+@\S+|https?://\S+", " ", text)
    return [word for word in ENGLISH if re.search(rf"\b{re.escape(word)}\b", text, re.I)]


def test_every_text_a_holder_reads_is_in_their_language_with_local_dates_and_the_owner_s_name(read: Read) -> None:
    expected = {"enrolment page", "key card", "sealed key-check text", "enrol e-mail (text)", "enrol e-mail (html)",
                "keycheck e-mail (text)", "keycheck e-mail (html)", "key-check page", "release e-mail (text)",
                "release e-mail (html)", "download page", "spent-link page", "RECOVER.md", "RECOVER.html"}
    problems = []
    for name, language in HOLDERS.items():
        seen = {what for what, _text in read.texts[name]}
        assert expected <= seen, f"{name}: not read: {expected - seen}"
        for what, text in read.texts[name]:
            if language != "en" and (left := _english_left(text)):
                problems.append(f"{name} ({language}), {what}: English {left}")
            if found := ISO.findall(text):
                problems.append(f"{name} ({language}), {what}: ISO timestamps {found}")
            names_owner = what not in ("sealed key-check text", "key-check page", "spent-link page")
            if names_owner and OWNER_NAME not in text:
                problems.append(f"{name} ({language}), {what}: the owner's name is missing")
            if "owner@example.org" in text:
                problems.append(f"{name} ({language}), {what}: the owner's e-mail instead of their name")
        for what, text in read.mails[name]:
            if read.fingerprint not in text:
                problems.append(f"{name} ({language}), {what}: no fingerprint")
    assert not problems, "\n".join(problems)


def test_the_release_names_the_other_holders_and_the_rule_in_the_holder_s_language(read: Read) -> None:
    texts = dict(read.texts["budi"])
    mail = texts["release e-mail (text)"]
    assert "3 dari 5 pemegang" in mail  # the rule, in Indonesian
    for other in ("Ana Lima", "Joana Costa", "Rui Almeida", "Marco Rossi"):
        assert other in mail and other in texts["RECOVER.md"] and other in texts["RECOVER.html"]
    assert "ana@example.org" in mail  # Ana agreed to share her contact; the others did not
    assert "joana@example.org" not in mail and "rui@example.org" not in texts["RECOVER.md"]
    assert "Made Sudarma (made@example.org)" in texts["RECOVER.md"]  # the executor the profile names
    assert "Ctrl-D" in texts["RECOVER.md"] and "`ERROR: Share already entered.`" in texts["RECOVER.md"]
    assert "unzip estate.zip" in texts["RECOVER.md"]


def test_the_package_lists_every_holder_for_programs(read: Read) -> None:
    document = read.holders_json["rui"]
    assert document["group_threshold"] == 1
    [group] = document["groups"]
    assert group["threshold"] == 3
    assert [(h["id"], h["name"], h["language"], h["email"], h["you"]) for h in group["holders"]] == [
        ("ana", "Ana Lima", "en", "ana@example.org", False), ("budi", "Budi Santoso", "id", None, False),
        ("joana", "Joana Costa", "pt-BR", None, False), ("rui", "Rui Almeida", "pt-PT", None, True),
        ("marco", "Marco Rossi", "it", None, False)]
    assert document["successor"]["name"] == "Made Sudarma"
