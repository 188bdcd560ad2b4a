"""A holder downloads their release package in a real browser, and it is the real package: it opens the vault."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from browser_support import Site, Visit, heading, vault_split_to_ana

from tests_support import needs_tools
from vault import keys
from vault.package import Package
from vault.recovery import recover, write_opened

pytestmark = needs_tools("age-keygen")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
RUNBOOK = "restart nginx, then php-fpm"


def test_after_a_drill_and_a_release_the_holder_downloads_the_real_package(serve: Callable[..., Site],
                                                                          visit: Visit, tmp_path: Path) -> None:
    """The /d/ page's button downloads the zip; it verifies and opens the vault with ana's key alone."""
    site = serve(POLICY)
    page = visit.page
    key_file = vault_split_to_ana(site, tmp_path, RUNBOOK)
    site.run_worker()  # ana's enrolment invitation

    drill = site.api.post("/api/drill", json={})  # practice first: packages for the owner, nothing to ana
    assert drill.status_code == 200, drill.text
    assert [p["holder"] for p in drill.json()["packages"]] == ["ana"]
    assert {m.recipient for m in site.run_worker()} == {site.owner_email}

    site.clock.advance(days=33)  # no check-in: the deadline and the grace pass, the switch fires
    [release_mail] = [m for m in site.run_worker() if m.purpose == "release"]
    assert release_mail.recipient == "ana@example.org"
    link = site.link(release_mail, "d")

    page.goto(link)
    assert heading(page) == "Hello Ana"
    assert page.get_by_text(f"Your package for the part operations of the vault of {site.owner_email} is "
                            "ready.").is_visible()
    visit.shot("download-page")
    visit.shot("download-page", phone=True)
    page.reload()  # looking twice spends nothing
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download the package (.zip)").click()
    download = downloading.value
    assert download.failure() is None
    assert download.suggested_filename == "baton-operations-ana.zip"
    saved = tmp_path / "downloads" / download.suggested_filename
    download.save_as(saved)
    visit.shot("after-download")

    with zipfile.ZipFile(saved) as archive:
        names = {name.split("/", 1)[1] for name in archive.namelist()}
    assert {"manifest.json", "share-ana.age", "compartment-operations.age", "SHA256SUMS", "SHA256SUMS.sig",
            "RECOVER.md", "RECOVER.html"} <= names
    package = Package(saved)
    assert package.manifest["drill"] is False
    [fingerprint] = re.findall(r"^    ([0-9a-f]{64})$", release_mail.body_text, flags=re.M)  # from the e-mail
    report = recover([package], keys.parse_identities(key_file.read_bytes()), fingerprint=fingerprint)
    assert [(r.compartment, r.holders) for r in report.opened] == [("operations", ["ana"])]
    opened = write_opened(report.opened[0], tmp_path / "opened")
    assert RUNBOOK in (opened / "README.md").read_text()

    with zipfile.ZipFile(saved) as archive:  # the instructions, as the holder opens them in the browser
        archive.extractall(tmp_path / "unzipped")
    [instructions] = (tmp_path / "unzipped").glob("*/RECOVER.html")
    page.goto(instructions.as_uri())
    visit.shot("recover-instructions")
    visit.shot("recover-instructions", phone=True)

    for _ in range(2):  # the link works three times (a broken download may be tried again), then it is spent
        assert page.request.post(link).status == 200
    page.goto(link)  # the link again: spent
    assert heading(page) == "This link was already used"
    visit.shot("download-link-used", phone=True)
