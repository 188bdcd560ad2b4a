"""A holder without a terminal: the enrolment page makes her key in the browser, she saves it, and the key
check opens in the browser with that file (or the card's text) — the key never leaves the browser."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import segno
from accessibility import assert_accessible
from browser_support import Site, Visit, heading, vault_split_to_ana

from tests_support import needs_tools, tool

pytestmark = needs_tools("age")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{58}")


class Requests:
    """Every request the tab sent: method, address and body (the test looks for keys in them)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, request: object) -> None:
        body = request.post_data_buffer  # type: ignore[attr-defined]
        self.seen.append((request.method, request.url,  # type: ignore[attr-defined]
                          body.decode("utf-8", "replace") if body else ""))

    def text(self) -> str:
        return "\n".join(" ".join(item) for item in self.seen)


def enrol_with_a_key_made_here(site: Site, visit: Visit, tmp_path: Path, language: str = "en") -> tuple[Path, str]:
    """Ana enrols with a key her browser makes; her saved key file and the public key posted."""
    page = visit.page
    made = site.api.post("/api/people", json={"name": "ana", "display_name": "Ana", "email": "ana@example.org",
                                              "role": "heir", "language": language})
    assert made.status_code == 201, made.text
    [invitation] = site.run_worker()
    page.goto(site.link(invitation, "e"))
    visit.shot("enrol-with-script")
    page.locator("#make-key").click()
    public = page.locator("#recipient").input_value()
    assert re.fullmatch(r"age1[0-9a-z]{58}", public)
    assert page.locator("#saved").is_disabled()
    visit.shot("key-made", phone=True)
    with page.expect_download() as downloading:
        page.locator("#save-key").click()
    download = downloading.value
    assert download.suggested_filename == "baton-key-ana.txt"
    key_file = tmp_path / download.suggested_filename
    download.save_as(key_file)
    page.locator("#saved").check()
    page.get_by_role("button", name="Send my public key").click()
    return key_file, public


def test_a_key_made_in_the_browser_is_saved_and_only_its_public_key_is_posted(
        serve: Callable[..., Site], visit: Visit, tmp_path: Path) -> None:
    """The request log holds the public key only; the saved file opens the key check with the real age CLI."""
    site = serve(POLICY)
    log = Requests()
    visit.page.on("request", log)
    key_file, public = enrol_with_a_key_made_here(site, visit, tmp_path)
    assert heading(visit.page) == "Thank you, Ana"
    [ana] = site.api.get("/api/people").json()
    assert (ana["recipient"], ana["key"], ana["key_source"]) == (public, "unverified", "enrolled")
    text = key_file.read_text()
    [secret] = SECRET.findall(text)
    assert f"# public key: {public}\n" in text
    posts = [body for method, _url, body in log.seen if method == "POST"]
    assert len(posts) == 1 and f"recipient={public}" in posts[0]
    assert secret not in log.text() and "AGE-SECRET-KEY" not in log.text()
    # The real age opens what Baton sealed to the key (the key check's challenge), with the saved file.
    visit.page.get_by_role("link", name="Open the key check").click()
    challenge = visit.page.request.get(visit.page.url + "/challenge.age").body()
    (tmp_path / "check.age").write_bytes(challenge)
    opened = subprocess.run([tool("age"), "-d", "-i", str(key_file), str(tmp_path / "check.age")],
                            capture_output=True, text=True, check=True)
    assert "Your code: " in opened.stdout


def test_the_enrolment_form_waits_until_the_key_was_saved(serve: Callable[..., Site], visit: Visit) -> None:
    """Made but not saved: the confirmation cannot be ticked and the form is not sent."""
    site = serve(POLICY)
    page = visit.page
    site.api.post("/api/people", json={"name": "ana", "display_name": "Ana", "email": "ana@example.org",
                                       "role": "heir"})
    [invitation] = site.run_worker()
    page.goto(site.link(invitation, "e"))
    page.locator("#make-key").click()
    page.get_by_role("button", name="Send my public key").click()
    assert heading(page) == "Hello Ana"
    assert page.get_by_role("alert").inner_text() == ("Save your key file or print your key card first, then tick "
                                                      "the box to confirm.")
    assert site.api.get("/api/people").json()[0]["key"] == "none"


@pytest.mark.parametrize("given", ["file", "card-text", "qr-photo"])
def test_the_key_check_opens_in_the_browser_with_the_key_made_there(
        serve: Callable[..., Site], visit: Visit, tmp_path: Path, given: str) -> None:
    """The key file (or the card's secret line typed in) opens the sealed code; the code fills in and passes."""
    site = serve(POLICY)
    page = visit.page
    key_file, _public = enrol_with_a_key_made_here(site, visit, tmp_path)
    log = Requests()
    page.on("request", log)
    page.get_by_role("link", name="Open the key check").click()
    assert heading(page) == "Key check for Ana"
    if given == "file":
        page.locator("#key-file").set_input_files(str(key_file))
    elif given == "qr-photo":  # a picture of the card's QR code, as a phone's camera gives it
        [secret] = SECRET.findall(key_file.read_text())
        photo = tmp_path / "card.png"
        segno.make(secret, error="m").save(str(photo), scale=8, border=4)
        page.locator("#key-photo").set_input_files(str(photo))
    else:
        [secret] = SECRET.findall(key_file.read_text())
        page.locator("#key-text").fill(" ".join(secret[i:i + 8].lower() for i in range(0, len(secret), 8)))
    page.get_by_role("button", name="Open the code with my key").click()
    page.get_by_text("Done: the code is filled in below.").wait_for()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", page.locator("#code").input_value())
    visit.shot(f"key-check-filled-{given}", phone=True)
    page.get_by_role("button", name="Check").click()
    assert heading(page) == "Your key works"
    assert site.api.get("/api/people").json()[0]["key"] == "verified"
    assert "AGE-SECRET-KEY" not in log.text().upper()


