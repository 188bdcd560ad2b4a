"""Ciphertext on disk, addressed by its SHA-256: compartment files too big for a database row.

A blob is written to a temporary name, hashed while written (SHA-256, and the CRC-32 a
zip needs, kept beside it), fsynced and renamed, so a crash never leaves half a file
under a real name. Blobs never change; a new version of a
compartment is a new blob. Several processes share the store through one data folder.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zlib
from pathlib import Path
from typing import IO

AGE_MAGIC = b"age-encryption.org/v1\n"


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest

    def put(self, source: IO[bytes], limit: int) -> tuple[str, int]:
        """Store what ``source`` yields; returns its digest and size. Raises ``ValueError`` past ``limit``."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".incoming-{secrets.token_hex(8)}"
        hasher, size, crc = hashlib.sha256(), 0, 0
        try:
            with open(tmp, "wb") as out:
                while chunk := source.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise ValueError(f"larger than the limit of {limit} bytes")
                    hasher.update(chunk)
                    crc = zlib.crc32(chunk, crc)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            target = self.path(digest)
            target.parent.mkdir(exist_ok=True)
            self._write_crc(digest, crc)
            tmp.replace(target)
            return digest, size
        finally:
            tmp.unlink(missing_ok=True)

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
