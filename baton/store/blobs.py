"""Ciphertext on disk, addressed by its SHA-256: compartment files too big for a database row.

A blob arrives in chunks (``incoming``): written to a temporary file in the store and hashed
as it comes (SHA-256, and the CRC-32 a zip needs, kept beside it), so memory stays bounded
whatever its size. Only once the row that will name it is about to be committed is it
fsynced and renamed to its digest (``place``), so a crash never leaves half a file under a
real name, and an upload refused meanwhile leaves nothing behind. Blobs never change; a new
version of a compartment is a new blob, and the old one is deleted by ``sweep`` once no row
refers to it and it is older than the retention. Several processes share the store through
one data folder: a file lock keeps the sweep from deleting a blob between its placing and
the commit of the row that names it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, select, union

from baton.errors import TooLarge
from baton.store.tables import compartments, packages

AGE_MAGIC = b"age-encryption.org/v1\n"
INCOMING = ".incoming-"  # a blob being received; fresh while it is written to
_DIGEST = re.compile(r"[0-9a-f]{64}")


class Incoming:
    """A blob being received: chunks go to a temporary file in the store, hashed as they come."""

    def __init__(self, root: Path, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.head = b""  # the first bytes, to tell an age file
        self._hasher = hashlib.sha256()
        self._crc = 0
        self.path: Path | None = root / f"{INCOMING}{secrets.token_hex(8)}"
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed by ``finish`` or ``discard``

    def write(self, chunk: bytes | bytearray) -> None:
        """Add a chunk; ``TooLarge`` (the file removed) once the blob passes its limit."""
        assert self._file is not None, "the blob was already placed or discarded"
        if self.size + len(chunk) > self.limit:
            self.discard()
            raise TooLarge(f"expected at most {self.limit} bytes, got more")
        self.size += len(chunk)
        if len(self.head) < len(AGE_MAGIC):
            self.head += bytes(chunk[:len(AGE_MAGIC) - len(self.head)])
        self._hasher.update(chunk)
        self._crc = zlib.crc32(chunk, self._crc)
        self._file.write(chunk)

    @property
    def digest(self) -> str:
        return self._hasher.hexdigest()

    @property
    def crc32(self) -> int:
        return self._crc

    def starts_like_age(self) -> bool:
        return self.head == AGE_MAGIC

    def finish(self) -> Path:
        """Flush the whole file to disk; its temporary path, to be renamed."""
        assert self._file is not None and self.path is not None, "the blob was already placed or discarded"
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        return self.path

    def discard(self) -> None:
        """Remove what was received (nothing once the blob was placed); safe to call again."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest

    def incoming(self, limit: int) -> Incoming:
        """A blob to receive in chunks (at most ``limit`` bytes); ``place`` it, or ``discard`` it."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Incoming(self.root, limit)

    def place(self, incoming: Incoming) -> str:
        """Put a received blob under its digest and return the digest. Call it inside ``committing``,
        in the transaction of the row that names it, so the sweep cannot take it before that commits."""
        digest = incoming.digest
        source = incoming.finish()
        target = self.path(digest)
        target.parent.mkdir(exist_ok=True)
        self._write_crc(digest, incoming.crc32)
        if target.exists():  # the same bytes are here already: keep them, fresh again for the sweep
            os.utime(target)
            incoming.discard()
        else:
            source.replace(target)
            incoming.path = None
        return digest

    @contextmanager
    def committing(self) -> Iterator[None]:
        """Held (shared) from placing a blob until the row naming it is committed: the sweep waits."""
        with self._locked(fcntl.LOCK_SH):
            yield

    def sweep(self, referenced: Callable[[], set[str]], cutoff: float) -> list[str]:
        """Delete blobs no row refers to and temporary files, each only if last changed before ``cutoff``
        (seconds since the epoch); the names removed. ``referenced`` is asked under the lock, after every
        upload placing a blob has committed its row. Several sweeps at once are harmless."""
        old = [path for path in self._files() if _mtime(path) < cutoff]
        if not old:
            return []
        removed = []
        with self._locked(fcntl.LOCK_EX):
            keep = referenced()
            for path in old:
                name = path.name
                if _DIGEST.fullmatch(name) and name in keep:
                    continue
                if name.endswith(".crc32") and _DIGEST.fullmatch(name[:-6]) and (
                        name[:-6] in keep or path.with_suffix("").exists()):
                    continue  # a blob's own CRC goes with the blob
                if _mtime(path) >= cutoff:  # touched meanwhile: the same bytes were uploaded again
                    continue
                path.unlink(missing_ok=True)
                if _DIGEST.fullmatch(name):
                    path.with_suffix(".crc32").unlink(missing_ok=True)
                removed.append(name)
        return removed

    def _files(self) -> Iterator[Path]:
        """Every file of the store but its lock: blobs, their CRCs, and temporary files."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.is_dir() and len(entry.name) == 2:
                yield from (f for f in entry.iterdir() if f.is_file())
            elif entry.name.startswith(INCOMING):
                yield entry

    @contextmanager
    def _locked(self, kind: int) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as handle:
            fcntl.flock(handle, kind)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def crc32(self, digest: str) -> int:
        """The blob's CRC-32 (for zips), kept beside it; computed once if missing."""
        side = self.path(digest).with_suffix(".crc32")
        try:
            return int(side.read_text(), 16)
        except (FileNotFoundError, ValueError):
            crc = 0
            with open(self.path(digest), "rb") as handle:
                while chunk := handle.read(1 << 20):
                    crc = zlib.crc32(chunk, crc)
            self._write_crc(digest, crc)
            return crc

    def _write_crc(self, digest: str, crc: int) -> None:
        side = self.path(digest).with_suffix(".crc32")
        side.parent.mkdir(parents=True, exist_ok=True)
        tmp = side.with_name(f".{side.name}.{secrets.token_hex(4)}")
        tmp.write_text(f"{crc:08x}")
        tmp.replace(side)

    def starts_like_age(self, digest: str) -> bool:
        with open(self.path(digest), "rb") as handle:
            return handle.read(len(AGE_MAGIC)) == AGE_MAGIC


def referenced(conn: Connection) -> set[str]:
    """The digests rows refer to: compartments' current files and packages' (built or not)."""
    query = union(select(compartments.c.blob_sha256).where(compartments.c.blob_sha256.is_not(None)),
                  select(packages.c.blob_sha256))
    return {str(digest) for digest in conn.execute(query).scalars()}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone already (another sweep): nothing to do

