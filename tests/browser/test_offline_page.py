"""The offline page in every package (open.html), opened from file:// with the browser offline: it checks the
package, opens the holder's share with their key, combines the shares and opens the compartment, byte for byte
as the terminal path does; it refuses too few shares, a share given twice, and any altered byte."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import segno
from accessibility import assert_accessible
from browser_support import Site, Visit
from offline_support import ATTACHMENT, COMPARTMENTS, PASSWORD, POLICY, Release, released

from tests_support import needs_tools
from vault import keys, signature
from vault.package import Package
from vault.recovery import recover

pytestmark = needs_tools("age", "age-keygen", "ssh-keygen")


@pytest.fixture
def release(serve: Callable[..., Site], tmp_path: Path) -> Release:
    return released(serve(POLICY), tmp_path)


@pytest.fixture
def offline(visit: Visit) -> Iterator[Visit]:
    """The tab with its browser context offline: the page must need no network at all."""
    visit.page.context.set_offline(True)
    requests: list[str] = []
    visit.page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "blob:", "data:"))
                  else None)
    yield visit
    assert requests == [], "the offline page asked for something over the network"


def _status(visit: Visit, box: str, kind: str | None = None) -> str:
    """The text of a status box once it says something final (``kind``: ok or error)."""
    from playwright.sync_api import expect  # here: without Playwright the fixtures skip (or fail) first
    locator = visit.page.locator(f"#{box}")
    if kind:
        expect(locator).to_have_attribute("data-kind", re.compile("^(ok|error)$"), timeout=60_000)
        assert locator.get_attribute("data-kind") == kind, locator.inner_text()
    return locator.inner_text()


def _pick(visit: Visit, folder: Path) -> str:
    from playwright.sync_api import expect
    visit.page.goto((folder / "open.html").as_uri())
    visit.page.locator("#pick-files").set_input_files(sorted(p for p in folder.iterdir()))
    expect(visit.page.locator("#package-status")).to_have_attribute("data-kind", re.compile("^(ok|error)$"),
                                                                   timeout=60_000)
    return visit.page.locator("#package-status").inner_text()


def _opened(visit: Visit, release: Release, compartment: str, tmp: Path) -> None:
    """The compartment shown: entries as the owner wrote them; the attachment and the whole zip byte for byte."""
    page = visit.page
    assert _status(visit, "vault-status", "ok") == f"The compartment {compartment} is open."
    cards = page.locator("#vault article")
    assert cards.count() == 3
    registrar = cards.filter(has_text=f"Registrar X ({compartment})")
    assert registrar.locator("dd code").all_inner_texts() == ["X", "reseller", PASSWORD]
    runbook = cards.filter(has_text="Runbook").locator("pre").inner_text()
    assert runbook == f"restart nginx\nthen php-fpm ({compartment})"
    with page.expect_download() as saving:
        page.get_by_role("link", name="Save backup.key").click()
    saving.value.save_as(tmp / f"{compartment}-backup.key")
    assert (tmp / f"{compartment}-backup.key").read_bytes() == ATTACHMENT
    with page.expect_download() as saving:
        page.get_by_role("link", name=f"Save {compartment}.zip").click()
    whole = tmp / f"{compartment}.zip"
    saving.value.save_as(whole)
    terminal = recover([Package(release.zips[(compartment, h)]) for h in ("ana", "carla")],
                       [i for h in ("ana", "carla") for i in keys.parse_identities(release.keys[h].read_bytes())],
                       fingerprint=release.fingerprint)
    assert whole.read_bytes() == terminal.opened[0].plaintext  # what `age -d` writes on the terminal path
    with zipfile.ZipFile(whole) as archive:
        doc = json.loads(archive.read("vault.json"))
    assert sorted((e["id"], e["title"], e["fields"]) for e in doc["entries"]) == sorted(
        (e["id"], e["title"], e["fields"]) for e in release.owner_entries[compartment])


def test_a_holder_with_an_age_key_file_opens_both_compartments_with_typed_words(release: Release, offline: Visit,
                                                                              tmp_path: Path) -> None:
    """Ana picks her package, compares the fingerprint, opens her share with her key file, types Bruno's words
    (he opened his share with his SSH key in a terminal) and opens each compartment."""
    page = offline.page
    for compartment in COMPARTMENTS:
        folder = release.packages[(compartment, "ana")]
        if compartment == COMPARTMENTS[0]:
            assert _pick(offline, folder) == (
                "The package is whole and its signature is valid. Now compare the fingerprint below.")
        else:  # the folder itself, as a phone's or a computer's folder picker gives it
            page.goto((folder / "open.html").as_uri())
            page.locator("#pick-folder").set_input_files(folder)
            assert _status(offline, "package-status", "ok").startswith("The package is whole")
        assert page.locator("#fingerprint").inner_text() == release.fingerprint
        page.locator("#compare-fp").fill(" ".join(release.fingerprint[i:i + 4] for i in range(0, 64, 4)).upper())
        assert _status(offline, "compare-result", "ok") == (
            "Same fingerprint: this package was made by your Baton service.")
        if compartment == COMPARTMENTS[0]:
            offline.shot("package-checked")
            offline.shot("package-checked", phone=True)
        page.locator("#key-file").set_input_files(release.keys["ana"])
        page.get_by_role("button", name="Open my share").click()
        assert _status(offline, "share-status", "ok") == (
            "Your share is open (1 share). Now add the other holders' shares.")
        [words] = [line for line in release.opened_share(compartment, "bruno").splitlines()
                   if line and not line.startswith("#")]
        page.locator("#share-words").fill(words.upper().replace(" ", "  "))
        assert _status(offline, "word-check") == "33 words, all of them share words. A share has 20 or 33 words."
        page.get_by_role("button", name="Add this share").click()
        assert _status(offline, "others-status", "ok") == "Typed share 1 added."
        page.get_by_role("button", name="Combine the shares and open").click()
        _opened(offline, release, compartment, tmp_path)
        offline.shot(f"opened-{compartment}")
    offline.shot("opened", phone=True)


def test_a_key_card_holder_opens_both_compartments_with_an_opened_share_file(release: Release, offline: Visit,
                                                                            tmp_path: Path) -> None:
    """Carla types the secret line of her key card (then gives a photo of its QR code), adds Ana's opened share
    file, and picks her package's .zip whole."""
    page = offline.page
    for compartment in COMPARTMENTS:
        folder = release.packages[(compartment, "carla")]
        page.goto((folder / "open.html").as_uri())
        page.locator("#pick-files").set_input_files(release.zips[(compartment, "carla")])
        assert _status(offline, "package-status", "ok").startswith("The package is whole")
        secret = release.card_secret()
        if compartment == COMPARTMENTS[0]:  # typed from the card, in groups and lower case
            page.locator("#key-text").fill(" ".join(secret[i:i + 8] for i in range(0, len(secret), 8)).lower())
        else:  # a photo of the card's QR code (as the key card prints it: segno, error level M)
            photo = tmp_path / "key-card.png"
            segno.make(secret, error="m").save(str(photo), scale=6, border=4)
            page.locator("#key-photo").set_input_files(photo)
        page.get_by_role("button", name="Open my share").click()
        assert _status(offline, "share-status", "ok").startswith("Your share is open")
        shared = tmp_path / f"ana-{compartment}.txt"
        shared.write_text(release.opened_share(compartment, "ana"))
        page.locator("#other-files").set_input_files(shared)
        assert _status(offline, "others-status", "ok") == f"Share 1 in {shared.name} added."
        page.get_by_role("button", name="Combine the shares and open").click()
        _opened(offline, release, compartment, tmp_path)


