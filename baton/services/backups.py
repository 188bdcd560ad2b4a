"""Backups: one consistent snapshot of a deployment — its rows, blobs, built packages and key file —
as a tar stream encrypted with age to the operator's recipients, in bounded memory.

The parts, in order: ``backup.json`` (format, schema revision, when it was taken), each table's rows as
JSON lines in chunks (``tables/<table>/<n>.jsonl``, parents first), the key file (``keys/deployment.key``),
every blob a row names (``blobs/<sha256>``), each built package's zip (``packages/<folder>.zip``), and last
``manifest.json``: every part's SHA-256 and size, and the rows per table. ``services.restore`` reads it back.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, select

from baton.errors import Conflict
from baton.settings import Settings
from baton.store import blobs, keyfile, migrate, snapshot
from baton.store.tables import packages
from switch import iso
from vault import agecrypt
from vault.keys import RecipientKey

FORMAT = "baton-backup/1"
HEADER = "backup.json"
MANIFEST = "manifest.json"
KEY = "keys/deployment.key"
COPY_CHUNK = 1 << 20


@dataclass
class Summary:
    """What a backup holds (or a restore put back): rows per table, blobs and packages, bytes."""

    taken_at: str
    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    packages: int = 0
    bytes: int = 0


class _Parts:
    """The tar being written, hashing every part as it goes (for the manifest)."""

    def __init__(self, tar: tarfile.TarFile, mtime: float) -> None:
        self.tar, self.mtime = tar, mtime
        self.sums: dict[str, dict[str, Any]] = {}

    def add_bytes(self, name: str, data: bytes) -> None:
        self._add(name, len(data), io.BytesIO(data))

    def add_file(self, name: str, path: Path) -> int:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            self._add(name, size, handle)
        return size

    def _add(self, name: str, size: int, source: IO[bytes]) -> None:
        digest = hashlib.sha256()
        reader = _Hashing(source, digest)
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(self.mtime), 0o600
        self.tar.addfile(info, reader)
        self.sums[name] = {"sha256": digest.hexdigest(), "size": size}


@dataclass
class _Hashing:
    source: IO[bytes]
    digest: Any

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        return data


def write_backup(engine: Engine, settings: Settings, recipients: list[RecipientKey], out: IO[bytes],
                 now: datetime) -> Summary:
    """Write the encrypted backup of the deployment to ``out``; what it holds."""
    if not recipients:
        raise ValueError("a backup needs at least one recipient")
    revision = migrate.current_revision(engine)
    if revision is None or revision != migrate.head_revision():
        raise Conflict(f"the database is at revision {revision}, expected {migrate.head_revision()}; "
                       "run `baton db upgrade` first")
    key_path = keyfile.key_path(settings.data_dir, settings.key_file)
    if not key_path.exists():
        raise Conflict(f"the key file {key_path} is missing: without it the backup could open nothing; set "
                       "BATON_KEY_FILE to where it is")
    keyfile.load(key_path, engine)  # the key file this database was set up with, or a clear refusal
    summary = Summary(iso(now), revision)
    store = blobs.BlobStore(settings.data_dir / "blobs")

    def produce(sink: IO[bytes]) -> None:
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            parts = _Parts(tar, now.timestamp())
            parts.add_bytes(HEADER, _json({"format": FORMAT, "revision": revision, "taken_at": iso(now),
                                           "database": engine.dialect.name,
                                           "tables": [t.name for t in snapshot.tables()]}))
            # The sweep waits while the backup copies blobs: none a row of the snapshot names can go.
            with store.committing(), snapshot.consistent_read(engine) as conn:
                for table in snapshot.tables():
                    summary.rows[table.name] = 0
                    for number, rows in enumerate(snapshot.chunks(conn, table), 1):
                        parts.add_bytes(f"tables/{table.name}/{number:06d}.jsonl",
                                        b"".join(_json(row, indent=None) for row in rows))
                        summary.rows[table.name] += len(rows)
                parts.add_bytes(KEY, key_path.read_bytes())
                for digest in sorted(blobs.referenced(conn)):
                    summary.bytes += parts.add_file(f"blobs/{digest}", store.path(digest))
                    summary.blobs += 1
                for folder in conn.execute(select(packages.c.folder).where(packages.c.built_at.is_not(None))
                                           .order_by(packages.c.id)).scalars():
                    archive = settings.data_dir / "packages" / f"{folder}.zip"
                    if archive.exists():  # a package whose zip is gone is built again on its next download
                        summary.bytes += parts.add_file(f"packages/{folder}.zip", archive)
                        summary.packages += 1
            parts.add_bytes(MANIFEST, _json({"format": FORMAT, "parts": parts.sums, "rows": summary.rows}))

    piped(produce, lambda source: agecrypt.encrypt_stream(source, out, recipients))
    return summary


def piped(produce: Callable[[IO[bytes]], None], consume: Callable[[IO[bytes]], None]) -> None:
    """Run ``produce`` (writing) in a thread and ``consume`` (reading) here, joined by a pipe; the first
    error of either is raised, and neither is left waiting on the other."""
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink:
                produce(sink)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="baton-backup-pipe", daemon=True)
    thread.start()
    try:
        with os.fdopen(read_fd, "rb") as source:
            consume(source)
            while source.read(COPY_CHUNK):  # whatever the consumer left: the producer must finish
                pass
    except BaseException:
        thread.join()
        if errors and not isinstance(errors[0], BrokenPipeError):
            raise errors[0] from None
        raise
    thread.join()
    if errors:
        raise errors[0]


def _json(value: Any, indent: int | None = 2) -> bytes:
    return (json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=True) + "\n").encode()


def recipients_from(texts: list[str], files: list[Path]) -> list[RecipientKey]:
    """Recipients given one by one and in files (one a line; blank lines and ``#`` comments skipped)."""
    from vault.keys import parse_recipient
    found = [parse_recipient(t) for t in texts]
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise Conflict(f"cannot read the recipients file {path}: {exc.strerror}") from None
        found += [parse_recipient(line.strip()) for line in lines if line.strip() and not line.startswith("#")]
    return found


def members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The tar's regular files in order (anything else is refused: a backup holds only files)."""
    for info in tar:
        if not info.isfile():
            raise Conflict(f"the backup holds {info.name!r}, which is not a plain file: expected only files")
        yield info
