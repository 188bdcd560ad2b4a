"""The vault's secrets stay out of logs, mails, API responses, the audit chain, error messages and reprs.

One whole flow runs once for the module (it costs several scrypt unlocks): the owner keeps a
registrar password and a server's SSH private key, holders enrol (an age key, an SSH key, a
key card), the vault is split 2 of 3, a drill runs, the switch fires and releases, each
holder downloads their package, and bad inputs are tried. Every log record (every logger at
DEBUG), outbox row, sent message, API response, audit entry and error is kept, then searched
for each secret: the password, the SSH private key, any age secret key, the passphrase,
every line of share words and the master secret.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from baton.cli.ownervault import OwnerVault, make_keycard
from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.services.releases import vault_parts
from baton.store.tables import audit_entries, outbox
from baton.testing import FakeClock, RecordingSender
from tests_support import needs_tools, settings_for
from vault import agecrypt, challenge, keys, release, shares
from vault.document import unpack
from vault.entries import entry_from_dict
from vault.errors import CorruptShare, NotEnoughShares, WrongKey
from vault.package import Package
from vault.recovery import recover

pytestmark = needs_tools("age", "age-keygen", "ssh-keygen")

POLICY = {"interval": "30d", "reminders": ["1d"], "grace": "2d",
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
PASSWORD = "registrar-pw-Q7x2-secret"
PASSPHRASE = "the owner's long passphrase"
AGE_SECRET_KEY = re.compile(rb"AGE-SECRET-KEY-1[0-9A-Z]{58}", re.IGNORECASE)


class _Keep(logging.Handler):
    """Keeps every record, formatted with its exception if any."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Flow:
    runtime: Runtime
    secrets: dict[str, bytes]
    logs: list[str]
    responses: list[tuple[str, bytes]]
    sent: list[str]
    raised: list[Exception]
    objects: dict[str, object]
    opened: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # a failing assertion must not print the secrets into the test report
        return f"Flow({len(self.secrets)} secrets, {len(self.logs)} log records, {len(self.responses)} responses)"

    def leaks(self, data: bytes) -> list[str]:
        """The names of the secrets found in ``data``."""
        found = [name for name, secret in self.secrets.items() if secret in data]
        return found + (["an age secret key"] if AGE_SECRET_KEY.search(data) else [])


def _ssh_key(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


def _age_key(path: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return str(re.findall(r"age1\w+", path.read_text())[0])


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    tmp = tmp_path_factory.mktemp("flow")
    keep = _Keep()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in list(logging.root.manager.loggerDict)}
    saved_root = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    for name in saved:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        if not logger.propagate:
            logger.addHandler(keep)
    try:
        yield _run_flow(tmp, keep)
    finally:
        root.removeHandler(keep)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).removeHandler(keep)


