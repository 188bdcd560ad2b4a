"""An Indonesian holder whose download link is spent gets a new one in a real browser, without the owner: the
spent link's page, the key check opened with ``age``, the new link by e-mail, the same package."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from browser_support import Site, Visit, heading, vault_split_to_ana

from tests_support import needs_tools, tool
from vault import challenge

pytestmark = needs_tools("age", "age-keygen")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}


def test_an_indonesian_holder_gets_a_new_link_for_a_spent_one(serve: Callable[..., Site], visit: Visit,
                                                               tmp_path: Path) -> None:
    """Spent link → "Dapatkan tautan unduhan baru" → key check → the code → a new link by e-mail → the package."""
    site = serve(POLICY)
    page = visit.page
    key_file = vault_split_to_ana(site, tmp_path, "restart nginx", language="id")
    site.run_worker()
    site.clock.advance(days=33)
    [release_mail] = [m for m in site.run_worker() if m.purpose == "release"]
    link = site.link(release_mail, "d")
    first = page.request.post(link)
    assert first.status == 200
    package = first.body()
    for _ in range(site.runtime.settings.download_uses - 1):
        assert page.request.post(link).status == 200

    page.goto(link)
    assert heading(page) == "Tautan ini sudah pernah digunakan"
    assert page.locator("html").get_attribute("lang") == "id"
    visit.shot("spent-link", phone=True)
    page.get_by_role("link", name="Dapatkan tautan unduhan baru").click()
    assert heading(page) == "Tautan unduhan baru untuk Ana"
    assert page.get_by_text("Tautan baru dikirim ke alamat e-mail Anda (a…@example.org).").is_visible()
    visit.shot("new-link-offer")
    visit.shot("new-link-offer", phone=True)

    page.get_by_role("button", name="Mulai pemeriksaan kunci").click()
    assert heading(page) == "Buktikan bahwa Anda memegang kunci Anda"
    assert re.search(r"/d/[^/]+/reissue/\d+$", page.url)
    sealed = page.get_by_label("Kode yang disegel").input_value()
    assert sealed.startswith("-----BEGIN AGE ENCRYPTED FILE-----")
    visit.shot("key-check")
    visit.shot("key-check", phone=True)

    with page.expect_download() as downloading:  # the same sealed code as a file
        page.get_by_role("link", name="Unduh kode yang disegel").click()
    saved = tmp_path / "baton-key-check.age"
    downloading.value.save_as(saved)
    assert saved.read_text() == sealed
    opened = subprocess.run([tool("age"), "-d", "-i", str(key_file), str(saved)], capture_output=True, text=True,
                            check=True)
    code = challenge.code_from(opened.stdout.encode())  # its label is in the holder's language

    page.get_by_label("Kode", exact=True).fill("AAAA-BBBB-CCCC")
    page.get_by_role("button", name="Kirimi saya tautan baru").click()
    assert page.get_by_role("alert").inner_text().startswith("Kode tidak cocok (percobaan ke-1 dari 5)")
    visit.shot("wrong-code", phone=True)
    page.get_by_label("Kode", exact=True).fill(code)
    page.get_by_role("button", name="Kirimi saya tautan baru").click()
    assert heading(page) == "Kunci Anda berfungsi: tautan baru sedang dikirim"
    assert "/d/" not in page.content()
    visit.shot("new-link-sent")
    visit.shot("new-link-sent", phone=True)

    [renewed] = [m for m in site.run_worker() if m.purpose == "reissue"]
    assert renewed.recipient == "ana@example.org"
    assert renewed.subject == f"{site.owner_email}: tautan unduhan Baton Anda yang baru"
    new = site.link(renewed, "d")
    assert new != link
    page.goto(new)
    assert heading(page) == "Halo Ana"
    with page.expect_download() as downloading:
        page.get_by_role("button").click()
    again = tmp_path / "again.zip"
    downloading.value.save_as(again)
    assert again.read_bytes() == package  # byte for byte the package of the release
