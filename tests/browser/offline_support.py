"""A real release for the offline page's tests: three holders (an age key file, a key card, an SSH key), two
compartments split 2 of 3, the switch fired, and every holder's packages downloaded and unzipped."""

from __future__ import annotations

import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from browser_support import Site

from baton.cli.ownervault import OwnerVault
from baton.services import signingkeys
from tests_support import tool
from vault import keys
from vault.entries import entry_from_dict
from vault.shares import policy_from_dict

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
PASSWORD = "hunter2-registrar-secret"
ATTACHMENT = bytes(range(256)) * 40 + b"\x00end\xff"
COMPARTMENTS = ("estate", "operations")


@dataclass
class Release:
    site: Site
    keys: dict[str, Path]  # ana: age key file, carla: key card (its secret line), bruno: ssh-ed25519
    packages: dict[tuple[str, str], Path]  # (compartment, holder) -> unzipped folder
    zips: dict[tuple[str, str], Path]
    fingerprint: str  # as in the holders' e-mails
    owner_entries: dict[str, list[dict[str, object]]]

    def opened_share(self, compartment: str, holder: str) -> str:
        """The holder's share opened on the terminal path (``age -d -i KEY share-HOLDER.age``)."""
        folder = self.packages[(compartment, holder)]
        done = subprocess.run([tool("age"), "-d", "-i", str(self.keys[holder]), f"share-{holder}.age"], cwd=folder,
                              capture_output=True, text=True, check=True)
        return done.stdout

    def card_secret(self) -> str:
        [secret] = re.findall(r"AGE-SECRET-KEY-1[0-9A-Z]{58}", self.keys["carla"].read_text())
        return secret


def released(site: Site, tmp: Path, *, rotate_key: bool = False) -> Release:
    """The release; ``rotate_key``: the deployment replaces its signing key before the switch fires (the
    e-mails then show the new fingerprint, the packages carry signing-keys.json)."""
    holder_keys: dict[str, Path] = {}
    for name in ("ana", "bruno", "carla"):
        made = site.api.post("/api/people", json={"name": name, "display_name": name.title(),
                                                  "email": f"{name}@example.org", "role": "heir", "language": "en"})
        assert made.status_code == 201, made.text
        path = tmp / f"{name}.key"
        if name == "bruno":
            subprocess.run([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
            public = path.with_suffix(".key.pub").read_text()
        else:
            subprocess.run([tool("age-keygen"), "-o", str(path)], check=True, capture_output=True)
            [public] = re.findall(r"age1\w+", path.read_text())
        source = "keycard" if name == "carla" else "owner"
        put = site.api.put(f"/api/people/{name}/key", json={"recipient": public, "source": source})
        assert put.status_code == 200, put.text
        holder_keys[name] = path
    owner_key = keys.generate_identity()  # in memory: no passphrase file, no scrypt
    assert site.api.put("/api/vault/key", json={"recipient": keys.public_of(owner_key).text}).status_code == 200
    owner = OwnerVault(site.api, tmp / "unused.age", lambda: "", _identity=owner_key)
    entries: dict[str, list[dict[str, object]]] = {}
    for compartment in COMPARTMENTS:
        owner.ensure_compartment(compartment)
        version, opened = owner.open(compartment)
        made_entries = [
            {"id": "registrar", "kind": "registrar", "title": f"Registrar X ({compartment})",
             "fields": {"registrar": "X", "username": "reseller", "password": PASSWORD}, "updated_at": "2026-11-22"},
            {"id": "runbook", "kind": "note", "title": "Runbook",
             "fields": {"text": f"restart nginx\nthen php-fpm ({compartment})"}, "updated_at": "2026-11-22"},
            {"id": "backup-key", "kind": "file", "title": "Backup key", "fields": {"filename": "backup.key"},
             "updated_at": "2026-11-22"}]
        for raw in made_entries:
            opened.put(entry_from_dict(raw), ATTACHMENT if raw["kind"] == "file" else None)
        owner.save(compartment, version, opened)
        owner.split(compartment, policy_from_dict({"threshold": 2, "holders": ["ana", "bruno", "carla"]}))
        entries[compartment] = made_entries
    site.run_worker()
    if rotate_key:
        service = site.runtime.service
        signingkeys.rotate(site.runtime.engine, service.signer, service.key, site.clock.now())
    site.clock.advance(days=33)
    mails = [m for m in site.run_worker() if m.purpose == "release"]
    assert sorted(m.recipient for m in mails) == ["ana@example.org", "bruno@example.org", "carla@example.org"]
    [fingerprint] = set(re.findall(r"^    ([0-9a-f]{64})$", mails[0].body_text, flags=re.M))
    packages, zips = {}, {}
    for mail in mails:
        for link in re.findall(rf"{re.escape(site.url)}/d/[A-Za-z0-9_\-]+", mail.body_text):
            got = site.api.post(link)
            assert got.status_code == 200, got.text
            name = re.findall(r'filename="([^"]+)"', got.headers["content-disposition"])[0]
            target = tmp / "downloads" / name
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(got.content)
            with zipfile.ZipFile(target) as archive:
                archive.extractall(tmp / "unzipped")
            _, compartment, holder = target.stem.rsplit("-", 2)
            packages[(compartment, holder)] = tmp / "unzipped" / target.stem
            zips[(compartment, holder)] = target
    assert len(packages) == 6
    return Release(site, holder_keys, packages, zips, fingerprint, entries)
