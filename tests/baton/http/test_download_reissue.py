"""After a release, a holder whose download link is spent or expired gets a new one without the owner: a sealed
key check opened with the real ``age`` command, and the new link by SMTP (aiosmtpd on the loopback), on SQLite
and PostgreSQL."""

from __future__ import annotations

import html
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from smtp_server import Received, SmtpServer
from sqlalchemy import func, select
from typer.testing import CliRunner

from baton.cli.app import app as cli
from baton.cli.ownervault import OwnerVault
from baton.errors import Conflict, NotFound
from baton.http.app import create_app
from baton.jobs.worker import Worker
from baton.runtime import Runtime, build
from baton.services.reissue import Reissue
from baton.services.releases import vault_parts
from baton.store import auditlog
from baton.store.tables import key_checks, links
from baton.testing import FakeClock
from tests_support import free_port, live_server, needs_tools, settings_for
from vault import challenge, keys
from vault.entries import entry_from_dict
from vault.shares import policy_from_dict

pytestmark = needs_tools("age", "age-keygen")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
WRONG_CODE = ("the code does not match (attempt {n} of 5): open the sealed challenge with the same key you "
              "enrolled")


@dataclass
class Heir:
    runtime: Runtime
    client: TestClient
    worker: Worker
    smtp: SmtpServer
    clock: FakeClock
    owner_id: int
    key: Path
    url: str
    tmp: Path

    def path(self, url: str) -> str:
        return url.removeprefix(self.url)

    def mails(self, purpose: str) -> list[Received]:
        """Deliver what is due through the SMTP server; the messages of ``purpose`` it has accepted."""
        self.worker.deliver()
        return [r for r in self.smtp.received if r.purpose == purpose]

    def download_links(self, mail: Received) -> dict[str, str]:
        """compartment → the path of its download link, as the holder reads it in the e-mail."""
        assert mail.text is not None
        return {name: self.path(url) for name, url in re.findall(r"^- (\w+): (http://\S+/d/\S+)$", mail.text, re.M)}

    def sealed(self, check_page: str) -> str:
        """The sealed code as the check page shows it, to copy."""
        return html.unescape(re.findall(r'<textarea id="sealed"[^>]*>(.*?)</textarea>', check_page, re.S)[0])

    def code(self, sealed: str) -> str:
        """The sealed code opened with ``age -d`` and the holder's key file."""
        file = self.tmp / "baton-key-check.age"
        file.write_text(sealed)
        opened = subprocess.run(["age", "-d", "-i", str(self.key), str(file)], capture_output=True, text=True,
                                check=True)
        return challenge.code_from(opened.stdout.encode())

    def start(self, spent: str) -> str:
        """Press "Start the key check" on the spent link's reissue page; the key check's path."""
        started = self.client.post(f"{spent}/reissue", follow_redirects=False)
        assert started.status_code == 303, started.text
        return str(started.headers["location"])

    def audit(self) -> list[tuple[str, dict[str, Any]]]:
        with self.runtime.engine.connect() as conn:
            return [(e.kind, e.data) for e in auditlog.entries(conn, self.owner_id)]

    def download_link_count(self) -> int:
        with self.runtime.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(links).where(
                links.c.purpose == "download")).scalar_one())


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings a test changes (by parametrizing this fixture)."""
    return {}


@pytest.fixture
def heir(db_url: str, clock: FakeClock, smtp: SmtpServer, tmp_path: Path, overrides: dict[str, Any]) -> Iterator[Heir]:
    """ana holds the only share of two compartments; the switch has fired and her release e-mail is out."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = build(settings_for(db_url, data_dir=tmp_path / "server", base_url=url, smtp_port=smtp.port,
                                 **overrides), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", policy=POLICY)
    app = create_app(runtime.service)
    client = TestClient(app, base_url=url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    with live_server(app, port=port):
        person = client.post("/api/people", json={"name": "ana", "display_name": "Ana", "email": "ana@example.org",
                                                  "role": "heir", "language": "en"})
        assert person.status_code == 201, person.text
        key = tmp_path / "ana.key"
        subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
        [public] = re.findall(r"age1\w+", key.read_text())
        assert client.put("/api/people/ana/key", json={"recipient": public}).status_code == 200
        owner_key = keys.generate_identity()
        assert client.put("/api/vault/key", json={"recipient": keys.public_of(owner_key).text}).status_code == 200
        owner = OwnerVault(client, tmp_path / "unused.age", lambda: "", _identity=owner_key)  # type: ignore[arg-type]
        for name in ("estate", "operations"):
            owner.ensure_compartment(name)
            version, opened = owner.open(name)
            opened.put(entry_from_dict({"id": "note", "kind": "note", "title": name, "fields": {"text": name},
                                        "updated_at": "2026-01-01"}))
            owner.save(name, version, opened)
            owner.split(name, policy_from_dict({"threshold": 1, "holders": ["ana"]}))
        del client.headers["Authorization"]  # from here on, only what a holder has
        worker = runtime.worker()  # no senders given: the real SMTP sender
        clock.advance(days=33)
        worker.run_switches()
        yield Heir(runtime, client, worker, smtp, clock, made.owner.id, key, url, tmp_path)
    client.close()
    runtime.engine.dispose()


def _spend(heir: Heir, link: str) -> bytes:
    """Download the package as often as the link allows; the zip."""
    first = heir.client.post(link)
    assert first.status_code == 200 and first.headers["content-type"] == "application/zip"
    for _ in range(heir.runtime.settings.download_uses - 1):
        assert heir.client.post(link).content == first.content
    spent = heir.client.post(link)
    assert spent.status_code == 410
    return first.content


def _spent(heir: Heir) -> str:
    """The path of ana's operations link from her release e-mail, spent by as many downloads as it allows."""
    [release] = heir.mails("release")
    link = heir.download_links(release)["operations"]
    _spend(heir, link)
    return link


def test_a_spent_link_leads_to_a_new_one_by_a_sealed_key_check_and_the_package_is_the_same(heir: Heir) -> None:
    """Three downloads spend the link; its page offers a new one; the key check is opened with ``age -d``; the
    new links come by SMTP to the enrolled address only, and give the same package byte for byte."""
    [release] = heir.mails("release")
    old = heir.download_links(release)
    assert sorted(old) == ["estate", "operations"]
    package = _spend(heir, old["operations"])

    spent = heir.client.get(old["operations"])
    assert spent.status_code == 410 and "<h1>This link was already used</h1>" in spent.text
    assert f'<a href="{old["operations"]}/reissue">Get a new download link</a>' in spent.text
    assert "ask the person who sent you this link" not in spent.text  # the owner is gone

    offer = heir.client.get(f"{old['operations']}/reissue")
    assert offer.status_code == 200 and "<h1>A new download link for Ana</h1>" in offer.text
    assert "(a…@example.org)" in offer.text and "ana@example.org" not in offer.text  # the link may be a thief's
    assert "your packages of this release: estate, operations." in offer.text
    assert heir.client.get(f"{old['operations']}/reissue").text == offer.text  # a GET starts nothing
    assert [k for k, _ in heir.audit() if k == "vault.reissue_started"] == []

    check = heir.start(old["operations"])
    assert re.fullmatch(rf"{re.escape(old['operations'])}/reissue/\d+", check)
    assert heir.start(old["operations"]) == check  # pressed again: the same open key check, not a new one
    page = heir.client.get(check)
    assert page.status_code == 200 and "<h1>Prove that you hold your key</h1>" in page.text
    sealed = heir.sealed(page.text)
    assert sealed.startswith("-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert heir.client.get(f"{check}/challenge.age").content.decode() == sealed
    assert f"baton keycheck {heir.url}{check} -i my-key.txt" in page.text

    code = heir.code(sealed)
    done = heir.client.post(check, data={"code": code})
    assert done.status_code == 200 and "<h1>Your key works: a new link is on its way</h1>" in done.text
    assert "/d/" not in done.text  # the new link is never on the page

    [renewed] = heir.mails("reissue")
    assert renewed.envelope_to == ("ana@example.org",)
    assert renewed.subject == "owner@example.org: your new Baton download link"
    new = heir.download_links(renewed)
    assert sorted(new) == ["estate", "operations"] and not set(new.values()) & set(old.values())
    assert new["operations"] not in done.text
    assert heir.client.post(new["operations"]).content == package  # byte for byte the same package
    assert heir.client.post(new["estate"]).headers["content-type"] == "application/zip"

    kinds = [kind for kind, _data in heir.audit() if kind != "delivery.sent"]
    assert kinds[-5:] == ["vault.reissue_started", "people.key_verified", "vault.download_reissued",
                          "vault.downloaded", "vault.downloaded"]
    reissued = dict(heir.audit())["vault.download_reissued"]
    assert reissued["holder"] == "ana" and reissued["packages"] == ["estate/ana", "operations/ana"]
    trail = json.dumps(heir.audit())
    assert code not in trail and code.replace("-", "") not in trail  # no secret in the chain
    assert new["operations"].rsplit("/", 1)[1] not in trail


def test_a_wrong_code_is_refused_counted_and_sends_nothing(heir: Heir) -> None:
    """A wrong code: the form again (422) with the attempt number; no new link made, no e-mail."""
    link = _spent(heir)
    check = heir.start(link)
    links_before = heir.download_link_count()
    for n in (1, 2):
        wrong = heir.client.post(check, data={"code": "AAAA-BBBB-CCCC"})
        assert wrong.status_code == 422
        assert f"<strong>{html.escape(WRONG_CODE.format(n=n))}</strong>" in wrong.text
    with heir.runtime.engine.connect() as conn:
        assert conn.execute(select(key_checks.c.failures).where(key_checks.c.reason == "reissue")).scalar_one() == 2
    assert heir.download_link_count() == links_before
    assert heir.mails("reissue") == []
    assert [k for k, _ in heir.audit()][-2:] == ["people.key_check_failed", "people.key_check_failed"]


def test_after_five_wrong_codes_the_check_is_closed_and_a_new_one_is_sealed(heir: Heir) -> None:
    """The fifth wrong code closes the key check, even for the right code; starting again seals a new one."""
    link = _spent(heir)
    check = heir.start(link)
    right = heir.code(heir.sealed(heir.client.get(check).text))
    for _ in range(4):
        assert heir.client.post(check, data={"code": "AAAA-BBBB-CCCC"}).status_code == 422
    closed = heir.client.post(check, data={"code": "AAAA-BBBB-CCCC"})
    assert closed.status_code == 409
    message = "This key check cannot be answered any more (too many wrong codes, or a new key): start a new one."
    assert f"<p>{message}</p>" in closed.text
    assert heir.client.post(check, data={"code": right}).status_code == 409
    assert heir.mails("reissue") == []
    again = heir.start(link)
    assert again != check
    done = heir.client.post(again, data={"code": heir.code(heir.sealed(heir.client.get(again).text))})
    assert done.status_code == 200
    assert len(heir.mails("reissue")) == 1


def test_a_replayed_answer_is_refused_and_sends_no_second_link(heir: Heir) -> None:
    """The same code posted again to the same key check: refused (409), no more links, one e-mail."""
    link = _spent(heir)
    check = heir.start(link)
    code = heir.code(heir.sealed(heir.client.get(check).text))
    assert heir.client.post(check, data={"code": code}).status_code == 200
    links_after = heir.download_link_count()
    replayed = heir.client.post(check, data={"code": code})
    assert replayed.status_code == 409
    assert re.search(r"<p>This key check was already answered, at [^<]+?, and a new link was sent then\. Start a new "
                     r"key check if you need another\.</p>", replayed.text)
    assert heir.client.get(f"{check}/challenge.age").status_code == 409  # nor is its sealed code shown again
    assert heir.download_link_count() == links_after
    assert len(heir.mails("reissue")) == 1


def test_an_expired_link_leads_to_a_new_one_with_the_keycheck_command(heir: Heir) -> None:
    """Never used, the link expires; its page offers a new one, and ``baton keycheck`` answers the key check."""
    [release] = heir.mails("release")
    link = heir.download_links(release)["estate"]
    heir.clock.advance(days=heir.runtime.settings.package_link_days + 1)
    expired = heir.client.get(link)
    assert expired.status_code == 410 and "<h1>This link has expired</h1>" in expired.text
    assert f'<a href="{link}/reissue">Get a new download link</a>' in expired.text
    check = heir.start(link)
    result = CliRunner().invoke(cli, ["keycheck", f"{heir.url}{check}", "--identity", str(heir.key)])
    assert result.exit_code == 0, result.output
    assert result.output == "your key works: a new download link was sent to your e-mail address\n"
    [renewed] = heir.mails("reissue")
    new = heir.download_links(renewed)
    assert sorted(new) == ["estate", "operations"]
    got = heir.client.post(new["estate"])
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"


def test_a_link_that_still_works_or_is_unknown_starts_no_key_check(heir: Heir) -> None:
    """A usable link: told to use it (409); a made-up token: not known (404); neither makes a key check."""
    [release] = heir.mails("release")
    link = heir.download_links(release)["operations"]
    for response in (heir.client.get(f"{link}/reissue"), heir.client.post(f"{link}/reissue")):
        assert response.status_code == 409
        assert ("<p>This download link still works: open it again and press the download button.</p>"
                in response.text)
    for response in (heir.client.get("/d/not-a-real-token/reissue"),
                     heir.client.post("/d/not-a-real-token/reissue")):
        assert response.status_code == 404 and "This link is not known." in response.text
    with heir.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(key_checks).where(
            key_checks.c.reason == "reissue")).scalar_one() == 0


def test_a_holder_without_a_key_or_removed_gets_a_clear_refusal(heir: Heir) -> None:
    """No key on record: nothing can prove it is the holder, so no key check and no link, said plainly."""
    from sqlalchemy import update

    from baton.store.tables import people
    link = _spent(heir)
    with heir.runtime.engine.begin() as conn:
        conn.execute(update(people).where(people.c.name == "ana").values(recipient=None))
    refused = heir.client.post(f"{link}/reissue", follow_redirects=False)
    assert refused.status_code == 409
    assert ("<p>Baton has no key of yours on record, so it cannot check that it is you: no new link can be sent "
            "this way.</p>") in refused.text
    with heir.runtime.engine.begin() as conn:
        conn.execute(update(people).where(people.c.name == "ana").values(removed_at=heir.clock.now()))
    removed = heir.client.get(f"{link}/reissue")
    assert removed.status_code == 409
    assert "<p>The owner removed you as a holder, so no new link can be sent.</p>" in removed.text


@pytest.mark.parametrize("overrides", [{"reissue_check_hours": 2}])
def test_a_key_check_expires_and_a_holder_may_start_a_few_a_day(heir: Heir) -> None:
    """A key check expires after ``reissue_check_hours``; each expired one lets a new one start, up to
    ``reissue_checks_per_day`` in 24 hours; a day later, again."""
    link = _spent(heir)
    allowed = heir.runtime.settings.reissue_checks_per_day
    for _ in range(allowed):
        check = heir.start(link)
        heir.clock.advance(minutes=119)
        assert heir.client.get(check).status_code == 200
        heir.clock.advance(minutes=1)
        gone = heir.client.get(check)
        assert gone.status_code == 409 and "This key check expired at " in gone.text
    refused = heir.client.post(f"{link}/reissue", follow_redirects=False)
    assert refused.status_code == 409
    assert (f"<p>{allowed} key checks were started for you in the last 24 hours, as many as allowed: try again in "
            "a day.</p>") in refused.text
    heir.clock.advance(hours=24 - 2 * allowed)
    assert heir.start(link)


def test_two_right_answers_at_once_send_one_new_link(heir: Heir) -> None:
    """The same right code sent twice at the same moment (two tabs, a replay racing the holder): one wins, the
    other is refused, and one e-mail goes out."""
    link = _spent(heir)
    check = heir.start(link)
    code = heir.code(heir.sealed(heir.client.get(check).text))
    reissue = Reissue(vault_parts(heir.runtime.service)[0])
    token, number = link.rsplit("/", 1)[1], check.rsplit("/", 1)[1]
    gate = threading.Barrier(2)

    def answer() -> str:
        gate.wait()
        try:
            reissue.answer(token, number, code)
        except (Conflict, NotFound) as exc:
            return str(exc)
        return "sent"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: answer(), range(2)))
    [refused] = [o for o in outcomes if o != "sent"]  # one "sent"
    # The loser either waited for the winner's commit (PostgreSQL: its conditional update finds the check
    # passed) or started after it (it reads the check as answered).
    assert re.fullmatch(r"this key check was already passed|This key check was already answered, at \S+, and a new "
                        r"link was sent then\. Start a new key check if you need another\.", refused), refused
    assert len(heir.mails("reissue")) == 1


