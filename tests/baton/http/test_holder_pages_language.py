"""Holders' link pages speak the holder's language (id, pt, it): enrolment, key check, download, and the refusal
of a used or expired link; a link that is nobody's is refused in the browser's language; English is unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from baton.cli.ownervault import OwnerVault
from baton.http import pagelanguage
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.store import links as stored_links
from baton.store.tables import outbox
from baton.testing import FakeClock
from handover import i18n
from switch import iso
from tests_support import settings_for
from vault import agecrypt, challenge, keys
from vault.entries import entry_from_dict
from vault.errors import RecipientError
from vault.shares import policy_from_dict

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
OWNER = "owner@example.org"
TRANSLATED = ["id", "pt", "it"]
BAD_KEY = ("expected an age public key (age1…) or an SSH public key (ssh-ed25519 or ssh-rsa), got %(shown)s")
SECRET_KEY = ("expected a public key, got a secret key (AGE-SECRET-KEY-…): never share it; send the line starting "
              "age1… instead")
WRONG_CODE = ("the code does not match (attempt %(attempt)s of 5): open the sealed challenge with the same key you "
              "enrolled")
USED = "This link was already used, at %(when)s. Each link works once."


def translated(language: str, msgid: str, **values: Any) -> str:
    """The catalog's translation, as a page shows it (values are escaped: here they need none)."""
    return i18n.translations(language).gettext(msgid) % values


def local_date(moment: datetime, language: str) -> str:
    return i18n.formatted_date(moment, "long", i18n.LOCALES[language])


def _alert(message: str) -> str:
    """The error as the enrolment and key-check pages show it, next to the field."""
    return f'<p role="alert" style="color:#b42318"><strong>{escape(message)}</strong></p>'


@dataclass
class Pages:
    runtime: Runtime
    client: TestClient
    clock: FakeClock
    tmp: Path

    def path(self, url: str) -> str:
        return url.removeprefix(self.runtime.settings.base_url)

    def add_holder(self, language: str, name: str = "ana") -> str:
        """A holder who reads ``language``; returns the path of their enrolment link."""
        made = self.client.post("/api/people", json={"name": name, "display_name": name.title(), "language": language,
                                                     "email": f"{name}@example.org", "role": "heir"})
        assert made.status_code == 201, made.text
        return self.path(made.json()["enrol_url"])

    def enrolled(self, language: str) -> tuple[Any, str, str]:
        """ana enrolled through her link: her identity, the thank-you page, the key-check page's path."""
        identity = keys.generate_identity()
        done = self.client.post(self.add_holder(language), data={"recipient": keys.public_of(identity).text})
        assert done.status_code == 200, done.text
        return identity, done.text, self.path(re.findall(r'<a href="([^"]+/k/[^"]+)">', done.text)[0])

    def code(self, check: str, identity: Any) -> str:
        """The code in the sealed challenge, opened with the holder's identity."""
        sealed = self.client.get(f"{check}/challenge.age").content
        return challenge.code_from(agecrypt.decrypt(sealed, [identity], "the key check"))

    def released(self, language: str) -> str:
        """operations split 1 of 1 to ana (who reads ``language``); the switch fires; her download link's path."""
        owner_key = keys.generate_identity()
        assert self.client.put("/api/vault/key", json={"recipient": keys.public_of(owner_key).text}).status_code == 200
        owner = OwnerVault(self.client, self.tmp / "unused.age", lambda: "",  # type: ignore[arg-type]
                           _identity=owner_key)
        owner.ensure_compartment("operations")
        version, opened = owner.open("operations")
        opened.put(entry_from_dict({"id": "runbook", "kind": "note", "title": "Runbook",
                                    "fields": {"text": "restart nginx"}, "updated_at": "2026-01-01"}))
        owner.save("operations", version, opened)
        self.add_holder(language)
        public = keys.public_of(keys.generate_identity()).text
        assert self.client.put("/api/people/ana/key", json={"recipient": public}).status_code == 200
        owner.split("operations", policy_from_dict({"threshold": 1, "holders": ["ana"]}))
        self.clock.advance(days=33)
        self.runtime.worker(senders={}).run_switches()
        with self.runtime.engine.connect() as conn:
            [body] = [r.body_text for r in conn.execute(select(outbox.c.body_text)
                                                        .where(outbox.c.purpose == "release"))]
        return self.path(re.findall(r"http://\S+/d/\S+", stored_links.expand(self.runtime.service.key, body))[0])


