"""Restoring a backup (``services.backups``) into an empty deployment, on SQLite or PostgreSQL.

All or nothing: the rows go in one transaction, blobs and packages into a folder beside the data that is
moved in at the end, and nothing is committed until the whole stream decrypted (age authenticates every
chunk and the end), every part matched the manifest's SHA-256, every blob its name, the key file the
database's check value, and every owner's audit chain verified. Then every switch wakes from the shelf
(``switch.shelf``): time the backup spent on the shelf never fires a switch without its grace and verifiers.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import tarfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, func, inspect, select, update

from baton.errors import Conflict
from baton.services.backups import COPY_CHUNK, FORMAT, HEADER, KEY, MANIFEST, Summary, members, piped
from baton.settings import Settings
from baton.store import auditlog, keyfile, migrate, signing, snapshot
from baton.store.tables import deployment_keys, owners, switches, transitions
from switch import iso, next_timer, policy_from_dict, state_from_dict, state_to_dict, wake_after_shelf
from vault import agecrypt
from vault.keys import Identity

_TABLE_PART = re.compile(r"tables/([a-z_]+)/\d{6}\.jsonl")
_BLOB_PART = re.compile(r"blobs/([0-9a-f]{64})")
_PACKAGE_PART = re.compile(r"packages/(\d+/(?:drill-)?\d+/[A-Za-z0-9][A-Za-z0-9._-]*\.zip)")


@dataclass
class Restored(Summary):
    """What a restore put back and checked."""

    audit_entries: int = 0
    owners: int = 0
    switches_woken: list[str] = field(default_factory=list)


def ensure_empty(engine: Engine, settings: Settings) -> None:
    """Refuse, naming what was found, unless the deployment has no rows, no key file, no blobs or packages."""
    found = []
    key_path = keyfile.key_path(settings.data_dir, settings.key_file)
    if key_path.exists():
        found.append(f"the key file {key_path}")
    for folder in ("blobs", "packages"):
        path = settings.data_dir / folder
        if path.is_dir() and any(p.name != ".lock" for p in path.iterdir()):
            found.append(f"files in {path}")
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        filled = [f"{t.name} ({n} rows)" for t in snapshot.tables() if t.name in present
                  and (n := int(conn.execute(select(func.count()).select_from(t)).scalar_one()))]
    if filled:
        found.append("rows in " + ", ".join(filled))
    if found:
        raise Conflict("restore needs an empty deployment; found " + "; ".join(found))


def restore(engine: Engine, settings: Settings, source: IO[bytes], identities: list[Identity],
            now: datetime) -> Restored:
    """Restore the backup read from ``source`` into the empty deployment; what was put back."""
    ensure_empty(engine, settings)
    staging = settings.data_dir / f".restore-{secrets.token_hex(6)}"
    staging.mkdir(parents=True, mode=0o700)
    key_path = keyfile.key_path(settings.data_dir, settings.key_file)
    placed: list[Path] = []
    try:
        reader = _Reader(engine, staging)
        try:
            piped(lambda sink: agecrypt.decrypt_stream(source, sink, identities, "the backup"), reader.read)
            restored = reader.finish(now)
            placed = _place(staging, settings.data_dir, key_path, reader.key)
            reader.transaction.commit()
        finally:
            reader.close()
        if restored.revision != migrate.head_revision():
            migrate.upgrade(engine)  # an older backup: the rows go through the migrations since
            with engine.begin() as conn:
                restored.switches_woken = wake_switches(conn, reader.key, restored.taken_at, now)
        return restored
    except BaseException:
        for path in placed:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _Reader:
    """Reads the tar stream: rows into one open transaction, files into the staging folder, each part hashed."""

    def __init__(self, engine: Engine, staging: Path) -> None:
        self.engine, self.staging = engine, staging
        self.conn: Connection | None = None
        self.transaction: Any = None
        self.header: dict[str, Any] | None = None
        self.manifest: dict[str, Any] | None = None
        self.sums: dict[str, dict[str, Any]] = {}
        self.key = keyfile.DeploymentKey(b"")
        self.rows: dict[str, int] = {}
        self.blobs: set[str] = set()
        self.packages = 0
        self.bytes = 0

    def read(self, stream: IO[bytes]) -> None:
        tables = {t.name: t for t in snapshot.tables()}
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in members(tar):
                handle = tar.extractfile(info)
                assert handle is not None
                name = info.name
                if self.manifest is not None:
                    raise Conflict(f"the backup holds {name!r} after its manifest: expected the manifest last")
                if self.header is None and name != HEADER:
                    raise Conflict(f"the backup starts with {name!r}: expected {HEADER} (is this a Baton backup?)")
                if name == MANIFEST:
                    self.manifest = json.loads(self._bytes(name, handle))
                elif name == HEADER:
                    self._begin(json.loads(self._bytes(name, handle)))
                elif (found := _TABLE_PART.fullmatch(name)) and found[1] in tables:
                    rows = [json.loads(line) for line in self._bytes(name, handle).splitlines() if line]
                    assert self.conn is not None
                    self.rows[found[1]] = self.rows.get(found[1], 0) + snapshot.load(self.conn, tables[found[1]],
                                                                                       rows)
                elif name == KEY:
                    secret = self._bytes(name, handle).decode("ascii", "replace").strip()
                    if not re.fullmatch(r"[0-9a-f]{64}", secret):
                        raise Conflict("the backup's key file: expected 64 hexadecimal characters")
                    self.key = keyfile.DeploymentKey(bytes.fromhex(secret))
                elif found := _BLOB_PART.fullmatch(name):
                    if self._file(name, handle, self.staging / "blobs" / found[1][:2] / found[1]) != found[1]:
                        raise Conflict(f"the backup's blob {found[1]} does not match its name (SHA-256)")
                    self.blobs.add(found[1])
                elif found := _PACKAGE_PART.fullmatch(name):
                    self._file(name, handle, self.staging / "packages" / found[1])
                    self.packages += 1
                else:
                    raise Conflict(f"the backup holds {name!r}: not a part of a Baton backup")

    def _begin(self, header: dict[str, Any]) -> None:
        if header.get("format") != FORMAT:
            raise Conflict(f"expected a backup in the format {FORMAT}, got {header.get('format')!r}")
        revision = str(header.get("revision"))
        known = migrate.known_revisions()
        if revision not in known:
            raise Conflict(f"the backup is at schema revision {revision}, which this Baton does not know "
                           f"(newest: {migrate.head_revision()}): restore it with the Baton that made it, or newer")
        current = migrate.current_revision(self.engine)
        if current not in (None, revision):
            raise Conflict(f"the empty target database is at schema revision {current}, the backup at {revision}: "
                           "restore into a database without Baton's tables")
        migrate.upgrade(self.engine, revision)
        self.header = header
        self.conn = self.engine.connect()
        self.transaction = self.conn.begin()

    def _bytes(self, name: str, handle: IO[bytes]) -> bytes:
        data = handle.read()
        self.sums[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        return data

    def _file(self, name: str, handle: IO[bytes], target: Path) -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with open(target, "wb") as out:
            while chunk := handle.read(COPY_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        self.sums[name] = {"sha256": digest.hexdigest(), "size": size}
        self.bytes += size
        return digest.hexdigest()

    def finish(self, now: datetime) -> Restored:
        """Every check before the commit; the summary."""
        if self.header is None or self.conn is None:
            raise Conflict("the backup is empty: expected a Baton backup")
        if self.manifest is None:
            raise Conflict("the backup ends before its manifest: it is truncated")
        listed: dict[str, Any] = self.manifest.get("parts", {})
        listed_header = {HEADER, *listed}
        for name in sorted(listed_header | set(self.sums) - {MANIFEST}):
            if name == MANIFEST:
                continue
            if name not in self.sums:
                raise Conflict(f"the backup lacks {name}, which its manifest lists")
            if listed.get(name) != self.sums[name]:
                raise Conflict(f"the backup's part {name} does not match its manifest's SHA-256")
        expected = {k: v for k, v in self.manifest.get("rows", {}).items() if v}
        if {k: v for k, v in self.rows.items() if v} != expected:
            raise Conflict("the rows read do not match the manifest's counts of rows per table")
        conn = self.conn
        check = conn.execute(select(deployment_keys.c.public).where(
            deployment_keys.c.purpose == keyfile.CHECK_PURPOSE)).scalar()
        if check is None or not secrets.compare_digest(str(check), self.key.check_value()):
            raise Conflict("the backup's key file is not the one its database was set up with")
        from baton.store import blobs
        missing = blobs.referenced(conn) - self.blobs
        if missing:
            raise Conflict(f"the backup lacks {len(missing)} blob(s) its rows name, e.g. {sorted(missing)[0]}")
        snapshot.reset_sequences(conn)
        restored = Restored(self.header["taken_at"], self.header["revision"], dict(self.rows), len(self.blobs),
                            self.packages, self.bytes)
        if restored.revision == migrate.head_revision():
            restored.switches_woken = wake_switches(conn, self.key, restored.taken_at, now)
        for owner_id in conn.execute(select(owners.c.id).order_by(owners.c.id)).scalars():
            count, problem = auditlog.verify(conn, owner_id)
            if problem is not None:
                raise Conflict(f"the audit chain of owner {owner_id} in the backup is broken at {problem}")
            restored.audit_entries += count
            restored.owners += 1
        return restored

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _place(staging: Path, data_dir: Path, key_path: Path, key: keyfile.DeploymentKey) -> list[Path]:
    """Move the blobs and packages in and write the key file (mode 0600); what was placed."""
    placed = []
    for folder in ("blobs", "packages"):
        source, target = staging / folder, data_dir / folder
        if source.is_dir():
            if target.is_dir():  # empty but for the store's lock (``ensure_empty``)
                shutil.rmtree(target)
            source.replace(target)
            placed.append(target)
    keyfile.write(key_path, key)
    placed.append(key_path)
    return placed


def wake_switches(conn: Connection, key: keyfile.DeploymentKey, taken_at: str, now: datetime) -> list[str]:
    """Wake every restored switch from the shelf (``switch.shelf``); each owner's audit chain records the
    restore, and a switch moved by it a transition saying why. The reasons of the switches moved."""
    signer = signing.signer_in(conn, key)
    moved = []
    rows = conn.execute(select(switches).order_by(switches.c.id)).all()
    for row in rows:
        policy, state = policy_from_dict(row.policy), state_from_dict(row.state)
        woken, why = wake_after_shelf(policy, state, now)
        data: dict[str, Any] = {"backup_taken_at": taken_at, "restored_at": iso(now)}
        if why is not None:
            timer = next_timer(policy, woken)
            due = [m for m in (timer.due if timer else None, row.change_due_at) if m is not None]
            conn.execute(update(switches).where(switches.c.id == row.id).values(
                state=state_to_dict(woken), status=str(woken.status), next_due_at=min(due) if due else None,
                version=row.version + 1, updated_at=now))
            reason = f"restored from a backup taken at {taken_at}: {why}"
            conn.execute(transitions.insert().values(
                switch_id=row.id, owner_id=row.owner_id, cycle=woken.cycle, kind="restored", reason=reason,
                due_at=now, recorded_at=now, data=data))
            data["switch"] = reason
            moved.append(reason)
        auditlog.append(conn, signer, row.owner_id, now, "deployment.restored", data)
    return moved
