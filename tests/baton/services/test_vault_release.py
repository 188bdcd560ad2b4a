"""The vault end to end: owner edits, holders enrol, the switch fires, packages open with off-the-shelf tools."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest
from fastapi.testclient import TestClient
from nacl.signing import SigningKey
from sqlalchemy import select

from baton.cli.ownervault import OwnerVault, ServerError
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.services.releases import vault_parts
from baton.store import links as stored_links
from baton.store.tables import outbox
from baton.testing import FakeClock
from tests_support import needs_tools, run_cli, settings_for
from vault import keys, signature
from vault.errors import NotEnoughShares, WrongKey
from vault.package import Package
from vault.recovery import recover, write_opened

pytestmark = needs_tools("age", "age-keygen", "ssh-keygen", "openssl", "sha256sum", "shamir")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d", "grace_reminder_every": "1d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
PASSWORD = "hunter2-registrar-secret"
PASSPHRASE = "owner passphrase long enough"
SHAMIR = shutil.which("shamir") or shutil.which("shamir", path=str(Path(sys.executable).parent))


@dataclass
class World:
    runtime: Runtime
    client: TestClient
    owner: OwnerVault
    owner_id: int
    identities: dict[str, Path]
    tmp: Path


def _enrol_url(runtime: Runtime, who: str) -> str:
    with runtime.engine.connect() as conn:
        bodies = [stored_links.expand(runtime.service.key, r.body_text) for r in conn.execute(
            select(outbox.c.body_text).where(outbox.c.purpose == "enrol", outbox.c.recipient == f"{who}@example.org"))]
    return re.findall(r"http://\S+/e/\S+", bodies[-1])[0]


@pytest.fixture
def world(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[World]:
    runtime = build(settings_for(db_url, data_dir=tmp_path / "server"), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", policy=POLICY)
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    owner = OwnerVault(client, tmp_path / "owner" / "vault-key.age", lambda: PASSPHRASE)
    owner.init(PASSPHRASE)
    owner.ensure_compartment("operations")
    version, opened = owner.open("operations")
    from vault.entries import entry_from_dict
    opened.put(entry_from_dict({"id": "registrar", "kind": "registrar", "title": "Registrar X reseller account",
                                "fields": {"registrar": "X", "username": "reseller", "password": PASSWORD},
                                "updated_at": "2026-11-22"}))
    opened.put(entry_from_dict({"id": "backup-key", "kind": "file", "title": "Backup key",
                                "fields": {"filename": "backup.key"}, "updated_at": "2026-11-22"}),
               b"\x00binary-attachment\xff" * 100)
    owner.save("operations", version, opened)

    identities: dict[str, Path] = {}
    for name, display in (("ana", "Ana"), ("bruno", "Bruno"), ("carla", "Carla")):
        client.post("/api/people", json={"name": name, "display_name": display, "email": f"{name}@example.org",
                                         "language": "it" if name == "bruno" else "en", "role": "heir"})
        path = tmp_path / f"{name}.key"
        if name == "bruno":  # an SSH key, sent through the enrolment page
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
            public = path.with_suffix(".key.pub").read_text()
        else:
            subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
            public = re.findall(r"age1\w+", path.read_text())[0]
        if name == "carla":  # a key card holder: the owner sets the public key
            client.put("/api/people/carla/key", json={"recipient": public, "source": "keycard"}).raise_for_status()
        else:
            page = client.post(_enrol_url(runtime, name).replace(runtime.settings.base_url, ""),
                               data={"recipient": public})
            thanks = "Grazie, Bruno" if name == "bruno" else f"Thank you, {display}"  # bruno's pages speak Italian
            assert page.status_code == 200 and thanks in page.text, page.text
        identities[name] = path
    owner.split("operations", __import__("vault").policy_from_dict({"threshold": 2,
                                                                    "holders": ["ana", "bruno", "carla"]}))
    yield World(runtime, client, owner, made.owner.id, identities, tmp_path)
    client.close()
    runtime.engine.dispose()


def _fire(world: World, clock: FakeClock) -> list[Path]:
    """Let the switch fire; the worker builds the packages; each holder downloads through their link."""
    worker = world.runtime.worker(senders={})
    clock.advance(days=33)
    worker.run_switches()
    assert worker.build_packages() == 3
    with world.runtime.engine.connect() as conn:
        mails = [stored_links.expand(world.runtime.service.key, r.body_text)
                 for r in conn.execute(select(outbox.c.body_text).where(outbox.c.purpose == "release"))]
    assert len(mails) == 3
    paths = []
    for mail in mails:
        url = re.findall(r"http://\S+/d/\S+", mail)[0].replace(world.runtime.settings.base_url, "")
        assert world.client.get(url).status_code == 200
        got = world.client.post(url)
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
        for _ in range(world.runtime.settings.download_uses - 1):  # a broken download may be tried again
            assert world.client.post(url).status_code == 200
        again = world.client.post(url)
        assert again.status_code == 410 and ("already used" in again.text or "già stato usato" in again.text)
        name = re.findall(r'filename="([^"]+)"', got.headers["content-disposition"])[0]
        target = world.tmp / "downloads" / name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(got.content)
        paths.append(target)
    return sorted(paths)


def _fingerprint_in_mail(world: World, purpose: str, recipient: str) -> str:
    """The deployment key's fingerprint as a holder reads it in an e-mail (text and HTML alike)."""
    with world.runtime.engine.connect() as conn:
        text, html = conn.execute(select(outbox.c.body_text, outbox.c.body_html).where(
            outbox.c.purpose == purpose, outbox.c.recipient == recipient)).all()[-1]
    [found] = re.findall(r"^    ([0-9a-f]{64})$", text, flags=re.M)
    assert f"<code>{found}</code>" in html
    return str(found)