def _pages(url: str, clock: FakeClock, tmp: Path) -> Iterator[Pages]:
    runtime = build(settings_for(url, data_dir=tmp / "server"), clock=clock)
    made = runtime.service.create_owner(OWNER, "correct horse battery", "Europe/Rome", policy=POLICY)
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    yield Pages(runtime, client, clock, tmp)
    client.close()
    runtime.engine.dispose()


@pytest.fixture
def pages(sqlite_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Pages]:
    yield from _pages(sqlite_url, clock, tmp_path)


@pytest.fixture
def pages_on_each_db(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Pages]:
    """The same, on SQLite and PostgreSQL: for the look-up of a used link's holder."""
    yield from _pages(db_url, clock, tmp_path)


# -- enrolment -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", TRANSLATED)
def test_the_enrolment_page_speaks_the_holder_s_language(pages: Pages, language: str) -> None:
    page = pages.client.get(pages.add_holder(language))
    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    assert f"<title>{translated(language, 'Your key for %(owner_email)s', owner_email=OWNER)} — Baton</title>" \
        in page.text
    assert f"<h1>{translated(language, 'Hello %(name)s', name='Ana')}</h1>" in page.text
    for sentence in ("<strong>%(owner_email)s</strong> chose you to hold a key for their vault. If one day they can no "
                     "longer run their business, you and the other people they chose will be able to open it "
                     "together — and not before.",
                     "Or ask %(owner_email)s to print you a <strong>key card</strong>: a sheet of paper with your key "
                     "on it, to keep in a safe place. Then you need not do anything here."):
        assert f"<p>{translated(language, sentence, owner_email=OWNER)}</p>" in page.text
    assert f'<button type="submit">{translated(language, "Send my public key")}</button>' in page.text
    assert "Send my public key" not in page.text and "chose you to hold a key" not in page.text


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_malformed_key_is_refused_in_the_holder_s_language_beside_the_field_and_kept(pages: Pages,
                                                                                        language: str) -> None:
    page = pages.client.post(pages.add_holder(language), data={"recipient": "hello <b>there</b>"})
    assert page.status_code == 422
    assert f'<html lang="{language}">' in page.text
    error = _alert(translated(language, BAD_KEY, shown="'hello'"))
    assert error in page.text
    assert page.text.index(error) < page.text.index('<textarea id="recipient"')  # right above the field
    assert f">{escape('hello <b>there</b>')}</textarea>" in page.text
    assert "expected an age public key" not in page.text


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_pasted_secret_key_is_refused_in_the_holder_s_language_and_not_shown_back(pages: Pages,
                                                                                   language: str) -> None:
    secret = keys.identity_text(keys.generate_identity())
    page = pages.client.post(pages.add_holder(language), data={"recipient": secret})
    assert page.status_code == 422
    assert _alert(translated(language, SECRET_KEY)) in page.text
    assert secret not in page.text and "></textarea>" in page.text


def _secret_ssh_key() -> str:
    return ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n"
            "-----END OPENSSH PRIVATE KEY-----\n")


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("pasted", [
    pytest.param("hello", id="not-a-key"),
    pytest.param("age1qqqqqqqq", id="damaged-age-key"),
    pytest.param("ssh-ed25519 AAAAC3broken ana@laptop", id="damaged-ssh-key"),
    pytest.param("AGE-SECRET-KEY-1QQQQ", id="age-secret-key"),
    pytest.param(_secret_ssh_key(), id="ssh-private-key"),
    pytest.param("# created: 2026-01-01\n# public key: age1qq\nAGE-SECRET-KEY-1QQQQ", id="whole-key-file"),
])
def test_every_refusal_of_a_pasted_key_has_a_translation(pasted: str, language: str) -> None:
    """Each message the vault refuses a pasted key with is one the pages translate (English stays as it is)."""
    with pytest.raises(RecipientError) as refused:
        keys.parse_recipient(pasted)
    english = str(refused.value)
    assert pagelanguage.translate(english, "en") == english
    said = pagelanguage.translate(english, language)
    assert said != english and "expected" not in said