def test_a_wrong_key_is_said_plainly_and_fills_nothing(serve: Callable[..., Site], visit: Visit,
                                                         tmp_path: Path) -> None:
    """Another key: the page says so, in words, and the code stays empty."""
    site = serve(POLICY)
    page = visit.page
    enrol_with_a_key_made_here(site, visit, tmp_path)
    other = subprocess.run([tool("age-keygen")], capture_output=True, text=True, check=True).stdout
    page.get_by_role("link", name="Open the key check").click()
    page.locator("#key-text").fill(other)
    page.get_by_role("button", name="Open the code with my key").click()
    assert page.get_by_role("alert").inner_text() == ("This key does not open it. Use the key you enrolled (the one "
                                                      "on your key card or in your key file).")
    assert page.locator("#code").input_value() == ""


@pytest.mark.parametrize(("language", "make", "saved_note"), [
    ("id", "Buatkan kunci untuk saya", "Berkas kunci telah disimpan"),
    ("pt", "Criar uma chave para mim", "O arquivo da chave foi salvo"),
    ("pt-BR", "Criar uma chave para mim", "O arquivo da chave foi salvo"),
    ("pt-PT", "Criar uma chave para mim", "O ficheiro da chave foi guardado"),
    ("it", "Crea una chiave per me", "Il file della chiave è stato salvato"),
])
def test_the_key_is_made_and_saved_in_the_holders_language(serve: Callable[..., Site], visit: Visit, tmp_path: Path,
                                                           language: str, make: str, saved_note: str) -> None:
    """The buttons, the news the script gives and the key file's comment speak the holder's language."""
    site = serve(POLICY)
    page = visit.page
    site.api.post("/api/people", json={"name": "ana", "display_name": "Ana", "email": "ana@example.org",
                                       "role": "heir", "language": language})
    [invitation] = site.run_worker()
    page.goto(site.link(invitation, "e"))
    page.get_by_role("button", name=make).click()
    with page.expect_download() as downloading:
        page.locator("#save-key").click()
    assert page.get_by_role("status").inner_text().startswith(saved_note)
    key_file = tmp_path / "key.txt"
    downloading.value.save_as(key_file)
    comment = key_file.read_text().splitlines()[0]
    assert comment.startswith("# ") and "Baton" in comment and "made in your browser" not in comment
    visit.shot(f"key-made-{language}", phone=True)


def test_the_enrolment_and_key_check_pages_have_no_serious_accessibility_problem(
        serve: Callable[..., Site], visit: Visit, tmp_path: Path) -> None:
    """axe-core on the enrolment page (before and after the key is made) and on the key check with its key input."""
    site = serve(POLICY)
    page = visit.page
    site.api.post("/api/people", json={"name": "ana", "display_name": "Ana", "email": "ana@example.org",
                                       "role": "heir"})
    [invitation] = site.run_worker()
    page.goto(site.link(invitation, "e"))
    assert_accessible(page)
    page.locator("#make-key").click()
    page.locator("#made").wait_for()
    assert_accessible(page)
    with page.expect_download():
        page.locator("#save-key").click()
    page.locator("#saved").check()
    page.get_by_role("button", name="Send my public key").click()
    page.get_by_role("link", name="Open the key check").click()
    assert_accessible(page)
    page.get_by_role("button", name="Open the code with my key").click()  # no key given: the alert
    page.get_by_role("alert").wait_for()
    assert_accessible(page)


def test_after_a_release_the_new_link_key_check_opens_in_the_browser(serve: Callable[..., Site], visit: Visit,
                                                                      tmp_path: Path) -> None:
    """A spent download link's key check (armored on the page): the key file opens it here, a new link follows."""
    site = serve(POLICY)
    page = visit.page
    key_file = vault_split_to_ana(site, tmp_path, "restart nginx", language="pt")
    site.run_worker()
    site.clock.advance(days=33)
    [release_mail] = [m for m in site.run_worker() if m.purpose == "release"]
    link = site.link(release_mail, "d")
    for _ in range(site.runtime.settings.download_uses):
        assert page.request.post(link).status == 200
    page.goto(f"{link}/reissue")
    page.locator("main form button[type=submit]").click()
    assert re.search(r"/d/[^/]+/reissue/\d+$", page.url)
    page.locator("#key-file").set_input_files(str(key_file))
    page.locator("#open-here").click()
    page.get_by_text("Pronto: o código está preenchido abaixo.").wait_for()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", page.locator("#code").input_value())
    assert_accessible(page)
    visit.shot("reissue-check-filled", phone=True)
    page.locator("form:has(#code) button[type=submit]").click()
    page.locator("h1").wait_for()
    [renewed] = [m for m in site.run_worker() if m.purpose == "reissue"]
    assert renewed.recipient == "ana@example.org" and site.link(renewed, "d") != link
