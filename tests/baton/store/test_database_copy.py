"""A copy of the database opens nothing: after a whole life — enrolment, a key check, a held change,
reminders, a verifier's question, a release with downloads, customer notices — the database files
(SQLite with its WAL, or a ``pg_dump`` of PostgreSQL) hold no link token, no API token, no TOTP secret and
not the signing key. Link tokens are derived from the key file at sending time; secrets are sealed.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from baton.cli.ownervault import OwnerVault
from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.services.access import OwnerAccess
from baton.services.releases import vault_parts
from baton.store import keyfile, links
from baton.store.register import import_register
from baton.testing import FakeClock, RecordingSender
from handover.importing import sources
from tests_support import needs_tools, settings_for
from vault import keys, policy_from_dict
from vault.entries import entry_from_dict

POLICY = {"interval": "10d", "reminders": ["2d", "1d"], "grace": "1d",
          "confirm": {"window": "1d", "verifiers": [{"name": "vera", "email": "vera@example.org"}], "quorum": 1},
          "stages": [{"name": "heirs", "after": "0d", "action": "release"},
                     {"name": "customers", "after": "0d", "action": "notify_customers"}]}
REGISTER = {
    "registrars": "id,name,ticket_email,reseller_move\nrw,Rumahweb,support@rumahweb.example,yes\n",
    "customers": "id,name,email,language\nana,Ana Souza,ana@example.org,pt\nbudi,Budi Santoso,budi@example.org,id\n",
    "domains": "domain,customer,registrar,expires\nana.com.br,ana,rw,2027-03-01\nbudi.id,budi,rw,2027-04-01\n",
}
LINK = re.compile(r"https?://\S+?/(?:l|v|q|e|k|d|n|x)/([A-Za-z0-9_\-]{20,})")
PASSPHRASE = "a passphrase for the owner's vault key"


@dataclass
class Life:
    runtime: Runtime
    tmp: Path
    secrets: dict[str, bytes] = field(default_factory=dict)

    def keep(self, name: str, value: str | bytes) -> None:
        self.secrets[name] = value.encode() if isinstance(value, str) else value


def _live(runtime: Runtime, clock: FakeClock, tmp: Path) -> Life:
    life = Life(runtime, tmp)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Asia/Makassar", totp=True,
                                        policy=POLICY)
    assert made.totp_secret is not None
    life.keep("the TOTP secret", made.totp_secret)
    life.keep("the init API token", made.api_token)
    life.keep("the signing key (hex)", bytes(runtime.service.signer.key).hex())
    life.keep("the signing key (raw)", bytes(runtime.service.signer.key))
    life.keep("the key file's secret (hex)", runtime.service.key.secret.hex())
    access = OwnerAccess(runtime.service)
    life.keep("a second API token", access.add_token(made.owner.id, "phone")["token"])
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"

    folder = tmp / "register"
    folder.mkdir()
    for kind, text in REGISTER.items():
        (folder / f"{kind}.csv").write_text(text, encoding="utf-8")
    import_register(runtime.engine, made.owner.id, sources(sorted(folder.iterdir())), clock.now())
    assert client.put("/api/handover/profile", json={
        "business": "Hosting Bali", "owner_name": "Wayan", "event": "passed_away",
        "successor": {"name": "Made", "email": "made@example.org", "role": "executor"}}).status_code == 200

    owner = OwnerVault(client, tmp / "owner" / "vault-key.age", lambda: PASSPHRASE)
    owner.init(PASSPHRASE)
    owner.ensure_compartment("operations")
    version, opened = owner.open("operations")
    opened.put(entry_from_dict({"id": "panel", "kind": "login", "title": "Panel", "fields": {
        "url": "https://panel.example", "username": "root", "password": "hunter2 of the panel"},
        "updated_at": "2026-01-01"}))
    owner.save("operations", version, opened)
    vault, _builder = vault_parts(runtime.service)
    sender = RecordingSender()
    worker = runtime.worker({Channel.EMAIL: sender, Channel.APPRISE: sender})
    ana = keys.generate_identity()
    assert client.post("/api/people", json={"name": "ana", "display_name": "Ana", "email": "ana@example.org",
                                            "language": "en", "role": "heir"}).status_code == 201
    worker.run_once()
    [enrol] = [m for m in sender.sent if m.purpose == "enrol"]
    enrolled = vault.enrol_by_link(LINK.findall(enrol.body_text)[0], keys.public_of(ana).text)
    life.keep("the key-check link shown after enrolment", enrolled["check_url"].rsplit("/", 1)[1])
    owner.split("operations", policy_from_dict({"threshold": 1, "holders": ["ana"]}))
    vault.request_checks(made.owner.id, ["ana"], "owner", notify=True)

    held = runtime.service.settings.model_copy(update={"cooling_off_hours": 1})
    runtime.service.settings = held  # a held change, and its cancel link
    runtime.service.set_policy(made.owner.id, {**POLICY, "grace": "2h"})
    runtime.service.settings = held.model_copy(update={"cooling_off_hours": 0})
    life.keep("a request link", access.add_requester(made.owner.id, "Rita", "rita@example.org")["url"]
              .rsplit("/", 1)[1])

    for _ in range(14 * 4):  # reminders, grace, the verifier's question, the fire, the release, the notices
        clock.advance(hours=6)
        worker.run_once()
    kinds = {m.purpose for m in sender.sent}
    assert {"enrol", "keycheck", "change_held", "reminder", "verify", "release", "notice"} <= kinds, kinds
    for message in sender.sent:
        for number, token in enumerate(LINK.findall(f"{message.body_text}\n{message.body_html or ''}")):
            life.keep(f"the {message.purpose} link #{number} to {message.recipient}", token)
    [download] = [m for m in sender.sent if m.purpose == "release"]
    path = LINK.search(download.body_text)
    assert path is not None
    assert client.post(f"/d/{path[1]}").status_code == 200  # a download, so that its audit entry is written
    client.close()
    return life


def _forms(value: bytes) -> list[bytes]:
    return [value, base64.b64encode(value), base64.urlsafe_b64encode(value).rstrip(b"=")]


def _leaks(life: Life, dump: bytes) -> list[str]:
    return sorted(name for name, value in life.secrets.items() if any(form in dump for form in _forms(value)))


@pytest.fixture
def sqlite_life(tmp_path: Path, clock: FakeClock) -> Iterator[Life]:
    runtime = build(settings_for(f"sqlite:///{tmp_path}/server/baton.db", data_dir=tmp_path / "server"), clock=clock)
    yield _live(runtime, clock, tmp_path)
    runtime.engine.dispose()


@needs_tools("age")
def test_the_sqlite_files_and_their_wal_hold_no_secret_of_the_life(sqlite_life: Life) -> None:
    server = sqlite_life.tmp / "server"
    files = sorted(server.glob("baton.db*"))
    assert server / "baton.db-wal" in files  # the WAL, where a copy of redacted pages would linger
    dump = b"".join(path.read_bytes() for path in files)
    assert len(sqlite_life.secrets) > 15
    assert _leaks(sqlite_life, dump) == []


def test_the_data_folder_and_the_database_files_are_private(sqlite_life: Life) -> None:
    """The data folder is 0700; the database, its WAL and the key file are 0600."""
    server = sqlite_life.tmp / "server"
    assert stat.S_IMODE(server.stat().st_mode) == 0o700
    for path in [*server.glob("baton.db*"), server / "deployment.key"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump (postgresql-client) is not installed")
def test_a_pg_dump_holds_no_secret_of_the_life(pg_url: str, clock: FakeClock, tmp_path: Path) -> None:
    runtime = build(settings_for(pg_url, data_dir=tmp_path / "server"), clock=clock)
    try:
        life = _live(runtime, clock, tmp_path)
    finally:
        runtime.engine.dispose()
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    dump = subprocess.run(["pg_dump", "--no-owner", pg_url.replace("postgresql+psycopg", "postgresql")],
                          check=True, capture_output=True, env=env, timeout=120).stdout
    assert b"COPY public.links" in dump and b"COPY public.outbox" in dump
    assert _leaks(life, dump) == []


def test_a_key_file_that_is_not_the_databases_is_refused(tmp_path: Path) -> None:
    """Another machine that made its own key file would fail every link and signature: it refuses to start,
    saying why; a missing key file for a database set up with one is refused the same way."""
    url = f"sqlite:///{tmp_path}/baton.db"
    build(settings_for(url, data_dir=tmp_path)).engine.dispose()
    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex())
    with pytest.raises(Exception, match="is not the one this database was set up with"):
        build(settings_for(url, data_dir=tmp_path, key_file=other))
    with pytest.raises(Exception, match="is missing, but this database was set up with one"):
        build(settings_for(url, data_dir=tmp_path, key_file=tmp_path / "nowhere.key"))


def test_a_link_token_is_its_id_and_a_mac_and_nothing_else_opens(tmp_path: Path) -> None:
    key = keyfile.DeploymentKey(os.urandom(32))
    other = keyfile.DeploymentKey(os.urandom(32))
    token = links.token(key, 42)
    assert links.link_id(key, token) == 42
    assert links.link_id(other, token) is None  # the same id under another key file
    for last in "ABCDEFGH":  # a changed MAC; and the same bytes with the last character's spare bits set
        assert last == token[-1] or links.link_id(key, token[:-1] + last) is None
    assert links.link_id(key, links.token(key, 43)) == 43 and links.token(key, 42) == token
