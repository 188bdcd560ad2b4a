"""Helpers for the witness tests: an owner's vault with three holders (2 of 3), the secrets of that life,
and opening a release package with age and shamir alone (the terminal path)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pexpect
from sqlalchemy import Engine, select

from baton.store import links as stored_links
from baton.store.tables import outbox

PASSWORD = "hunter2-registrar-secret-witness"
PASSPHRASE = "owner passphrase long enough"
OWNER_PASSWORD = "correct horse battery"
SHAMIR = shutil.which("shamir") or shutil.which("shamir", path=str(Path(sys.executable).parent))
HOLDERS = ("ana", "bruno", "carla")


@dataclass
class Life:
    """What the owner made, and every secret of it (none may reach a witness)."""

    identities: dict[str, Path]
    secrets: list[str] = field(default_factory=list)


def enrol_url(engine: Engine, key: Any, who: str) -> str:
    with engine.connect() as conn:
        bodies = [stored_links.expand(key, r.body_text) for r in conn.execute(
            select(outbox.c.body_text).where(outbox.c.purpose == "enrol", outbox.c.recipient == f"{who}@example.org"))]
    return re.findall(r"https?://\S+/e/\S+", bodies[-1])[0]


def make_vault(client: Any, tmp: Path, enrol: Any, token: str) -> Life:
    """The owner's vault through ``client`` (an httpx or TestClient with the owner's token): one compartment
    holding a registrar password, three holders with age keys (carla's set by the owner), split 2 of 3.
    ``enrol(who)`` gives the holder's enrolment URL (its path is posted through ``client``)."""
    from baton.cli.ownervault import OwnerVault
    from vault import policy_from_dict
    from vault.entries import entry_from_dict
    owner = OwnerVault(client, tmp / "owner" / "vault-key.age", lambda: PASSPHRASE)
    owner.init(PASSPHRASE)
    owner.ensure_compartment("operations")
    version, opened = owner.open("operations")
    opened.put(entry_from_dict({"id": "registrar", "kind": "registrar", "title": "Registrar X reseller account",
                                "fields": {"registrar": "X", "username": "reseller", "password": PASSWORD},
                                "updated_at": "2026-11-22"}))
    owner.save("operations", version, opened)
    identities: dict[str, Path] = {}
    secrets = [PASSWORD, PASSPHRASE, OWNER_PASSWORD, token]
    for name in HOLDERS:
        client.post("/api/people", json={"name": name, "display_name": name.title(), "email": f"{name}@example.org",
                                         "language": "it" if name == "bruno" else "en", "role": "heir"})
        path = tmp / f"{name}.key"
        subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
        text = path.read_text()
        public = re.findall(r"age1\w+", text)[0]
        secrets.append(re.findall(r"AGE-SECRET-KEY-1\w+", text)[0])
        if name == "carla":
            client.put("/api/people/carla/key", json={"recipient": public, "source": "keycard"}).raise_for_status()
        else:
            url = enrol(name)
            page = client.post("/" + url.split("/", 3)[3], data={"recipient": public})
            assert page.status_code == 200, page.text
        identities[name] = path
    owner.split("operations", policy_from_dict({"threshold": 2, "holders": list(HOLDERS)}))
    secrets += re.findall(r"AGE-SECRET-KEY-1\w+", (tmp / "owner" / "vault-key.age").read_bytes().decode("latin-1"))
    return Life(identities, secrets)


def unzip(data: bytes, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    path = target / "package.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        archive.extractall(target)
    return target / names[0].split("/")[0]


def _run(args: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, **kwargs)


def open_with_terminal(folders: dict[str, Path], identities: dict[str, Path]) -> str:
    """Two holders' packages opened with age, shamir and age again; the registrar password inside."""
    assert SHAMIR is not None, "the shamir CLI is not installed"
    shares: list[str] = []
    holders = sorted(folders)[:2]
    for holder in holders:
        folder = folders[holder]
        assert _run(["sha256sum", "-c", "SHA256SUMS"], folder).returncode == 0
        unsealed = _run(["age", "-d", "-i", str(identities[holder]), f"share-{holder}.age"], folder)
        assert unsealed.returncode == 0, unsealed.stderr
        shares += [line for line in unsealed.stdout.splitlines() if line and not line.startswith("#")]
    folder = folders[holders[0]]
    combined = _run([str(SHAMIR), "recover"], folder, input="\n".join(shares) + "\n")
    assert "SUCCESS!" in combined.stdout, combined.stdout
    master = re.findall(r"Your master secret is: ([0-9a-f]{64})", combined.stdout)[0]
    child = pexpect.spawn("age", ["-d", "-o", "release-key.txt", "release-key-operations.age"], cwd=str(folder),
                          timeout=60, encoding="utf-8")
    child.expect("passphrase")
    child.sendline(master)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    opened = _run(["age", "-d", "-i", "release-key.txt", "-o", "operations.zip", "compartment-operations.age"],
                  folder)
    assert opened.returncode == 0, opened.stderr
    with zipfile.ZipFile(folder / "operations.zip") as archive:
        doc = json.loads(archive.read("vault.json"))
    return str(next(e for e in doc["entries"] if e["id"] == "registrar")["fields"]["password"])


def holds_none(secrets: list[str], database_dump: str, folder: Path) -> list[str]:
    """The secrets found in a database's dump or under a folder (each named by its first characters)."""
    found = [s[:6] for s in secrets if s and s in database_dump]
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{s[:6]} in {path.name}" for s in secrets if s and s.encode() in data]
    return found
