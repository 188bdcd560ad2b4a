"""Helpers of the browser tests: the site under test, a person's tab and its camera."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pyotp

from baton.cli.ownervault import OwnerVault
from baton.jobs.outbox import Message
from baton.jobs.worker import Worker
from baton.runtime import Runtime
from baton.testing import FakeClock, RecordingSender
from tests_support import tool
from vault import keys
from vault.entries import entry_from_dict
from vault.shares import policy_from_dict

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Response

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}  # an iPhone 12–15 sized screen, in CSS pixels
OWNER_EMAIL = "owner@example.org"
OWNER_PASSWORD = "correct horse battery"


def heading(page: Page) -> str:
    """The page's first-level heading, as shown."""
    return page.get_by_role("heading", level=1).inner_text().strip()


class Camera:
    """Full-page screenshots of one test: ``artifacts/screenshots/<test>/<nn>-<step>.png``.

    A page wider than the phone's screen (something that does not wrap) is noted in
    ``too-wide-on-phone.txt`` beside the screenshots, for a person to look at.
    """

    def __init__(self, page: Page, folder: Path) -> None:
        self.page, self.folder, self.count = page, folder, 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def shot(self, step: str, *, phone: bool = False) -> Path:
        """The page as it is now; ``phone`` takes it at 390×844 and then goes back to the desktop size."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}{'-phone' if phone else ''}.png"
        if phone:
            self.page.set_viewport_size(PHONE)
        try:
            # Two frames: the new size laid out and painted (else a scrolling box may come out blank).
            self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            if phone:
                wide = self.page.evaluate("document.documentElement.scrollWidth")
                if wide > PHONE["width"]:
                    with open(self.folder / "too-wide-on-phone.txt", "a", encoding="utf-8") as notes:
                        notes.write(f"{path.name}: {wide} CSS pixels wide on a {PHONE['width']} screen\n")
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            if phone:
                self.page.set_viewport_size(DESKTOP)
        return path


@dataclass
class Visit:
    """A person's browser tab, with what went wrong in it (console errors, failed loads, CSP reports)."""

    page: Page
    camera: Camera
    problems: list[str] = field(default_factory=list)

    def shot(self, step: str, *, phone: bool = False) -> Path:
        return self.camera.shot(step, phone=phone)

    def console(self, message: ConsoleMessage) -> None:
        # A page answered with 4xx (a used link: 410) is logged as a failed load: its status is
        # what the tests assert; the resources it asks for are checked in ``response``.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def response(self, response: Response) -> None:
        request = response.request
        # Browsers ask for /favicon.ico on their own; the pages name no icon. A page may answer
        # 4xx on purpose (a used link: 410; a mistake in a form: 422), but never 5xx, and a form
        # of the service's own page is never refused as coming from elsewhere (403).
        if response.status >= 500 or (request.method == "POST" and response.status == 403) or (
                response.status >= 400 and request.resource_type != "document"
                and not response.url.endswith("/favicon.ico")):
            self.problems.append(f"{response.status} for {request.method} {request.resource_type} {response.url}")


@dataclass
class Site:
    """The service on 127.0.0.1 with one owner; the worker delivers into ``sender`` on demand."""

    url: str
    runtime: Runtime
    clock: FakeClock
    owner_id: int
    api_token: str
    totp_secret: str | None
    sender: RecordingSender
    worker: Worker
    api: httpx.Client
    owner_email: str = OWNER_EMAIL
    password: str = OWNER_PASSWORD
    _seen: int = 0

    def run_worker(self) -> list[Message]:
        """Run the due work now (switches, packages, delivery); the messages sent by this run."""
        self.worker.run_once()
        new = self.sender.sent[self._seen:]
        self._seen = len(self.sender.sent)
        return new

    def link(self, message: Message, kind: str) -> str:
        """The one link of path ``/{kind}/…`` in a message as sent (the stored copy has it redacted)."""
        found = set(re.findall(rf"{re.escape(self.url)}/{kind}/[A-Za-z0-9_\-]+", message.body_text))
        assert len(found) == 1, (message.purpose, message.recipient, found)
        return found.pop()

    def totp_code(self) -> str:
        """The owner's TOTP code at the service's (fake) time, for the sign-in page."""
        assert self.totp_secret is not None
        return pyotp.TOTP(self.totp_secret).at(self.clock.now())




def vault_split_to_ana(site: Site, tmp: Path, runbook: str, language: str = "en") -> Path:
    """The owner's vault with an ``operations`` compartment (a runbook note) split 1 of 1 to ana, who reads
    ``language``; returns ana's key file."""
    made = site.api.post("/api/people", json={"name": "ana", "display_name": "Ana", "email": "ana@example.org",
                                              "role": "heir", "language": language})
    assert made.status_code == 201, made.text
    key_file = tmp / "ana-key.txt"
    subprocess.run([tool("age-keygen"), "-o", str(key_file)], check=True, capture_output=True)
    [public] = re.findall(r"age1\w+", key_file.read_text())
    assert site.api.put("/api/people/ana/key", json={"recipient": public}).status_code == 200
    owner_key = keys.generate_identity()  # kept in memory: no passphrase file, no scrypt
    assert site.api.put("/api/vault/key", json={"recipient": keys.public_of(owner_key).text}).status_code == 200
    owner = OwnerVault(site.api, tmp / "unused.age", lambda: "", _identity=owner_key)
    owner.ensure_compartment("operations")
    version, opened = owner.open("operations")
    opened.put(entry_from_dict({"id": "runbook", "kind": "note", "title": "Runbook", "fields": {"text": runbook},
                                "updated_at": "2026-01-01"}))
    owner.save("operations", version, opened)
    owner.split("operations", policy_from_dict({"threshold": 1, "holders": ["ana"]}))
    return key_file
