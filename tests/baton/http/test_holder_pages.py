"""Holders' link pages (enrolment, key check, download) on SQLite and PostgreSQL: a GET shows, a POST acts."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select

from baton.cli.ownervault import OwnerVault
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.store import auditlog
from baton.store import links as stored_links
from baton.store.tables import audit_entries, key_checks, links, outbox, packages, people
from baton.testing import FakeClock
from tests_support import needs_tools, settings_for
from vault import challenge, keys
from vault.entries import entry_from_dict
from vault.shares import policy_from_dict

pytestmark = needs_tools("age", "age-keygen", "ssh-keygen")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
WRONG_CODE = ("the code does not match (attempt {n} of 5): open the sealed challenge with the same key you "
              "enrolled")


@dataclass
class Pages:
    runtime: Runtime
    client: TestClient
    owner_id: int
    tmp: Path

    def path(self, url: str) -> str:
        return url.removeprefix(self.runtime.settings.base_url)

    def person(self, name: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = self.client.get("/api/people").json()
        return next(p for p in found if p["name"] == name)

    def add_holder(self, name: str = "ana") -> str:
        """A holder with an e-mail address; returns the path of their enrolment link."""
        made = self.client.post("/api/people", json={"name": name, "display_name": name.title(),
                                                     "email": f"{name}@example.org", "role": "heir"})
        assert made.status_code == 201, made.text
        return self.path(made.json()["enrol_url"])

    def audit_count(self) -> int:
        with self.runtime.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_entries)).scalar_one())


@pytest.fixture
def pages(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Pages]:
    runtime = build(settings_for(db_url, data_dir=tmp_path / "server"), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", policy=POLICY)
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    yield Pages(runtime, client, made.owner.id, tmp_path)
    client.close()
    runtime.engine.dispose()


def _age_key(path: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return str(re.findall(r"age1\w+", path.read_text())[0])


def _alert(message: str) -> str:
    """The error as the page shows it, next to the field."""
    return f'<p role="alert" style="color:#b42318"><strong>{escape(message)}</strong></p>'


def _enrolled(pages: Pages) -> tuple[Path, str]:
    """ana enrolled with an age key through her link; returns her key file and the key-check page's path."""
    key = pages.tmp / "ana.key"
    done = pages.client.post(pages.add_holder("ana"), data={"recipient": _age_key(key)})
    assert done.status_code == 200, done.text
    return key, pages.path(re.findall(r'<a href="([^"]+/k/[^"]+)">', done.text)[0])


def _code(pages: Pages, check: str, key: Path) -> str:
    """Download the sealed challenge and open it with the age command line; returns the code."""
    sealed = pages.tmp / "baton-key-check.age"
    sealed.write_bytes(pages.client.get(f"{check}/challenge.age").content)
    opened = subprocess.run(["age", "-d", "-i", str(key), str(sealed)], capture_output=True, text=True, check=True)
    return challenge.code_from(opened.stdout.encode())


def _failures(pages: Pages) -> list[int]:
    with pages.runtime.engine.connect() as conn:
        return [r.failures for r in conn.execute(select(key_checks.c.failures).join(
            people, people.c.id == key_checks.c.person_id).where(people.c.name == "ana").order_by(key_checks.c.id))]


# -- enrolment ------------------------------------------------------------------------------------
def test_the_enrolment_page_shows_the_owner_and_a_form_and_changes_nothing(pages: Pages) -> None:
    """A GET (a mail scanner, a preview) shows whose vault it is and the form; no key, no audit entry."""
    enrol = pages.add_holder("ana")
    before = pages.audit_count()
    for _ in range(2):
        page = pages.client.get(enrol)
        assert page.status_code == 200
        assert "<strong>owner@example.org</strong> chose you to hold a key" in page.text
        assert '<form method="post">' in page.text and '<textarea id="recipient" name="recipient"' in page.text
    assert pages.person("ana")["key"] == "none"
    assert pages.audit_count() == before


def test_a_garbage_key_shows_the_form_again_with_the_error_and_what_was_typed(pages: Pages) -> None:
    """Not a key: status 422, the reason beside the field, and the text kept in the box."""
    page = pages.client.post(pages.add_holder("ana"), data={"recipient": "hello <b>there</b>"})
    assert page.status_code == 422
    assert _alert("expected an age public key (age1…) or an SSH public key (ssh-ed25519 or ssh-rsa), got "
                  "'hello'") in page.text
    assert f">{escape('hello <b>there</b>')}</textarea>" in page.text
    assert pages.person("ana")["key"] == "none"


def test_a_refused_key_leaves_the_link_usable(pages: Pages) -> None:
    """After a refused key the same link takes a good one."""
    enrol = pages.add_holder("ana")
    assert pages.client.post(enrol, data={"recipient": "hello"}).status_code == 422
    done = pages.client.post(enrol, data={"recipient": _age_key(pages.tmp / "ana.key")})
    assert done.status_code == 200 and "Thank you, Ana" in done.text


