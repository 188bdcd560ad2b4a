"""The audit log in the database: append to an owner's chain, read it, verify it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from baton.store.signing import Ed25519Check, Ed25519Signer
from baton.store.tables import audit_entries, owners
from switch.audit import AuditEntry, ChainProblem, next_entry, verify_chain

# Built once (appending is on every check-in's path). SQLite ignores FOR UPDATE: its
# transactions are BEGIN IMMEDIATE, which serialises writers anyway.
_HEAD = select(owners.c.audit_seq, owners.c.audit_head).where(owners.c.id == bindparam("owner_id")).with_for_update()
_MOVE_HEAD = update(owners).where(owners.c.id == bindparam("owner_id"), owners.c.audit_seq == bindparam("seen"))
_INSERT = insert(audit_entries)


def append(conn: Connection, signer: Ed25519Signer, owner_id: int, at: datetime, kind: str,
           data: dict[str, Any], head: tuple[int, str | None] | None = None) -> AuditEntry:
    """Append one signed entry to the owner's chain, in the caller's transaction.

    The owner row is locked (PostgreSQL) and its head is moved by a conditional update,
    so two writers can never both append entry N. A caller that already read the head
    with the row locked in this transaction passes it as ``head``.
    """
    seq, digest = head if head is not None else tuple(conn.execute(_HEAD, {"owner_id": owner_id}).one())
    entry = next_entry(str(owner_id), (seq, digest) if seq else None, at, kind, data, signer)
    moved = conn.execute(_MOVE_HEAD, {"owner_id": owner_id, "seen": seq, "audit_seq": entry.seq,
                                      "audit_head": entry.hash})
    if moved.rowcount != 1:
        raise RuntimeError(f"audit chain of owner {owner_id} moved under us")
    conn.execute(_INSERT, {"owner_id": owner_id, "seq": entry.seq, "at": entry.at, "kind": entry.kind,
                           "data": entry.data, "prev_hash": entry.prev_hash, "hash": entry.hash,
                           "signature": entry.signature})
    return entry


def head(conn: Connection, owner_id: int) -> tuple[int, str | None]:
    """The owner's audit head as this transaction sees it (after an action appended on its own)."""
    row = conn.execute(select(owners.c.audit_seq, owners.c.audit_head).where(owners.c.id == owner_id)).one()
    return int(row.audit_seq), row.audit_head


def entries(conn: Connection, owner_id: int) -> list[AuditEntry]:
    """The owner's entries in stored order."""
    rows = conn.execute(select(audit_entries).where(audit_entries.c.owner_id == owner_id)
                        .order_by(audit_entries.c.id)).all()
    return [AuditEntry(r.seq, r.at, r.kind, r.data, r.prev_hash, r.hash, r.signature) for r in rows]


def verify(conn: Connection, signer: Ed25519Signer, owner_id: int) -> tuple[int, ChainProblem | None]:
    """How many entries the owner's chain holds, and its first problem (or None)."""
    head = conn.execute(select(owners.c.audit_seq, owners.c.audit_head).where(owners.c.id == owner_id)).one()
    chain = entries(conn, owner_id)
    problem = verify_chain(str(owner_id), chain, Ed25519Check(signer.key.verify_key),
                           head=(head.audit_seq, head.audit_head or ""))
    return len(chain), problem
