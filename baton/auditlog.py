"""The audit log in the database: append to an owner's chain, read it, verify it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from baton.db import audit_entries, owners
from baton.signing import Ed25519Check, Ed25519Signer
from switch.audit import AuditEntry, ChainProblem, next_entry, verify_chain


def append(conn: Connection, signer: Ed25519Signer, owner_id: int, at: datetime, kind: str,
           data: dict[str, Any]) -> AuditEntry:
    """Append one signed entry to the owner's chain, in the caller's transaction.

    The owner row is locked (PostgreSQL) and its head is moved by a conditional update,
    so two writers can never both append entry N.
    """
    head = conn.execute(select(owners.c.audit_seq, owners.c.audit_head)
                        .where(owners.c.id == owner_id).with_for_update()).one()
    last = (head.audit_seq, head.audit_head) if head.audit_seq else None
    entry = next_entry(str(owner_id), last, at, kind, data, signer)
    moved = conn.execute(update(owners).where(owners.c.id == owner_id, owners.c.audit_seq == head.audit_seq)
                         .values(audit_seq=entry.seq, audit_head=entry.hash))
    if moved.rowcount != 1:
        raise RuntimeError(f"audit chain of owner {owner_id} moved under us")
    conn.execute(insert(audit_entries).values(
        owner_id=owner_id, seq=entry.seq, at=entry.at, kind=entry.kind, data=entry.data,
        prev_hash=entry.prev_hash, hash=entry.hash, signature=entry.signature))
    return entry


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