def test_an_older_fingerprint_is_followed_through_the_signed_key_change(serve: Callable[..., Site], offline: Visit,
                                                                        tmp_path: Path) -> None:
    """After the deployment replaced its key, the fingerprint of the old key (from earlier e-mails) is accepted
    through signing-keys.json, where both keys signed the change; a stranger's fingerprint is refused."""
    site = serve(POLICY)
    old = signature.signer_fingerprint(site.runtime.service.signer)
    release = released(site, tmp_path, rotate_key=True)
    assert release.fingerprint != old
    page = offline.page
    assert _pick(offline, release.packages[("operations", "ana")]).startswith("The package is whole")
    assert page.locator("#fingerprint").inner_text() == release.fingerprint
    page.locator("#compare-fp").fill(old)
    assert _status(offline, "compare-result", "ok").startswith("Baton replaced its signing key on ")
    page.locator("#compare-fp").fill("ab" * 32)
    assert _status(offline, "compare-result", "error") == (
        "The fingerprints differ. Stop: this package was not made by your Baton service, whatever it says.")


def test_an_ssh_key_is_sent_to_the_terminal_path(release: Release, offline: Visit) -> None:
    """age-encryption (typage) has no ssh-ed25519 identity: the page says so and where to go."""
    page = offline.page
    assert _pick(offline, release.packages[("operations", "bruno")]).startswith("The package is whole")
    page.locator("#key-file").set_input_files(release.keys["bruno"])
    page.get_by_role("button", name="Open my share").click()
    assert _status(offline, "share-status", "error") == (
        "This is an SSH key: this page cannot use SSH keys. Open your share in a terminal (step 2 of "
        "RECOVER.html), then add it in step 3.")


