"""Ciphertext on disk, addressed by its SHA-256: compartment files too big for a database row.

A blob is written to a temporary name, hashed while written, fsynced and renamed, so a
crash never leaves half a file under a real name. Blobs never change; a new version of a
compartment is a new blob. Several processes share the store through one data folder.
"""

from __future__ import annotations

import hashlib
import os
import secrets
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
        hasher, size = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as out:
                while chunk := source.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise ValueError(f"larger than the limit of {limit} bytes")
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            target = self.path(digest)
            target.parent.mkdir(exist_ok=True)
            tmp.replace(target)
            return digest, size
        finally:
            tmp.unlink(missing_ok=True)

    def starts_like_age(self, digest: str) -> bool:
        with open(self.path(digest), "rb") as handle:
            return handle.read(len(AGE_MAGIC)) == AGE_MAGIC