def _unzip(path: Path) -> Path:
    with zipfile.ZipFile(path) as archive:
        archive.extractall(path.parent)
    return path.parent / path.stem


def _run(args: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, **kwargs)


@pytest.mark.skipif(SHAMIR is None, reason="the shamir CLI (shamir-mnemonic[cli]) is not installed")
def test_a_release_opens_with_openssl_age_and_shamir_alone(world: World, clock: FakeClock) -> None:
    """Two of three holders open the compartment with openssl, age and shamir — no Baton code at all."""
    folders = {p.stem.rsplit("-", 1)[1]: _unzip(p) for p in _fire(world, clock)}
    assert sorted(folders) == ["ana", "bruno", "carla"]
    shares: list[str] = []
    for holder in ("ana", "bruno"):
        folder = folders[holder]
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["threshold"] == "2 of 3 (holders)" and manifest["drill"] is False
        assert {f["role"] for f in manifest["files"]} >= {"share", "compartment", "release-key", "audit",
                                                          "signature", "instructions", "checksums", "manifest"}
        verified = _run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pem", "-rawin", "-in",
                         "SHA256SUMS", "-sigfile", "SHA256SUMS.sig"], folder)
        assert verified.returncode == 0 and "Signature Verified Successfully" in verified.stdout
        assert _run(["sha256sum", "-c", "SHA256SUMS"], folder).returncode == 0
        instructions = (folder / "RECOVER.md").read_text()
        assert "shamir recover" in instructions and f"age -d -i my-key.txt share-{holder}.age" in instructions
        unsealed = _run(["age", "-d", "-i", str(world.identities[holder]), f"share-{holder}.age"], folder)
        assert unsealed.returncode == 0, unsealed.stderr
        shares += [line for line in unsealed.stdout.splitlines() if line and not line.startswith("#")]
    assert "Come aprire" in (folders["bruno"] / "RECOVER.md").read_text() or \
        (folders["bruno"] / "RECOVER.md").read_text() != (folders["ana"] / "RECOVER.md").read_text()

    combined = _run([str(SHAMIR), "recover"], folders["ana"], input="\n".join(shares) + "\n")
    assert "SUCCESS!" in combined.stdout, combined.stdout  # shamir exits 0 even when it fails: read its output
    master = re.findall(r"Your master secret is: ([0-9a-f]{64})", combined.stdout)[0]

    folder = folders["ana"]
    child = pexpect.spawn("age", ["-d", "-o", "release-key.txt", "release-key-operations.age"], cwd=str(folder),
                          timeout=60, encoding="utf-8")
    child.expect("passphrase")
    child.sendline(master)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and (folder / "release-key.txt").exists()
    opened = _run(["age", "-d", "-i", "release-key.txt", "-o", "operations.zip", "compartment-operations.age"],
                  folder)
    assert opened.returncode == 0, opened.stderr
    with zipfile.ZipFile(folder / "operations.zip") as archive:
        doc = json.loads(archive.read("vault.json"))
        assert archive.read("attachments/backup-key/backup.key") == b"\x00binary-attachment\xff" * 100
        assert "Registrar X reseller account" in archive.read("vault.html").decode()
    registrar = next(e for e in doc["entries"] if e["id"] == "registrar")
    assert registrar["fields"]["password"] == PASSWORD