# -- key check -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", TRANSLATED)
def test_the_key_check_pages_speak_the_holder_s_language(pages: Pages, language: str) -> None:
    """The thank-you page, the key check with a wrong code (kept, its error beside the field), the right code."""
    identity, done, check = pages.enrolled(language)
    assert f'<html lang="{language}">' in done
    assert f"<h1>{translated(language, 'Thank you, %(name)s', name='Ana')}</h1>" in done
    assert f">{translated(language, 'Open the key check')}</a> " in done

    page = pages.client.get(check)
    assert page.status_code == 200 and f'<html lang="{language}">' in page.text
    assert f"<h1>{translated(language, 'Key check for %(name)s', name='Ana')}</h1>" in page.text
    assert (f'<a href="{check}/challenge.age" download="baton-key-check.age">'
            f'{translated(language, "Download the sealed code")}</a>') in page.text
    assert "Download the sealed code" not in page.text

    wrong = pages.client.post(check, data={"code": "AAAA-BBBB-CCCC"})
    assert wrong.status_code == 422
    assert _alert(translated(language, WRONG_CODE, attempt="1")) in wrong.text
    assert 'value="AAAA-BBBB-CCCC"' in wrong.text

    right = pages.client.post(check, data={"code": pages.code(check, identity)})
    assert right.status_code == 200 and f'<html lang="{language}">' in right.text
    assert f"<h1>{translated(language, 'Your key works')}</h1>" in right.text


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_key_check_used_up_by_wrong_codes_is_refused_in_the_holder_s_language(pages: Pages, language: str) -> None:
    identity, _done, check = pages.enrolled(language)
    right = pages.code(check, identity)
    for _ in range(5):
        assert pages.client.post(check, data={"code": "AAAA-BBBB-CCCC"}).status_code == 422
    refused = pages.client.post(check, data={"code": right})
    assert refused.status_code == 409 and f'<html lang="{language}">' in refused.text
    assert f"<h1>{translated(language, 'This cannot be done now')}</h1>" in refused.text
    assert (f"<p>{translated(language, 'too many wrong codes for this key check; ask the owner for a new one')}</p>"
            in refused.text)


# -- download, and used or expired links -----------------------------------------------------------------------
@pytest.mark.parametrize("language", TRANSLATED)
def test_the_download_page_and_its_used_link_speak_the_holder_s_language(pages_on_each_db: Pages,
                                                                         language: str) -> None:
    pages = pages_on_each_db
    download = pages.released(language)
    page = pages.client.get(download)
    assert page.status_code == 200 and f'<html lang="{language}">' in page.text
    ready = translated(language, "Your package for the part <strong>%(compartment)s</strong> of the vault of "
                                 "%(owner_email)s is ready.", compartment="operations", owner_email=OWNER)
    rule = translated(language, "%(threshold)s of %(count)s (holders)", threshold=1, count=1)
    holds = translated(language, "It holds your sealed share and the instructions (RECOVER.html) to open the vault "
                                 "together with the other holders: %(who)s.", who=rule)
    assert f"<p>{ready}</p>" in page.text and f"<p>{holds}</p>" in page.text
    assert (f'<form method="post"><button type="submit">{translated(language, "Download the package (.zip)")}'
            "</button></form>") in page.text

    for _ in range(pages.runtime.settings.download_uses - 1):  # a broken download may be tried again
        assert pages.client.post(download).status_code == 200
        pages.clock.advance(hours=1)
    taken = pages.clock.now()  # the link's last use spends it
    got = pages.client.post(download)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    pages.clock.advance(days=1)
    again = pages.client.post(download, headers={"Accept-Language": "en-US,en;q=0.9"})  # the holder's language wins
    assert again.status_code == 410 and f'<html lang="{language}">' in again.text
    assert f"<h1>{translated(language, 'This link was already used')}</h1>" in again.text
    assert f"<p>{translated(language, USED, when=local_date(taken, language))}</p>" in again.text
    assert iso(taken) not in again.text and "already used" not in again.text


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_used_enrolment_link_is_refused_in_the_holder_s_language(pages_on_each_db: Pages, language: str) -> None:
    pages = pages_on_each_db
    enrol = pages.add_holder(language)
    assert pages.client.post(enrol, data={"recipient": keys.public_of(keys.generate_identity()).text}
                             ).status_code == 200
    for again in (pages.client.get(enrol), pages.client.post(enrol, data={"recipient": "age1x"})):
        assert again.status_code == 410 and f'<html lang="{language}">' in again.text
        assert f"<h1>{translated(language, 'This link was already used')}</h1>" in again.text
        assert f"<p>{translated(language, USED, when=local_date(pages.clock.now(), language))}</p>" in again.text


