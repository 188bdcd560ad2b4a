"""A plain check-in stored in one statement: the switch, its transition and its signed audit entry.

Most check-ins only re-arm an armed switch: one ``checkin`` event, no message to anyone, no stage to
cancel. For those, what ``Recorder`` would write (the transition, the audit entry after the owner's
head) is written here with the switch's conditional update: on PostgreSQL as one data-modifying
``WITH`` statement (one round trip instead of four); on SQLite, which has no round trips to save and
no writes in ``WITH``, as the same four prepared statements the general path runs. The owner's head
moves only if the switch moved, and the entries only go in if the head moved, so the statement
writes everything or nothing. Anything else (other events, a chain signed by a key this process does
not hold yet) goes through the general path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Integer, String, bindparam, text, update

from baton.services.writes import INSERT_TRANSITION
from baton.store import auditlog
from baton.store.signing import DeploymentSigner
from baton.store.tables import UTCDateTime, switches
from switch import Kind, Step, iso
from switch.audit import next_entry

# The switch's conditional update (on the version read), for every change of a switch.
MOVE_SWITCH = update(switches).where(switches.c.id == bindparam("switch_id"), switches.c.version == bindparam("seen"))
_PG_CHECKIN = text("""
WITH s AS (
    UPDATE switches SET state = CAST(:state AS JSON), status = :status, next_due_at = :next_due_at,
        version = :version, updated_at = :now
    WHERE id = :switch_id AND version = :seen
    RETURNING id
), o AS (
    UPDATE owners SET audit_seq = :seq, audit_head = :hash
    WHERE id = :owner_id AND audit_seq = :seen_seq AND audit_key = :key AND EXISTS (SELECT FROM s)
    RETURNING id
), t AS (
    INSERT INTO transitions (switch_id, owner_id, cycle, kind, stage, who, reason, due_at, recorded_at, data)
    SELECT :switch_id, :owner_id, :cycle, :kind, CAST(:stage AS VARCHAR), CAST(:who AS VARCHAR), :reason,
        :due_at, :now, CAST(:data AS JSON) FROM o
), a AS (
    INSERT INTO audit_entries (owner_id, seq, at, kind, data, prev_hash, hash, signature)
    SELECT :owner_id, :seq, :now, :audit_kind, CAST(:audit_data AS JSON), :prev_hash, :hash, :signature FROM o
)
SELECT (SELECT count(*) FROM s) AS moved, (SELECT count(*) FROM o) AS chained
""").bindparams(
    bindparam("state", type_=JSON), bindparam("data", type_=JSON), bindparam("audit_data", type_=JSON),
    bindparam("next_due_at", type_=UTCDateTime), bindparam("now", type_=UTCDateTime),
    bindparam("due_at", type_=UTCDateTime), bindparam("stage", type_=String), bindparam("who", type_=String),
    *(bindparam(name, type_=Integer) for name in ("version", "switch_id", "seen", "seq", "owner_id", "seen_seq",
                                                   "cycle")),
)


def plain(step: Step, audit_key: str | None, signer: DeploymentSigner) -> bool:
    """Whether ``step`` can be stored here: its one event a check-in, the chain signed by our key."""
    return (len(step.events) == 1 and step.events[0].kind is Kind.CHECKIN and audit_key is not None
            and audit_key == signer.public_hex)


def store(conn: Connection, signer: DeploymentSigner, *, switch_id: int, owner_id: int, seen: int,
          audit_head: tuple[int, str | None], start_cycle: int, step: Step, values: dict[str, Any],
          now: datetime) -> bool:
    """Store a plain check-in (``plain`` said so) read locked in this transaction; False when the switch's
    version moved (nothing written). ``values`` are the switch's new columns (state, status, next_due_at,
    version, updated_at)."""
    event = step.events[0]
    seq, head = audit_head
    entry = next_entry(str(owner_id), (seq, head) if seq and head is not None else None, now, f"switch.{event.kind}",
                       {"switch": switch_id, **event.to_dict(), "recorded_at": iso(now)}, signer)
    transition = dict(switch_id=switch_id, owner_id=owner_id, cycle=start_cycle + 1, kind=str(event.kind),
                      stage=event.stage, who=event.who, reason=event.reason, due_at=event.at, recorded_at=now,
                      data=event.data)
    if conn.dialect.name == "postgresql":
        row = conn.execute(_PG_CHECKIN, {
            "state": values["state"], "status": values["status"], "next_due_at": values["next_due_at"],
            "version": values["version"], "now": now, "switch_id": switch_id, "seen": seen, "seq": entry.seq,
            "hash": entry.hash, "owner_id": owner_id, "seen_seq": seq, "key": signer.public_hex,
            "cycle": transition["cycle"], "kind": transition["kind"], "stage": event.stage, "who": event.who,
            "reason": event.reason, "due_at": event.at, "data": event.data, "audit_kind": entry.kind,
            "audit_data": entry.data, "prev_hash": entry.prev_hash, "signature": entry.signature}).one()
        if row.moved != 1:
            return False
        if row.chained != 1:  # the head was read locked with its key: only a bug gets here; roll back
            raise RuntimeError(f"audit chain of owner {owner_id} moved under us")
        return True
    moved = conn.execute(MOVE_SWITCH, {**values, "switch_id": switch_id, "seen": seen})
    if moved.rowcount != 1:
        return False
    conn.execute(INSERT_TRANSITION, transition)
    if not auditlog.move_head(conn, owner_id, seq, entry, signer.public_hex):
        raise RuntimeError(f"audit chain of owner {owner_id} moved under us")
    auditlog.insert_entry(conn, owner_id, entry)
    return True