def test_baton_recover_opens_the_release_and_refuses_too_few_keys(world: World, clock: FakeClock) -> None:
    """The friendly path: packages and two keys open the vault; one key alone is told what is missing."""
    paths = _fire(world, clock)
    packages = [Package(p) for p in paths]
    one = keys.parse_identities(world.identities["carla"].read_bytes())
    with pytest.raises(NotEnoughShares) as refused:
        recover(packages, one)
    assert str(refused.value) == "2 of 3 shares needed, 1 given"
    both = one + keys.parse_identities(world.identities["bruno"].read_bytes())
    report = recover(packages, both)
    assert [r.compartment for r in report.opened] == ["operations"]
    assert sorted(report.opened[0].holders) == ["bruno", "carla"]
    target = write_opened(report.opened[0], world.tmp / "opened")
    assert PASSWORD in (target / "README.md").read_text()
    assert (target / "attachments" / "backup-key" / "backup.key").read_bytes().startswith(b"\x00binary")


def test_the_server_alone_cannot_open_the_vault(world: World, clock: FakeClock) -> None:
    """Zero knowledge: every byte the server holds (database and files) has no secret and opens nothing."""
    paths = _fire(world, clock)
    with world.runtime.engine.connect() as conn:
        from baton.store.tables import metadata
        dump = b"".join(repr(row).encode() for table in metadata.sorted_tables
                        for row in conn.execute(select(table)))
    files = b"".join(p.read_bytes() for p in (world.tmp / "server").rglob("*") if p.is_file()
                     and p.suffix not in (".db", ".db-wal", ".db-shm"))
    for secret in (PASSWORD.encode(), b"binary-attachment"):
        assert secret not in dump and secret not in files
    a_secret_key = re.compile(rb"AGE-SECRET-KEY-1[0-9A-Z]{58}")
    assert not a_secret_key.search(dump) and not a_secret_key.search(files)
    # Nothing on the server is an identity: the compartment opens with no key found there.
    for holder in ("ana",):
        alone = keys.parse_identities(world.identities[holder].read_bytes())
        with pytest.raises(NotEnoughShares):
            recover([Package(p) for p in paths], alone)
    with pytest.raises(WrongKey):
        recover([Package(p) for p in paths], [keys.generate_identity()])


def test_an_upload_against_a_stale_version_is_refused(world: World) -> None:
    """Two edits from the same version: the second is refused and the first stays."""
    version, opened = world.owner.open("operations")
    world.owner.save("operations", version, opened)
    with pytest.raises(ServerError) as stale:
        world.owner.save("operations", version, opened)
    assert str(stale.value) == (f"compartment 'operations' changed since you read it (it is at version "
                                f"{version + 1}, you had {version}); nothing was saved: run the command again "
                                "(HTTP 409)")


def test_a_drill_builds_packages_for_the_owner_only_and_checks_keys(world: World, clock: FakeClock) -> None:
    """A drill sends nothing to holders, marks its packages DRILL, and reports unverified keys."""
    report = world.client.post("/api/drill").json()
    assert len(report["packages"]) == 3
    assert any("carla's key is unverified" in f["what"] for f in report["findings"])
    with world.runtime.engine.connect() as conn:
        to = {r.recipient for r in conn.execute(select(outbox.c.recipient).where(outbox.c.purpose.in_(
            ("drill", "release"))))}
    assert to == {"owner@example.org"}
    got = world.client.get(f"/api/drill/{report['release']}/packages/{report['packages'][0]['id']}")
    path = world.tmp / "drill.zip"
    path.write_bytes(got.content)
    package = Package(path)
    assert package.manifest["drill"] is True and "DRILL" in package.read("RECOVER.md").decode()
    check = next(c for c in report["checks"] if c["name"] == "carla")
    from base64 import b64decode

    from vault import agecrypt, challenge
    opened = agecrypt.decrypt(b64decode(check["sealed"]), keys.parse_identities(world.identities["carla"]
                                                                                 .read_bytes()), "check")
    wrong = world.client.post(f"/api/people/carla/checks/{check['check']}", json={"code": "AAAA-BBBB-CCCC"})
    assert wrong.status_code == 422 and wrong.json()["detail"].startswith("the code does not match (attempt 1 of 5)")
    done = world.client.post(f"/api/people/carla/checks/{check['check']}",
                             json={"code": challenge.code_from(opened)})
    assert done.status_code == 200 and done.json()["key"] == "verified"


