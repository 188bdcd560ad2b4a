"""A compartment file's upload, in three steps so that its bytes can stream in between.

``start`` checks the version the file was made from (``If-Match``) before a byte is stored;
the caller then writes the body's chunks to the blob store as they arrive (memory stays
bounded whatever the size); ``finish`` checks the version again in the transaction that
records the new one, and only then gives the blob its name. A refused upload (a stale
version, not an age file, too large) leaves no file behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import update

from baton.errors import BadRequest, Conflict, TooLarge
from baton.services.vault import VaultService
from baton.store import auditlog
from baton.store.blobs import Incoming
from baton.store.engine import reading
from baton.store.tables import compartments


def start(vault: VaultService, owner_id: int, name: str, expected_version: int) -> Incoming:
    """An upload to ``name`` made from ``expected_version``: refused now if that is not the current one."""
    with reading(vault.engine) as conn:
        row = vault._compartment(conn, owner_id, name)
    if row.version != expected_version:
        raise _stale(name, row.version, expected_version)
    return vault.store.incoming(vault.settings.max_compartment_bytes)


def write(name: str, incoming: Incoming, chunk: bytes | bytearray) -> None:
    """Add a chunk of the file; past the limit, ``TooLarge`` naming the compartment (nothing kept)."""
    try:
        incoming.write(chunk)
    except TooLarge as exc:
        raise TooLarge(f"compartment {name!r}: {exc}; nothing was saved") from None


def finish(vault: VaultService, owner_id: int, name: str, expected_version: int,
           incoming: Incoming) -> dict[str, Any]:
    """Record the received file as the next version, if the compartment is still at ``expected_version``;
    the temporary file is removed whatever happens, and becomes a blob only with the committed row."""
    try:
        if not incoming.starts_like_age():
            raise BadRequest(f"compartment {name!r}: expected an age file (age-encryption.org/v1), got something "
                             "else; the vault only stores ciphertext")
        digest, size, now = incoming.digest, incoming.size, vault.clock.now()
        with vault.store.committing(), vault.engine.begin() as conn:
            row = vault._compartment(conn, owner_id, name, lock=True)
            done = conn.execute(update(compartments).where(
                compartments.c.id == row.id, compartments.c.version == expected_version).values(
                version=expected_version + 1, blob_sha256=digest, blob_size=size, updated_at=now))
            if done.rowcount != 1:
                raise _stale(name, row.version, expected_version)
            auditlog.append(conn, vault.signer, owner_id, now, "vault.updated",
                            {"name": name, "version": expected_version + 1, "size": size, "sha256": digest})
            vault.store.place(incoming)  # named before the row naming it commits; the sweep waits for both
    finally:
        incoming.discard()
    return {"name": name, "version": expected_version + 1, "size": size, "sha256": digest}


def upload(vault: VaultService, owner_id: int, name: str, expected_version: int,
           chunks: Iterable[bytes]) -> dict[str, Any]:
    """The three steps at once, for a file already in this process (``chunks``: its bytes, in pieces)."""
    incoming = start(vault, owner_id, name, expected_version)
    try:
        for chunk in chunks:
            write(name, incoming, chunk)
        return finish(vault, owner_id, name, expected_version, incoming)
    finally:
        incoming.discard()


def _stale(name: str, version: int, expected_version: int) -> Conflict:
    return Conflict(f"compartment {name!r} changed since you read it (it is at version {version}, you had "
                    f"{expected_version}); nothing was saved: run the command again")