def test_a_key_check_of_another_kind_or_number_is_not_known_here(heir: Heir) -> None:
    """Only the holder's own key checks for a new link answer at the spent link: a made-up number, a word, or
    the holder's key check from the owner are refused as not known (404)."""
    link = _spent(heir)
    with heir.runtime.engine.connect() as conn:
        other = conn.execute(select(key_checks.c.id).where(key_checks.c.reason != "reissue")).scalars().first()
    assert other is not None
    for number in ("999999", "abc", str(other)):
        for response in (heir.client.get(f"{link}/reissue/{number}"),
                         heir.client.post(f"{link}/reissue/{number}", data={"code": "AAAA-BBBB-CCCC"})):
            assert response.status_code == 404
            assert ("<p>This key check is not known here: start again from the page of your download link.</p>"
                    in response.text)


def test_another_sites_form_starts_and_answers_nothing(heir: Heir) -> None:
    """A POST from another site's page (Sec-Fetch-Site: cross-site) is refused (403) at both forms."""
    link = _spent(heir)
    check = heir.start(link)
    elsewhere = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    for path in (f"{link}/reissue", check):
        refused = heir.client.post(path, data={"code": "AAAA-BBBB-CCCC"}, headers=elsewhere, follow_redirects=False)
        assert refused.status_code == 403 and "did not come from Baton&#39;s own page" in refused.text
    with heir.runtime.engine.connect() as conn:
        assert conn.execute(select(key_checks.c.failures).where(key_checks.c.reason == "reissue")).scalars().all() \
            == [0]
