"""The audit log in the database: append to an owner's chain, read it, verify it.

Each owner's row names the key that signs the chain's next entry (``audit_key``); an append is
conditional on it, so a process still holding a key the deployment replaced (``services.signingkeys``)
cannot sign after the rotation: it loads the new key and signs again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from baton.store.signing import DeploymentSigner, current_check
from baton.store.tables import audit_entries, owners
from switch.audit import AuditEntry, ChainProblem, next_entry, rotation, verify_chain

# Built once (appending is on every check-in's path). SQLite ignores FOR UPDATE: its
# transactions are BEGIN IMMEDIATE, which serialises writers anyway.
_HEAD = select(owners.c.audit_seq, owners.c.audit_head).where(owners.c.id == bindparam("owner_id")).with_for_update()
_MOVE_HEAD = update(owners).where(owners.c.id == bindparam("owner_id"), owners.c.audit_seq == bindparam("seen"),
                                  owners.c.audit_key == bindparam("key"))
_INSERT = insert(audit_entries)
# Many owners' heads, locked in id order (two writers of batches never wait on each other in a circle).
_HEADS = select(owners.c.id, owners.c.audit_seq, owners.c.audit_head, owners.c.audit_key).where(
    owners.c.id.in_(bindparam("ids", expanding=True))).order_by(owners.c.id).with_for_update()
_MOVE_HEADS = update(owners).where(owners.c.id == bindparam("owner_id"), owners.c.audit_seq == bindparam("seen"))
Item = tuple[int, datetime, str, dict[str, Any]]  # owner id, moment, kind, data


def append(conn: Connection, signer: DeploymentSigner, owner_id: int, at: datetime, kind: str,
           data: dict[str, Any], head: tuple[int, str | None] | None = None) -> AuditEntry:
    """Append one signed entry to the owner's chain, in the caller's transaction.

    The owner row is locked (PostgreSQL) and its head is moved by a conditional update,
    so two writers can never both append entry N. A caller that already read the head
    with the row locked in this transaction passes it as ``head``.
    """
    seq, digest = head if head is not None else tuple(conn.execute(_HEAD, {"owner_id": owner_id}).one())
    last = (seq, digest) if seq else None
    entry = next_entry(str(owner_id), last, at, kind, data, signer)
    if not move_head(conn, owner_id, seq, entry, signer.public_hex):
        _take_current_key(conn, signer, owner_id, seq)
        entry = next_entry(str(owner_id), last, at, kind, data, signer)
        if not move_head(conn, owner_id, seq, entry, signer.public_hex):
            raise RuntimeError(f"audit chain of owner {owner_id} moved under us")
    insert_entry(conn, owner_id, entry)
    return entry


def append_many(conn: Connection, signer: DeploymentSigner, items: Sequence[Item]) -> list[AuditEntry]:
    """Append many entries, several owners' at once, in the caller's transaction: each owner's in the
    order given, chained and signed as ``append`` would, written with one multi-row insert and one head
    move per owner. The owners' rows are locked (in id order) and read first; a chain signed by a key this
    process does not hold after a ``refresh`` is refused (``RuntimeError``), as ``append`` refuses it."""
    if not items:
        return []
    ids = sorted({owner_id for owner_id, *_ in items})
    heads = {r.id: r for r in conn.execute(_HEADS, {"ids": ids})}
    missing = [owner_id for owner_id in ids if owner_id not in heads]
    if missing:
        raise RuntimeError(f"audit chain of owner {missing[0]}: no such owner")
    if any(r.audit_key not in (None, signer.public_hex) for r in heads.values()):
        signer.refresh(conn)
        for r in heads.values():
            if r.audit_key not in (None, signer.public_hex):
                raise RuntimeError(f"audit chain of owner {r.id} is signed by a key this deployment does not use")
    chain: dict[int, tuple[int, str | None]] = {owner_id: (r.audit_seq, r.audit_head) for owner_id, r in heads.items()}
    made: list[AuditEntry] = []
    rows: list[dict[str, Any]] = []
    for owner_id, at, kind, data in items:
        seq, digest = chain[owner_id]
        entry = next_entry(str(owner_id), (seq, digest or "") if seq else None, at, kind, data, signer)
        chain[owner_id] = (entry.seq, entry.hash)
        made.append(entry)
        rows.append({"owner_id": owner_id, "seq": entry.seq, "at": entry.at, "kind": entry.kind, "data": entry.data,
                     "prev_hash": entry.prev_hash, "hash": entry.hash, "signature": entry.signature})
    moves = [{"owner_id": owner_id, "seen": heads[owner_id].audit_seq, "audit_seq": seq, "audit_head": digest,
              "audit_key": signer.public_hex} for owner_id, (seq, digest) in chain.items()]
    moved = conn.execute(_MOVE_HEADS, moves)
    if conn.dialect.supports_sane_multi_rowcount and moved.rowcount != len(moves):
        raise RuntimeError("audit chains moved under us")
    conn.execute(_INSERT, rows)
    return made


def rotate(conn: Connection, old: DeploymentSigner, new: DeploymentSigner, owner_id: int,
           at: datetime) -> None:
    """Record in the owner's chain that ``new`` replaces ``old``: the old key signs the first entry,
    the new key the second. The caller holds every owner row (``services.signingkeys``)."""
    seq, digest = conn.execute(_HEAD, {"owner_id": owner_id}).one()
    pair = rotation(str(owner_id), (seq, digest) if seq else None, at, old, old.public_hex, new, new.public_hex)
    moved = conn.execute(update(owners).where(owners.c.id == owner_id, owners.c.audit_seq == seq)
                         .values(audit_seq=pair[1].seq, audit_head=pair[1].hash, audit_key=new.public_hex))
    if moved.rowcount != 1:
        raise RuntimeError(f"audit chain of owner {owner_id} moved under us")
    for entry in pair:
        insert_entry(conn, owner_id, entry)


def move_head(conn: Connection, owner_id: int, seen: int, entry: AuditEntry, key: str) -> bool:
    """Move the owner's head from ``seen`` to ``entry`` if the chain is still signed by ``key``."""
    moved = conn.execute(_MOVE_HEAD, {"owner_id": owner_id, "seen": seen, "key": key, "audit_seq": entry.seq,
                                      "audit_head": entry.hash, "audit_key": key})
    return bool(moved.rowcount == 1)


