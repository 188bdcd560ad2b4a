"""The collector: two holders forward their shares sealed in their browsers, and the collector's browser opens
and combines them into the owner's secret and the compartment; the server only ever held age ciphertext."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote_plus

from accessibility import assert_accessible
from browser_support import Site, Visit, heading
from sqlalchemy import select
from test_owner_web import sign_in

from baton.cli.ownervault import OwnerVault
from baton.store.tables import forwarded_shares, sealed_shares
from tests_support import needs_tools, tool
from vault import agecrypt, keys, release, shares
from vault.entries import entry_from_dict
from vault.shares import policy_from_dict

pytestmark = needs_tools("age-keygen")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
RUNBOOK = "restart nginx, then php-fpm"
HOLDERS = {"ana": "Ana", "ben": "Ben", "cleo": "Cleo"}


def _person(site: Site, tmp: Path, name: str, display: str, role: str) -> Path:
    made = site.api.post("/api/people", json={"name": name, "display_name": display, "role": role,
                                              "email": f"{name}@example.org"})
    assert made.status_code == 201, made.text
    key_file = tmp / f"{name}-key.txt"
    subprocess.run([tool("age-keygen"), "-o", str(key_file)], check=True, capture_output=True)
    [public] = re.findall(r"age1\w+", key_file.read_text())
    assert site.api.put(f"/api/people/{name}/key", json={"recipient": public}).status_code == 200
    return key_file


def _vault_split_two_of_three(site: Site, tmp: Path) -> dict[str, Path]:
    key_files = {name: _person(site, tmp, name, display, "heir") for name, display in HOLDERS.items()}
    key_files["rossi"] = _person(site, tmp, "rossi", "Notary Rossi", "notary")
    owner_key = keys.generate_identity()
    assert site.api.put("/api/vault/key", json={"recipient": keys.public_of(owner_key).text}).status_code == 200
    owner = OwnerVault(site.api, tmp / "unused.age", lambda: "", _identity=owner_key)
    owner.ensure_compartment("operations")
    version, opened = owner.open("operations")
    opened.put(entry_from_dict({"id": "runbook", "kind": "note", "title": "Runbook", "fields": {"text": RUNBOOK},
                                "updated_at": "2026-01-01"}))
    owner.save("operations", version, opened)
    owner.split("operations", policy_from_dict({"threshold": 2, "holders": list(HOLDERS)}))
    return key_files


def test_two_holders_forward_their_shares_and_the_collector_opens_the_compartment(
        serve: Callable[..., Site], visit: Visit, tmp_path: Path) -> None:
    """Ana and Ben forward; Notary Rossi's page combines the shares into the master secret and the compartment."""
    site = serve(POLICY)
    page = visit.page
    key_files = _vault_split_two_of_three(site, tmp_path)
    sign_in(site, visit)  # the owner names the collector on the People page
    page.goto(f"{site.url}/people")
    page.get_by_label("Collector of operations").select_option("rossi")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").inner_text().startswith("operations: rossi collects the shares")
    assert_accessible(page)
    visit.shot("owner-names-the-collector")
    assert site.api.get("/api/vault/compartments").json()[0]["collector"] == "rossi"
    site.run_worker()
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)

    site.clock.advance(days=33)  # no check-in: the switch fires and the release runs
    sent = site.run_worker()
    downloads = {m.recipient.split("@")[0]: site.link(m, "d") for m in sent if m.purpose == "release"}
    [collect_mail] = [m for m in sent if m.purpose == "collect"]
    assert collect_mail.recipient == "rossi@example.org" and "operations" in collect_mail.subject
    collect = site.link(collect_mail, "c")

    page.goto(collect)
    assert heading(page) == "Collect the shares of operations"
    assert page.get_by_role("heading", name="Shares received: 0").is_visible()

    for name in ("ana", "ben"):
        page.goto(downloads[name])
        assert page.get_by_role("heading", name="Send your share to Notary Rossi").is_visible()
        assert_accessible(page)
        visit.shot(f"forward-{name}")
        page.locator("#key-file").set_input_files(str(key_files[name]))
        with page.expect_navigation():
            page.get_by_role("button", name="Open my share and send it sealed to Notary Rossi").click()
        assert heading(page) == "Your share is on its way"
        page.goto(downloads[name])  # the page says it was sent, and sends nothing twice
        assert page.get_by_text("Your share was sent to Notary Rossi").is_visible()
        if name == "ana":  # one share of a 2-of-3 split: the collector is told how many are missing
            page.goto(collect)
            page.locator("#key-file").set_input_files(str(key_files["rossi"]))
            page.get_by_role("button", name="Open and combine the shares").click()
            told = page.get_by_role("alert")
            told.wait_for()
            assert told.inner_text().startswith("Not enough shares yet: 2 needed, 1 received.")
            assert page.locator("#result").is_hidden()

    page.goto(collect)
    assert page.get_by_role("heading", name="Shares received: 2").is_visible()
    assert_accessible(page)
    visit.shot("collector-page")
    visit.shot("collector-page", phone=True)
    page.locator("#key-file").set_input_files(str(key_files["rossi"]))
    page.get_by_role("button", name="Open and combine the shares").click()
    page.get_by_text("The shares are combined").wait_for()
    master = page.locator("#master").inner_text().strip()
    assert_accessible(page)

    # The same secret as the terminal path: each holder's share unsealed with their key, combined.
    with site.runtime.engine.connect() as conn:
        sealed = {row.person_id: bytes(row.sealed) for row in conn.execute(select(sealed_shares))}
        forwarded = [bytes(row.sealed) for row in conn.execute(select(forwarded_shares))]
    mnemonics = []
    for name in ("ana", "cleo"):
        identity = keys.parse_identities(key_files[name].read_bytes())
        for body in sealed.values():
            try:
                opened = agecrypt.decrypt(body, identity, "a share")
            except Exception:  # noqa: BLE001 - another holder's share
                continue
            mnemonics += [(name, m) for m in release.read_share_file(opened)]
    assert master == shares.combine(mnemonics).hex()

    with page.expect_download(timeout=60_000) as downloading:  # scrypt (the release key's passphrase) takes a while
        # The page's main thread is busy with scrypt for seconds: the button is pressed without waiting on it.
        page.evaluate("setTimeout(() => document.getElementById('open-compartment').click(), 0)")
    download = downloading.value
    assert download.suggested_filename == "operations.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        assert RUNBOOK in archive.read("README.md").decode()
    visit.shot("collector-opened")

    # Zero knowledge: the database holds only age ciphertext; no share word or key went over the wire.
    assert len(forwarded) == 2 and all(f.startswith(b"age-encryption.org/v1\n-> X25519 ") for f in forwarded)
    words = {m.split()[i] for _n, m in mnemonics for i in range(4, 12)}
    stored = Path(str(site.runtime.engine.url.database))
    database = b"".join(p.read_bytes() for p in (stored, stored.with_name(stored.name + "-wal")) if p.exists())
    wire = unquote_plus("\n".join(posted))  # the forms' bodies as sent, decoded
    for mnemonic in (m for _n, m in mnemonics):
        assert mnemonic.encode() not in database and " ".join(mnemonic.split()[:6]) not in wire
    assert "AGE-SECRET-KEY" not in wire.upper() and words
    assert wire.count("-----BEGIN AGE ENCRYPTED FILE-----") == 2  # what was posted: the two sealed shares