def _run_flow(tmp: Path, keep: _Keep) -> Flow:
    clock = FakeClock()
    runtime = build(settings_for(f"sqlite:///{tmp}/baton.db", data_dir=tmp / "server"), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", policy=POLICY)
    responses: list[tuple[str, bytes]] = []

    def record(response: Any) -> None:  # TestClient's response (httpx2 here), read before it is kept
        response.read()
        responses.append((f"{response.request.method} {response.request.url.path}", response.content))

    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    client.event_hooks["response"].append(record)
    base = runtime.settings.base_url
    secrets: dict[str, bytes] = {"the registrar password": PASSWORD.encode(), "the passphrase": PASSPHRASE.encode()}

    # The owner's vault: a registrar password and a server's SSH private key, both secret fields.
    server_key = _ssh_key(tmp / "server_ed25519")
    secrets["the server's SSH private key"] = server_key.encode()
    for number, line in enumerate(server_key.splitlines(), 1):
        if not line.startswith("-----"):
            secrets[f"line {number} of the server's SSH private key"] = line.encode()
    owner = OwnerVault(client, tmp / "owner" / "vault-key.age", lambda: PASSPHRASE)  # type: ignore[arg-type]
    owner.init(PASSPHRASE)
    owner.ensure_compartment("operations")
    version, opened = owner.open("operations")
    opened.put(entry_from_dict({"id": "registrar", "kind": "registrar", "title": "Registrar X",
                                "fields": {"registrar": "X", "username": "reseller", "password": PASSWORD},
                                "updated_at": "2026-01-01"}))
    owner.save("operations", version, opened)
    version, opened = owner.open("operations")  # opened again: the owner's key is unlocked
    opened.put(entry_from_dict({"id": "web-1", "kind": "server", "title": "web-1",
                                "fields": {"host": "web-1.example.org", "ssh_private_key": server_key},
                                "updated_at": "2026-01-01"}))
    owner.save("operations", version, opened)

    # Holders: ana (age key, enrolled and key-checked by link), bruno (SSH key, enrolled), carla (key card).
    enrolled: dict[str, str] = {}
    ana_public = _age_key(tmp / "ana.key")
    bruno_ssh = _ssh_key(tmp / "bruno_ed25519")
    identities = {"ana": keys.parse_identities((tmp / "ana.key").read_bytes()),
                  "bruno": keys.parse_identities(bruno_ssh.encode())}
    for name, public in (("ana", ana_public), ("bruno", (tmp / "bruno_ed25519.pub").read_text())):
        made_person = client.post("/api/people", json={"name": name, "email": f"{name}@example.org",
                                                       "role": "heir"}).json()
        page = client.post(made_person["enrol_url"].removeprefix(base), data={"recipient": public})
        assert page.status_code == 200, page.text
        enrolled[name] = re.findall(r'<a href="([^"]+/k/[^"]+)">', page.text)[0].removeprefix(base)
    sealed = client.get(f"{enrolled['ana']}/challenge.age").content
    code = challenge.code_from(agecrypt.decrypt(sealed, identities["ana"], "key check"))
    assert "Your key works" in client.post(enrolled["ana"], data={"code": code}).text
    client.post("/api/people", json={"name": "carla", "email": "carla@example.org", "role": "heir"})
    carla_public, card, _pdf = make_keycard("carla", "owner@example.org",
                                            client.get("/api/vault/key").json()["fingerprint"])
    identities["carla"] = keys.parse_identities(re.findall(r"AGE-SECRET-KEY-1[0-9A-Z]+", card)[0].encode())
    client.put("/api/people/carla/key", json={"recipient": carla_public, "source": "keycard"}).raise_for_status()

    # The split (the SealedSplit is kept for its repr), a drill, then the switch fires and releases.
    splits: list[release.SealedSplit] = []
    with pytest.MonkeyPatch.context() as mp:
        real_seal = release.seal

        def keep_seal(*args: Any, **kwargs: Any) -> release.SealedSplit:
            made_split = real_seal(*args, **kwargs)
            splits.append(made_split)
            return made_split
        mp.setattr(release, "seal", keep_seal)
        owner.split("operations", shares.policy_from_dict({"threshold": 2, "holders": ["ana", "bruno", "carla"]}))
    assert client.post("/api/drill").status_code == 200
    sender = RecordingSender()
    worker = runtime.worker(senders={Channel.EMAIL: sender})
    clock.advance(days=33)
    worker.run_once()
    paths = []
    mails = [m.body_text for m in sender.sent if m.purpose == "release"]  # as sent: stored copies lose their links
    assert len(mails) == 3
    for mail in mails:
        link = re.findall(r"http://\S+/d/\S+", mail)[0].removeprefix(base)
        assert client.get(link).status_code == 200
        got = client.post(link)
        assert got.status_code == 200
        target = tmp / re.findall(r'filename="([^"]+)"', got.headers["content-disposition"])[0]
        target.write_bytes(got.content)
        paths.append(target)
    worker.run_once()
    packages = [Package(p) for p in sorted(paths)]

    # The share words and the master secret, as the holders would find them.
    words: dict[str, list[str]] = {}
    for package in packages:
        holder = package.manifest["holder"]["name"]
        body = agecrypt.decrypt(package.read(f"share-{holder}.age"), identities[holder], "share")
        words[holder] = release.read_share_file(body)
        for number, line in enumerate(words[holder], 1):
            secrets[f"share line {number} of {holder}"] = line.encode()
    master = shares.combine([("a", words["ana"][0]), ("b", words["bruno"][0])])
    secrets["the master secret (hex)"] = master.hex().encode()
    secrets["the master secret (bytes)"] = master
    secrets["the master secret (base64)"] = base64.b64encode(master)
    report = recover(packages, identities["ana"] + identities["bruno"])

    # Bad inputs: each raises; their messages are kept.
    raised: list[Exception] = []
    attempts: list[Callable[[], object]] = [
        lambda: recover(packages, [keys.generate_identity()]),
        lambda: recover(packages, identities["carla"]),
        lambda: keys.unlock_identity(owner.key_path.read_bytes(), "not the owner's passphrase"),
        lambda: shares.combine([("share of ana", _swap_word(words["ana"][0])), ("share of bruno", words["bruno"][0])]),
        lambda: agecrypt.decrypt(packages[0].read(packages[0].file_with_role("share")), identities["carla"], "share"),
    ]
    for attempt in attempts:
        try:
            attempt()
        except (WrongKey, NotEnoughShares, CorruptShare) as exc:
            raised.append(exc)
    refused = client.put("/api/people/ana/key", json={"recipient": keys.identity_text(keys.generate_identity())})
    assert refused.status_code == 422

    vault_service, _builder = vault_parts(runtime.service)
    objects: dict[str, object] = {"VaultService": vault_service, "OwnerVault": owner, "SealedSplit": splits[0],
                                  "Compartment": opened, "Recovered": report.opened[0]}
    objects.update({f"Entry {e.id}": e for e in opened.entries.values()})
    flow = Flow(runtime, secrets, keep.lines, responses, [f"{m.subject}\n{m.body_text}\n{m.body_html}"
                                                          for m in sender.sent], raised, objects,
                opened=report.opened[0].plaintext, extra={"words": words})
    client.close()
    return flow


def _swap_word(mnemonic: str) -> str:
    words = mnemonic.split()
    words[5] = "academic" if words[5] != "academic" else "acid"
    return " ".join(words)


def test_the_flow_handled_the_secrets_it_looks_for(flow: Flow) -> None:
    """The searches are not empty-handed: the secrets went through the flow and came back out of a package."""
    entries = unpack(flow.opened, "recovered").entries
    with zipfile.ZipFile(io.BytesIO(flow.opened)) as archive:
        found = flow.leaks(archive.read("vault.json"))
    assert {"the registrar password", "line 2 of the server's SSH private key"} <= set(found)
    assert entries["registrar"].fields["password"] == PASSWORD
    assert entries["web-1"].fields["ssh_private_key"].encode() == flow.secrets["the server's SSH private key"]
    assert sorted(flow.extra["words"]) == ["ana", "bruno", "carla"]
    assert len(flow.raised) == 5 and len(flow.sent) >= 3
    assert len(flow.logs) > 100 and len(flow.responses) > 30


def test_no_secret_reaches_the_logs(flow: Flow) -> None:
    """No log record of any logger, at any level, holds a secret."""
    found = {line[:120]: flow.leaks(line.encode()) for line in flow.logs}
    assert {line: names for line, names in found.items() if names} == {}


def test_no_secret_is_in_the_outbox_or_the_sent_mail(flow: Flow) -> None:
    """Subjects and bodies (text and HTML) of every queued and sent message are free of secrets."""
    with flow.runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.purpose, outbox.c.recipient, outbox.c.subject, outbox.c.body_text,
                                   outbox.c.body_html)).all()
    found = {f"{r.purpose} to {r.recipient}": flow.leaks(f"{r.subject}\n{r.body_text}\n{r.body_html}".encode())
             for r in rows}
    found.update({f"sent #{i}": flow.leaks(text.encode()) for i, text in enumerate(flow.sent)})
    assert len(rows) >= 8
    assert {what: names for what, names in found.items() if names} == {}