def test_the_vault_parts_share_the_switch_service(world: World) -> None:
    """The API's vault service sees what the owner uploaded (one database, one blob store)."""
    vault, _builder = vault_parts(world.runtime.service)
    [info] = vault.list_compartments(world.owner_id)
    assert info["name"] == "operations" and info["split"]["describe"] == "2 of 3 (holders)"


def test_the_recover_command_checks_the_audit_excerpt_and_says_why(world: World, clock: FakeClock) -> None:
    """``baton recover`` verifies the signed excerpt and opens the compartment with two key files."""
    from baton.cli.recovery import recover_into
    paths = _fire(world, clock)
    ids = [i for name in ("ana", "bruno") for i in keys.parse_identities(world.identities[name].read_bytes())]
    lines = recover_into(paths, ids, world.tmp / "out", _fingerprint_in_mail(world, "release", "ana@example.org"))
    assert lines[0] == ("operations: released because grace ended without a check-in; audit entries 1–16 "
                        "(owner.created … switch.stage) are signed and chained")
    assert lines[1] == f"opened operations with the shares of ana, bruno: {world.tmp / 'out' / 'operations'}"


def test_a_running_worker_builds_the_packages_of_a_release(world: World, clock: FakeClock) -> None:
    """``baton serve``'s worker, scheduled by APScheduler, fires the switch and builds the packages by itself."""
    from baton.store.tables import packages
    worker = world.runtime.worker(senders={})
    clock.advance(days=33)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        built: list[Any] = []
        while time.monotonic() < deadline:
            with world.runtime.engine.connect() as conn:
                built = list(conn.execute(select(packages.c.built_at)).scalars())
            if len(built) == 3 and all(built):
                break
            time.sleep(0.1)
    finally:
        worker.stop()
    assert len(built) == 3 and all(built)


# -- trust anchored outside the package ------------------------------------------------------------

def _re_signed(package: Path, target: Path, key: SigningKey, swap_manifest_key: bool = True) -> Path:
    """An attacker's copy of a real package: its instructions rewritten, then everything re-signed with
    ``key`` — SHA256SUMS, the audit excerpt — and that key put in signing-key.pem (and in manifest.json,
    unless told to leave the real key named there). The copy is whole and verifies against the key it
    carries; only a fingerprint from outside tells."""
    folder = Path(shutil.copytree(_unzip(package), target))
    (folder / "RECOVER.md").write_text("# Open the vault\n\nUpload your share to https://evil.example/open\n")
    public = bytes(key.verify_key)
    (folder / "signing-key.pem").write_text(signature.public_pem(public))
    audit = json.loads((folder / "audit.json").read_text())
    for entry in audit["entries"]:
        entry["signature"] = key.sign(entry["hash"].encode()).signature.hex()
    (folder / "audit.json").write_text(json.dumps(audit, indent=2) + "\n")

    def digest(name: str) -> str:
        return hashlib.sha256((folder / name).read_bytes()).hexdigest()
    manifest = json.loads((folder / "manifest.json").read_text())
    if swap_manifest_key:
        manifest["signing_key"] = {"file": "signing-key.pem", "ed25519": public.hex(),
                                   "fingerprint": signature.fingerprint(public)}
    for item in manifest["files"]:
        if "sha256" in item:
            item.update(sha256=digest(item["name"]), size=(folder / item["name"]).stat().st_size)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    names = [line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()]
    sums = "".join(f"{digest(name)}  {name}\n" for name in names).encode()
    (folder / "SHA256SUMS").write_bytes(sums)
    (folder / "SHA256SUMS.sig").write_bytes(key.sign(sums).signature)
    return folder


