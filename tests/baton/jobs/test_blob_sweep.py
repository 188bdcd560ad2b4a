"""The worker's sweep deletes compartment files nothing refers to any more, once older than the retention
(issue 12: blobs were never deleted), and never one a row refers to, a fresh one, or an upload in progress."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import insert

from baton.jobs.worker import Worker
from baton.runtime import Runtime, build
from baton.services import uploads
from baton.services.releases import vault_parts
from baton.services.vault import VaultService
from baton.store.engine import insert_id
from baton.store.tables import compartments, packages, people, releases, splits
from baton.testing import FakeClock
from tests_support import settings_for
from vault import keys

AGE = b"age-encryption.org/v1\n"
DAY = 86400.0
RETENTION_DAYS = 7


def _file(n: int) -> bytes:
    return AGE + bytes([n]) * 4096


@dataclass
class Store:
    runtime: Runtime
    vault: VaultService
    owner_id: int
    compartment_id: int
    version: int = 0

    @property
    def root(self) -> Path:
        return self.vault.store.root

    def upload(self, n: int) -> str:
        done = uploads.upload(self.vault, self.owner_id, "operations", self.version, [_file(n)])
        self.version = done["version"]
        return str(done["sha256"])

    def orphan(self, n: int) -> str:
        """A blob placed whose row never committed (the database failed after the rename)."""
        incoming = self.vault.store.incoming(1 << 20)
        incoming.write(_file(n))
        with self.vault.store.committing():
            return self.vault.store.place(incoming)

    def age(self, *names: str, days: float = RETENTION_DAYS + 1) -> None:
        """Make files (a blob's digest: the blob and its CRC) look ``days`` old."""
        then = time.time() - days * DAY
        for name in names:
            for path in (self.root / name[:2] / name, self.root / name[:2] / f"{name}.crc32", self.root / name):
                if path.exists():
                    os.utime(path, (then, then))

    def files(self) -> set[str]:
        return {p.name for p in self.root.rglob("*") if p.is_file() and p.name != ".lock"}

    def worker(self) -> Worker:
        return self.runtime.worker()


@pytest.fixture
def store(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Store]:
    runtime = build(settings_for(db_url, data_dir=tmp_path / "data", blob_retention_days=RETENTION_DAYS,
                                 sweep_seconds=0.2), clock=clock)
    owner = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome").owner.id
    vault, _builder = vault_parts(runtime.service)
    vault.set_owner_key(owner, keys.public_of(keys.generate_identity()).text)
    made = vault.create_compartment(owner, "operations", keys.public_of(keys.generate_identity()).text,
                                    AGE + b"release key")
    assert made["version"] == 0
    with runtime.engine.connect() as conn:
        compartment_id = conn.execute(compartments.select()).one().id
    yield Store(runtime, vault, owner, compartment_id)
    runtime.engine.dispose()


def _package_of(store: Store, digest: str) -> None:
    """A drill's package row naming ``digest`` (the compartment's file when the drill ran)."""
    now = store.runtime.service.clock.now()
    with store.runtime.engine.begin() as conn:
        release = insert_id(conn, insert(releases).values(owner_id=store.owner_id, drill=True, stage="drill",
                                                          cycle=1, reason="drill", audit_seq=0, created_at=now))
        person = insert_id(conn, insert(people).values(owner_id=store.owner_id, name="ana", display_name="Ana",
                                                       role="heir", created_at=now))
        split = insert_id(conn, insert(splits).values(compartment_id=store.compartment_id, slip39_id=1, policy={},
                                                      protected_release_key=b"key", created_at=now))
        conn.execute(insert(packages).values(release_id=release, person_id=person, compartment_id=store.compartment_id,
                                             split_id=split, blob_sha256=digest, folder="1/drill-1/ana"))


def test_the_sweep_deletes_old_unreferenced_files_only(store: Store) -> None:
    """Old and referenced (the current file, a package's file): kept. Old and unreferenced (a replaced
    version, an orphan, a stale temporary file): deleted. Fresh and unreferenced (an orphan, an upload in
    progress): kept, and the upload then completes."""
    packaged = store.upload(1)
    _package_of(store, packaged)
    replaced = store.upload(2)
    current = store.upload(3)
    old_orphan, fresh_orphan = store.orphan(4), store.orphan(5)
    stale = store.root / ".incoming-0123456789abcdef"
    stale.write_bytes(b"left by a crash")
    store.age(packaged, replaced, current, old_orphan, stale.name)
    in_progress = uploads.start(store.vault, store.owner_id, "operations", store.version)
    uploads.write("operations", in_progress, _file(6))
    assert in_progress.path is not None
    before = store.files()

    removed = store.worker().collect_blobs()

    assert sorted(removed) == sorted([replaced, old_orphan, stale.name])
    gone = {replaced, f"{replaced}.crc32", old_orphan, f"{old_orphan}.crc32", stale.name}
    assert store.files() == before - gone
    assert {packaged, current, fresh_orphan, in_progress.path.name} <= store.files()
    done = uploads.finish(store.vault, store.owner_id, "operations", store.version, in_progress)
    assert done["version"] == 4 and (store.root / done["sha256"][:2] / done["sha256"]).read_bytes() == _file(6)
    assert store.worker().collect_blobs() == [current]  # replaced now, and its file is old


def test_the_worker_sweeps_on_its_own(store: Store) -> None:
    """A started worker deletes an old orphan on its sweep (every sweep_seconds), no call needed."""
    orphan, current = store.orphan(7), store.upload(8)
    store.age(orphan, current)
    worker = store.worker()
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while orphan in store.files() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert orphan not in store.files() and current in store.files()


def test_the_sweep_waits_for_an_upload_being_recorded(store: Store) -> None:
    """An upload holds the store between placing its file and committing the row naming it: the sweep asks
    which files are referenced only after that, so it cannot take a file whose row is about to commit."""
    orphan = store.orphan(9)
    store.age(orphan)
    asked = threading.Event()

    def referenced() -> set[str]:
        asked.set()
        return set()

    with store.vault.store.committing():
        sweeping = threading.Thread(target=store.vault.store.sweep, args=(referenced, time.time() - DAY))
        sweeping.start()
        assert not asked.wait(0.5), "the sweep read the references while an upload was committing"
    sweeping.join(timeout=10)
    assert asked.is_set() and orphan not in store.files()


def test_two_workers_sweeping_at_once_agree(store: Store) -> None:
    """Several workers share the store: sweeping together, each file is deleted once and nothing fails."""
    orphans = [store.orphan(n) for n in range(10, 16)]
    store.age(*orphans)
    found: list[list[str]] = []
    workers = [threading.Thread(target=lambda: found.append(store.worker().collect_blobs())) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    assert sorted(name for names in found for name in names) == sorted(orphans)
    assert not set(orphans) & store.files()