def test_no_secret_is_in_any_api_response(flow: Flow) -> None:
    """No response body (JSON, pages, age files, package zips) holds a secret."""
    found = {f"#{i} {what}": flow.leaks(body) for i, (what, body) in enumerate(flow.responses)}
    assert {what: names for what, names in found.items() if names} == {}


def test_no_secret_is_in_the_audit_entries(flow: Flow) -> None:
    """The audit chain's data holds names, versions and public keys only."""
    with flow.runtime.engine.connect() as conn:
        rows = conn.execute(select(audit_entries.c.seq, audit_entries.c.kind, audit_entries.c.data)).all()
    found = {f"{r.seq} {r.kind}": flow.leaks(json.dumps(r.data).encode()) for r in rows}
    assert {what: names for what, names in found.items() if names} == {}


def test_no_secret_is_in_the_messages_of_refused_inputs(flow: Flow) -> None:
    """A wrong key, too few shares, a wrong passphrase and a mistyped word are refused without quoting a secret."""
    assert [type(exc).__name__ for exc in flow.raised] == ["WrongKey", "NotEnoughShares", "WrongKey", "CorruptShare",
                                                           "WrongKey"]
    found = {f"{exc!r}": flow.leaks(f"{exc}\n{exc!r}".encode()) for exc in flow.raised}
    assert {what: names for what, names in found.items() if names} == {}


def test_no_secret_shows_in_the_reprs_of_the_vault_objects(flow: Flow) -> None:
    """VaultService, OwnerVault (unlocked), SealedSplit, Compartment, Entry and Recovered print no secret."""
    assert flow.objects["OwnerVault"]._identity is not None  # type: ignore[attr-defined]
    found = {what: flow.leaks(repr(obj).encode()) for what, obj in flow.objects.items()}
    assert {what: names for what, names in found.items() if names} == {}