def test_one_share_short_a_share_given_twice_and_a_wrong_word_are_told_plainly(release: Release,
                                                                              offline: Visit) -> None:
    page = offline.page
    _pick(offline, release.packages[("operations", "ana")])
    page.locator("#key-file").set_input_files(release.keys["ana"])
    page.get_by_role("button", name="Open my share").click()
    _status(offline, "share-status", "ok")
    page.get_by_role("button", name="Combine the shares and open").click()
    assert _status(offline, "vault-status", "error") == (
        "Not enough shares yet: 2 are needed, 1 given. Ask another holder for their share.")
    [mine] = [line for line in release.opened_share("operations", "ana").splitlines()
              if line and not line.startswith("#")]
    page.locator("#share-words").fill(mine)
    page.get_by_role("button", name="Add this share").click()
    assert _status(offline, "others-status", "error") == (
        "This share was already given (Your share 1): the same share counts only once. Ask another holder for "
        "theirs.")
    wrong = mine.split()
    wrong[4] = "banana"
    page.locator("#share-words").fill(" ".join(wrong))
    assert _status(offline, "word-check", "error") == "Word 5 (“banana”) is not a share word: check its spelling."
    swapped = mine.split()
    swapped[5], swapped[6] = swapped[6], swapped[5]
    page.locator("#share-words").fill(" ".join(swapped))
    page.get_by_role("button", name="Add this share").click()
    assert _status(offline, "others-status", "error") == (
        "Typed share 1: the words do not fit together. One word is wrong or two are swapped: check each word "
        "again.")
    offline.shot("share-refused")
    page.get_by_role("button", name="Combine the shares and open").click()
    assert _status(offline, "vault-status", "error").startswith("Not enough shares yet: 2 are needed, 1 given.")


def test_a_flipped_byte_in_any_file_is_refused(release: Release, offline: Visit, tmp_path: Path) -> None:
    """Every file of the package, one byte changed: the page refuses the package before asking for a key."""
    original = release.packages[("operations", "ana")]
    names = sorted(p.name for p in original.iterdir())
    assert {"open.html", "RECOVER.html", "manifest.json", "SHA256SUMS", "SHA256SUMS.sig", "signing-key.pem",
            "share-ana.age", "compartment-operations.age", "release-key-operations.age"} <= set(names)
    page_source = original / "open.html"
    for name in names:
        folder = tmp_path / f"flipped-{name}"
        shutil.copytree(original, folder)
        data = bytearray((folder / name).read_bytes())
        at = len(data) // 2
        data[at] ^= 0x01
        (folder / name).write_bytes(bytes(data))
        shutil.copyfile(page_source, tmp_path / "open.html")  # the page itself from the untouched package
        offline.page.goto((tmp_path / "open.html").as_uri())
        offline.page.locator("#pick-files").set_input_files(sorted(folder.iterdir()))
        message = _status(offline, "package-status", "error")
        assert "the package was altered or damaged. Do not use it; ask for it again." in message, (name, message)
        assert offline.page.locator("#step-key").is_hidden()


def test_the_offline_page_has_no_serious_accessibility_violations(release: Release, offline: Visit) -> None:
    """axe-core on each step of the page, as a holder sees it, in English and laid out for a phone."""
    page = offline.page
    _pick(offline, release.packages[("operations", "ana")])
    page.locator("#key-file").set_input_files(release.keys["ana"])
    page.get_by_role("button", name="Open my share").click()
    _status(offline, "share-status", "ok")
    [words] = [line for line in release.opened_share("operations", "carla").splitlines()
               if line and not line.startswith("#")]
    page.locator("#share-words").fill(words)
    page.get_by_role("button", name="Add this share").click()
    page.get_by_role("button", name="Combine the shares and open").click()
    _status(offline, "vault-status", "ok")
    assert_accessible(page)  # evaluated by DevTools, not as a script of the page: its CSP does not apply