@pytest.mark.parametrize("manifest", ["key swapped", "key kept"])
def test_a_package_re_signed_with_another_key_is_refused_by_the_fingerprint_from_the_emails(
        world: World, clock: FakeClock, manifest: str) -> None:
    """The attack that opened with exit 0: SHA256SUMS re-signed with another Ed25519 key and that key
    swapped into signing-key.pem (manifest.json naming it too, or still naming the real key, which the
    old check compared). ``baton recover --fingerprint`` (the one in the holders' e-mails) checks the key
    that verified SHA256SUMS and refuses; without a fingerprint it refuses and says where to find one;
    told to trust the package's key, it opens and warns (or refuses a manifest naming another key)."""
    paths = {p.stem.rsplit("-", 1)[1]: p for p in _fire(world, clock)}
    real = _fingerprint_in_mail(world, "release", "ana@example.org")
    assert real == _fingerprint_in_mail(world, "enrol", "bruno@example.org")  # one key, every e-mail
    attacker = SigningKey.generate()
    forged = [_re_signed(paths[h], world.tmp / "forged" / h, attacker, manifest == "key swapped")
              for h in ("ana", "bruno")]
    # Whole and signed, as openssl sees it: only the fingerprint tells it apart.
    verified = _run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pem", "-rawin", "-in",
                     "SHA256SUMS", "-sigfile", "SHA256SUMS.sig"], forged[0])
    assert "Signature Verified Successfully" in verified.stdout
    keys_given = ["-i", world.identities["ana"], "-i", world.identities["bruno"]]
    out = world.tmp / "opened"

    refused = run_cli("recover", *forged, *keys_given, "--out", out, "--fingerprint", real)
    theirs = signature.fingerprint(bytes(attacker.verify_key))
    assert refused.exit_code == 2
    assert refused.stderr == (f"error: {forged[0]}: signed by the key with fingerprint {theirs}, not the one "
                              f"expected ({real}, from Baton's e-mails): the package was not made by your Baton "
                              "service\n")
    assert refused.stdout == "" and not out.exists()

    unanchored = run_cli("recover", *forged, *keys_given, "--out", out)
    assert unanchored.exit_code == 2 and unanchored.stdout == "" and not out.exists()
    error, hint = unanchored.stderr.splitlines()
    assert error == ("error: expected --fingerprint with the signing key's fingerprint from Baton's e-mails to "
                     "you: without it nothing proves that your Baton service made these packages (or "
                     "--trust-package-key, to trust the key inside them)")
    assert hint == ("hint: every e-mail Baton sent you as a holder, and your key card, show it (64 hex digits); "
                    "`openssl pkey -pubin -in signing-key.pem -outform DER | sha256sum` in a package's folder "
                    "prints the package's own, to compare")

    trusted = run_cli("recover", *forged, *keys_given, "--out", out, "--trust-package-key")
    if manifest == "key kept":
        assert trusted.exit_code == 2 and not out.exists()
        assert trusted.stderr == (f"error: {forged[0]}: manifest.json names another signing key than "
                                  "signing-key.pem (the package was altered)\n")
        return
    assert trusted.exit_code == 0, trusted.output
    assert trusted.stderr == (f"warning: --trust-package-key: the packages were checked only against the key "
                              f"they carry, fingerprint {theirs}; nothing proves Baton made them unless that is "
                              "the fingerprint in Baton's e-mails to you\n")
    assert trusted.stdout.splitlines()[-1] == f"opened operations with the shares of ana, bruno: {out / 'operations'}"

    # The real packages open with the real fingerprint, pasted as sha256sum prints it.
    genuine = run_cli("recover", paths["ana"], paths["bruno"], *keys_given, "--out", world.tmp / "genuine",
                      "--fingerprint", f"{real.upper()}  -")
    assert genuine.exit_code == 0 and genuine.stderr == "", genuine.output


@pytest.mark.parametrize("holder", ["ana", "bruno"])  # English and Italian instructions
def test_the_recover_instructions_command_prints_the_fingerprint_in_the_emails(
        world: World, clock: FakeClock, holder: str) -> None:
    """RECOVER.md's one command, run verbatim with Debian's openssl and sha256sum in a real package, prints
    the fingerprint every e-mail to the holder carries; RECOVER.html gives the same command."""
    paths = {p.stem.rsplit("-", 1)[1]: p for p in _fire(world, clock)}
    folder = _unzip(paths[holder])
    commands = [line.strip() for line in (folder / "RECOVER.md").read_text().splitlines()
                if line.startswith("    ") and "sha256sum" in line and "openssl" in line]
    assert commands == [signature.FINGERPRINT_COMMAND]
    assert f"<pre>{commands[0]}</pre>" in (folder / "RECOVER.html").read_text()
    printed = _run(["bash", "-c", commands[0]], folder)
    assert printed.returncode == 0 and printed.stderr == "", printed.stderr
    [shown] = re.findall(r"^([0-9a-f]{64})  -$", printed.stdout)
    for purpose in ("enrol", "release"):
        assert _fingerprint_in_mail(world, purpose, f"{holder}@example.org") == shown
    assert json.loads((folder / "manifest.json").read_text())["signing_key"]["fingerprint"] == shown