def test_a_pasted_secret_key_is_refused_with_its_reason(pages: Pages) -> None:
    """An AGE-SECRET-KEY is refused (422) with a message that says never to share it; no key is stored."""
    secret = keys.identity_text(keys.generate_identity())
    page = pages.client.post(pages.add_holder("ana"), data={"recipient": secret})
    assert page.status_code == 422
    assert _alert("expected a public key, got a secret key (AGE-SECRET-KEY-…): never share it; send the line "
                  "starting age1… instead") in page.text
    assert pages.person("ana")["key"] == "none"


def _ssh_private_key(tmp: Path) -> str:
    path = tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


@pytest.mark.parametrize("kind", ["age", "ssh"])
def test_a_pasted_secret_key_is_not_shown_back_in_the_page(pages: Pages, kind: str) -> None:
    """The refusal page does not carry the pasted secret key back (into the box, a cache, a screenshot)."""
    secret = keys.identity_text(keys.generate_identity()) if kind == "age" else _ssh_private_key(pages.tmp)
    page = pages.client.post(pages.add_holder("ana"), data={"recipient": secret})
    assert page.status_code == 422
    body = max((line.strip() for line in secret.splitlines()), key=len)  # the secret's longest line
    assert body not in page.text


def test_a_valid_key_thanks_the_holder_and_links_to_a_key_check(pages: Pages) -> None:
    """An age public key: the thank-you page with a key-check link; the key is stored, not yet verified."""
    public = _age_key(pages.tmp / "ana.key")
    done = pages.client.post(pages.add_holder("ana"), data={"recipient": public})
    assert done.status_code == 200
    assert "<h1>Thank you, Ana</h1>" in done.text
    assert re.search(r'<a href="http://baton\.test/k/[^"]+">Open the key check</a>', done.text)
    ana = pages.person("ana")
    assert (ana["recipient"], ana["key"], ana["key_source"]) == (public, "unverified", "enrolled")


def test_an_enrolment_link_works_once(pages: Pages) -> None:
    """The second POST on the same link: a 410 page that says it was used, and the first key stays."""
    enrol = pages.add_holder("ana")
    first = _age_key(pages.tmp / "first.key")
    assert pages.client.post(enrol, data={"recipient": first}).status_code == 200
    again = pages.client.post(enrol, data={"recipient": _age_key(pages.tmp / "second.key")})
    assert again.status_code == 410
    assert "<h1>This link was already used</h1>" in again.text
    assert "ask the person who sent you this link for a new one" in again.text  # the holder's way forward
    assert "baton checkin" not in again.text  # not the owner's
    assert pages.person("ana")["recipient"] == first


# -- key check ----------------------------------------------------------------------------------
def test_the_key_check_page_shows_how_to_open_the_sealed_code(pages: Pages) -> None:
    """A GET shows the steps and the form, and leaves the key unverified."""
    _key, check = _enrolled(pages)
    page = pages.client.get(check)
    assert page.status_code == 200
    assert "<h1>Key check for Ana</h1>" in page.text
    assert f'<a href="{check}/challenge.age" download="baton-key-check.age">' in page.text
    assert '<input id="code" name="code"' in page.text
    assert pages.person("ana")["key"] == "unverified"


def test_the_sealed_challenge_opens_with_the_age_command_line(pages: Pages) -> None:
    """The challenge is an age file; ``age -d -i`` with the enrolled key shows the code."""
    key, check = _enrolled(pages)
    got = pages.client.get(f"{check}/challenge.age")
    assert got.status_code == 200 and got.content.startswith(b"age-encryption.org/v1\n")
    assert got.headers["content-disposition"] == 'attachment; filename="baton-key-check.age"'
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", _code(pages, check, key))


def test_a_wrong_code_is_refused_and_counted(pages: Pages) -> None:
    """A wrong code: status 422, the attempt number beside the field, the code kept, the failure stored."""
    _key, check = _enrolled(pages)
    page = pages.client.post(check, data={"code": "AAAA-BBBB-CCCC"})
    assert page.status_code == 422
    assert _alert(WRONG_CODE.format(n=1)) in page.text
    assert 'value="AAAA-BBBB-CCCC"' in page.text
    assert _failures(pages) == [1]
    assert pages.person("ana")["key"] == "unverified"