def _take_current_key(conn: Connection, signer: DeploymentSigner, owner_id: int, seen: int) -> None:
    """The head did not move: the owner's chain is new (no key named yet) or its key was replaced."""
    row = conn.execute(select(owners.c.audit_seq, owners.c.audit_key).where(owners.c.id == owner_id)).one()
    if row.audit_seq != seen:
        raise RuntimeError(f"audit chain of owner {owner_id} moved under us")
    signer.refresh(conn)
    if row.audit_key is None:  # the first entry of a new owner: the key in use now signs it
        conn.execute(update(owners).where(owners.c.id == owner_id, owners.c.audit_key.is_(None))
                     .values(audit_key=signer.public_hex))
    elif row.audit_key != signer.public_hex:
        raise RuntimeError(f"audit chain of owner {owner_id} is signed by a key this deployment does not use")


def insert_entry(conn: Connection, owner_id: int, entry: AuditEntry) -> None:
    """Store an entry whose head was moved (``move_head``) in this transaction."""
    conn.execute(_INSERT, {"owner_id": owner_id, "seq": entry.seq, "at": entry.at, "kind": entry.kind,
                           "data": entry.data, "prev_hash": entry.prev_hash, "hash": entry.hash,
                           "signature": entry.signature})


def head(conn: Connection, owner_id: int) -> tuple[int, str | None]:
    """The owner's audit head as this transaction sees it (after an action appended on its own)."""
    row = conn.execute(select(owners.c.audit_seq, owners.c.audit_head).where(owners.c.id == owner_id)).one()
    return int(row.audit_seq), row.audit_head


def entries(conn: Connection, owner_id: int) -> list[AuditEntry]:
    """The owner's entries in stored order."""
    rows = conn.execute(select(audit_entries).where(audit_entries.c.owner_id == owner_id)
                        .order_by(audit_entries.c.id)).all()
    return [AuditEntry(r.seq, r.at, r.kind, r.data, r.prev_hash, r.hash, r.signature) for r in rows]


def verify(conn: Connection, owner_id: int) -> tuple[int, ChainProblem | None]:
    """How many entries the owner's chain holds, and its first problem (or None). The chain must end
    with the deployment's current key, and reach back through its rotations."""
    head = conn.execute(select(owners.c.audit_seq, owners.c.audit_head).where(owners.c.id == owner_id)).one()
    chain = entries(conn, owner_id)
    problem = verify_chain(str(owner_id), chain, current_check(conn), head=(head.audit_seq, head.audit_head or ""))
    return len(chain), problem