@pytest.mark.parametrize("language", TRANSLATED)
def test_an_expired_enrolment_link_says_when_it_expired_as_the_holder_writes_dates(pages: Pages, language: str) -> None:
    enrol = pages.add_holder(language)
    expired = pages.clock.now() + timedelta(days=pages.runtime.settings.link_ttl_days)
    pages.clock.advance(days=pages.runtime.settings.link_ttl_days + 1)
    page = pages.client.get(enrol)
    assert page.status_code == 410 and f'<html lang="{language}">' in page.text
    assert f"<h1>{translated(language, 'This link has expired')}</h1>" in page.text
    said = translated(language, "This link expired at %(when)s.", when=local_date(expired, language))
    assert f"<p>{said}</p>" in page.text


# -- a link that is nobody's: the browser's language ---------------------------------------------------------
@pytest.mark.parametrize(("accept", "language"), [
    ("it-IT,it;q=0.9,en;q=0.8", "it"),
    ("pt-BR", "pt"),
    ("fr-FR,fr;q=0.9,id;q=0.8,en;q=0.5", "id"),
])
def test_an_unknown_link_is_refused_in_the_browser_s_language(pages: Pages, accept: str, language: str) -> None:
    for response in (pages.client.get("/d/not-a-real-token", headers={"Accept-Language": accept}),
                     pages.client.post("/e/not-a-real-token", headers={"Accept-Language": accept})):
        assert response.status_code == 404 and f'<html lang="{language}">' in response.text
        assert f"<h1>{translated(language, 'This link cannot be used')}</h1>" in response.text
        known = translated(language, "This link is not known. Check that it was copied whole.")
        assert f"<p>{known}</p>" in response.text


@pytest.mark.parametrize(("accept", "language"), [
    pytest.param(None, "en", id="none"),
    pytest.param("", "en", id="empty"),
    pytest.param("it", "it", id="one"),
    pytest.param("en-US,en;q=0.9,it;q=0.8", "en", id="english-first"),
    pytest.param("de-DE,de;q=0.9,pt;q=0.5,it;q=0.4", "pt", id="best-of-ours"),
    pytest.param("it;q=0.2, pt", "pt", id="quality-not-order"),
    pytest.param("it;q=0, id;q=0.1", "id", id="q0-means-not"),
    pytest.param("in-ID", "id", id="old-indonesian-code"),
    pytest.param("*", "en", id="any"),
    pytest.param("de, fr", "en", id="none-of-ours"),
    pytest.param("it;q=x;;, ,", "en", id="garbled"),
])
def test_the_browser_s_language_is_the_one_of_ours_it_prefers(accept: str | None, language: str) -> None:
    assert pagelanguage.negotiate(accept) == language