def test_after_five_wrong_codes_even_the_right_one_is_refused(pages: Pages) -> None:
    """Five wrong codes use the check up: the sixth attempt is refused, right code or not."""
    key, check = _enrolled(pages)
    right = _code(pages, check, key)
    for n in range(1, 6):
        page = pages.client.post(check, data={"code": "AAAA-BBBB-CCCC"})
        assert page.status_code == 422 and _alert(WRONG_CODE.format(n=n)) in page.text
    sixth = pages.client.post(check, data={"code": right})
    assert sixth.status_code == 409
    assert "<p>too many wrong codes for this key check; ask the owner for a new one</p>" in sixth.text
    assert _failures(pages) == [5]
    assert pages.person("ana")["key"] == "unverified"


def test_the_right_code_verifies_the_key(pages: Pages) -> None:
    """The code from the sealed challenge: "Your key works", and the key shows as verified."""
    key, check = _enrolled(pages)
    done = pages.client.post(check, data={"code": _code(pages, check, key).lower()})
    assert done.status_code == 200 and "<h1>Your key works</h1>" in done.text
    assert pages.person("ana")["key"] == "verified"


# -- download -----------------------------------------------------------------------------------
def _released(pages: Pages, clock: FakeClock) -> str:
    """operations split 1 of 1 to ana; the switch fires; returns the path of ana's download link."""
    owner_key = keys.generate_identity()  # kept in memory: no passphrase file, no scrypt
    assert pages.client.put("/api/vault/key", json={"recipient": keys.public_of(owner_key).text}).status_code == 200
    owner = OwnerVault(pages.client, pages.tmp / "unused.age", lambda: "",  # type: ignore[arg-type]
                       _identity=owner_key)
    owner.ensure_compartment("operations")
    version, opened = owner.open("operations")
    opened.put(entry_from_dict({"id": "runbook", "kind": "note", "title": "Runbook",
                                "fields": {"text": "restart nginx"}, "updated_at": "2026-01-01"}))
    owner.save("operations", version, opened)
    pages.add_holder("ana")
    public = _age_key(pages.tmp / "ana.key")
    assert pages.client.put("/api/people/ana/key", json={"recipient": public}).status_code == 200
    owner.split("operations", policy_from_dict({"threshold": 1, "holders": ["ana"]}))
    clock.advance(days=33)
    pages.runtime.worker(senders={}).run_switches()
    with pages.runtime.engine.connect() as conn:
        [body] = [r.body_text for r in conn.execute(select(outbox.c.body_text).where(outbox.c.purpose == "release"))]
    return pages.path(re.findall(r"http://\S+/d/\S+", stored_links.expand(pages.runtime.service.key, body))[0])


def _link_used(pages: Pages) -> list[bool]:
    with pages.runtime.engine.connect() as conn:
        return [r.used_at is not None for r in conn.execute(select(links.c.used_at).where(
            links.c.purpose == "download"))]


def test_the_download_page_shows_the_package_without_spending_the_link(pages: Pages, clock: FakeClock) -> None:
    """GETs show what the package is for; the link stays unused and no package is marked downloaded."""
    download = _released(pages, clock)
    for _ in range(2):
        page = pages.client.get(download)
        assert page.status_code == 200
        assert ("Your package for the part <strong>operations</strong> of the vault of owner@example.org is "
                "ready.") in page.text
        assert '<form method="post"><button type="submit">Download the package (.zip)</button></form>' in page.text
    assert _link_used(pages) == [False]
    with pages.runtime.engine.connect() as conn:
        assert [r.downloaded_at for r in conn.execute(select(packages.c.downloaded_at))] == [None]


def test_the_download_button_returns_the_zip_as_often_as_the_link_allows(pages: Pages, clock: FakeClock) -> None:
    """The POST returns the package's zip; the link works ``download_uses`` times (a broken download can be
    tried again), each download audited; one more POST is a 410 page."""
    download = _released(pages, clock)
    got = pages.client.post(download)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        names = {n.split("/", 1)[1] for n in archive.namelist()}
    assert {"manifest.json", "share-ana.age", "compartment-operations.age", "SHA256SUMS", "SHA256SUMS.sig"} <= names
    assert _link_used(pages) == [False]
    for _ in range(pages.runtime.settings.download_uses - 1):
        assert pages.client.post(download).status_code == 200
    assert _link_used(pages) == [True]
    with pages.runtime.engine.connect() as conn:
        downloads = [e for e in auditlog.entries(conn, pages.owner_id) if e.kind == "vault.downloaded"]
    assert len(downloads) == pages.runtime.settings.download_uses
    again = pages.client.post(download)
    assert again.status_code == 410 and "<h1>This link was already used</h1>" in again.text


def test_an_unknown_download_link_is_a_not_found_page(pages: Pages) -> None:
    """A made-up token: a 404 page that explains itself, for the GET and the POST."""
    for response in (pages.client.get("/d/not-a-real-token"), pages.client.post("/d/not-a-real-token")):
        assert response.status_code == 404
        assert "<p>This link is not known. Check that it was copied whole.</p>" in response.text