# -- English is unchanged -------------------------------------------------------------------------------------
def test_english_holders_read_exactly_what_they_read_before(pages: Pages) -> None:
    """An English holder's journey, with a browser that asks for Italian: every text as it always was."""
    pages.client.headers["Accept-Language"] = "it"
    enrol = pages.add_holder("en")
    page = pages.client.get(enrol).text
    for line in (
        '<html lang="en">',
        f"<title>Your key for {OWNER} — Baton</title>",
        "<h1>Hello Ana</h1>",
        f"<p><strong>{OWNER}</strong> chose you to hold a key for their vault. If one day they can no longer run "
        "their business, you and the other people they chose will be able to open it together — and not before.</p>",
        '<label for="recipient">Paste your public key: an age key (starts with <code>age1</code>) or an SSH public '
        "key (starts with <code>ssh-ed25519</code> or <code>ssh-rsa</code>).</label><br>",
        '<button type="submit">Send my public key</button>',
        "<h2>No key?</h2>",
        '<p>Make one with <a href="https://age-encryption.org">age</a>: <code>age-keygen -o my-key.txt</code>, then '
        "paste the line that starts with <code>age1</code>. Keep <code>my-key.txt</code> safe and private: it is "
        "what opens your share one day.</p>",
        f"<p>Or ask {OWNER} to print you a <strong>key card</strong>: a sheet of paper with your key on it, to keep "
        "in a safe place. Then you need not do anything here.</p>",
        '<p class="muted">Never paste a secret key (it starts with AGE-SECRET-KEY). This link works once.</p>',
    ):
        assert line in page, line
    refused = pages.client.post(enrol, data={"recipient": "hello"}).text
    assert _alert(BAD_KEY % {"shown": "'hello'"}) in refused and ">hello</textarea>" in refused

    identity = keys.generate_identity()
    done = pages.client.post(enrol, data={"recipient": keys.public_of(identity).text}).text
    assert "<title>Key received — Baton</title>" in done and "<h1>Thank you, Ana</h1>" in done
    assert ("<p>Your public key is recorded. One last step proves it works: a short code has been sealed to your "
            "key.</p>") in done
    [check] = re.findall(r'<p><a href="http://baton\.test(/k/[^"]+)">Open the key check</a> \(we also e-mailed you '
                         r"the link\)\.</p>", done)
    page = pages.client.get(check).text
    for line in (
        "<title>Key check — Baton</title>",
        "<h1>Key check for Ana</h1>",
        "<p>A short code was sealed to your key. Open it to prove your key still works — it opens nothing else.</p>",
        f'<li><a href="{check}/challenge.age" download="baton-key-check.age">Download the sealed code</a>.</li>',
        "<li>Open it with your key: <code>age -d -i my-key.txt baton-key-check.age</code> (an SSH key: "
        "<code>-i ~/.ssh/id_ed25519</code>).</li>",
        "<li>Type the code you see (like <code>ABCD-EFGH-JKMN</code>) here:</li>",
        '<label for="code">Code</label> <input id="code" name="code" autocomplete="off" value="" required>',
        '<button type="submit">Check</button>',
    ):
        assert line in page, line
    wrong = pages.client.post(check, data={"code": "AAAA-BBBB-CCCC"}).text
    assert _alert(WRONG_CODE % {"attempt": 1}) in wrong
    right = pages.client.post(check, data={"code": pages.code(check, identity)}).text
    assert "<title>Key verified — Baton</title>" in right and "<h1>Your key works</h1>" in right
    assert ("<p>Thank you, Ana. Keep your key safe; you may be asked to check it again from time to time.</p>"
            in right)

    used = pages.client.post(check, data={"code": "AAAA-BBBB-CCCC"})
    assert used.status_code == 410 and '<html lang="en">' in used.text
    for line in (
        "<title>This link cannot be used — Baton</title>",
        "<h1>This link was already used</h1>",
        # the moment as English writes it (no page shows a raw ISO moment, in English neither)
        f"<p>This link was already used, at {i18n.formatted_date(pages.clock.now(), 'long', 'en')}. Each link works "
        "once.</p>",
        '<p class="muted">If you still need to do this, ask the person who sent you this link for a new one.</p>',
    ):
        assert line in used.text, line
    assert "baton checkin" not in used.text  # the owner's hint is for the owner's links


def test_an_english_holder_s_download_page_is_unchanged(pages: Pages) -> None:
    page = pages.client.get(pages.released("en")).text
    for line in (
        '<html lang="en">',
        "<title>Your release package — Baton</title>",
        "<h1>Hello Ana</h1>",
        f"<p>Your package for the part <strong>operations</strong> of the vault of {OWNER} is ready.</p>",
        "<p>It holds your sealed share and the instructions (RECOVER.html) to open the vault together with the "
        "other holders: 1 of 1 (holders).</p>",
        '<form method="post"><button type="submit">Download the package (.zip)</button></form>',
    ):
        assert line in page, line
    for line in (  # how many times the link works, until when, and that Baton (not the owner) sends a new one
        '<p class="muted">The link works 3 times, until ',
        "Save the file somewhere safe before you open it. If it runs out, its page lets you ask Baton for a new "
        "link: the owner cannot send one.</p>",
    ):
        assert line in page, line


def test_an_unknown_link_without_a_browser_language_is_refused_in_english_as_before(pages: Pages) -> None:
    response = pages.client.get("/k/not-a-real-token")
    assert response.status_code == 404 and '<html lang="en">' in response.text
    assert "<h1>This link cannot be used</h1>" in response.text
    assert "<p>This link is not known. Check that it was copied whole.</p>" in response.text
