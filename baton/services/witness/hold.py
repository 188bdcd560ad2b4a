"""Never twice across a primary crash right after a stage: the messages of a fire or a stage of a switch that
has witnesses are written *held* (claimed by ``HOLDER`` until a bounded moment), in the transaction that
records the transition; they are let go only once every witness of the switch was sent a heartbeat carrying
a state that includes that transition (answered or not: an unreachable witness does not hold the release
back). So when the primary dies after the commit and before the push, nothing of that stage was delivered
either: the witness running it is the first delivery, not a second one.

Only switches with witnesses pay: ``hold`` asks ``witness_links`` once per transaction that fired or ran a
stage, and writes nothing for the others; the push happens after the commit (``push_pending``), outside any
transaction, bounded by ``BATON_WITNESS_TIMEOUT`` per witness. A process that dies before the push leaves the
rows held until ``held_until``: by then every live serving process has sent its heartbeat (which lets them
go), and a primary restarting asks (and tells) its witnesses before its worker starts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from baton.store.tables import outbox
from baton.store.witness_tables import witness_links
from switch import Kind

HOLDER = "witness-hold"
_lock = threading.Lock()


def held_for(settings: Any) -> timedelta:
    """How long held messages wait at most for the push: a heartbeat period and two round trips."""
    return timedelta(seconds=settings.witness_heartbeat_seconds + 2 * settings.witness_timeout)


def fires(events: Iterable[Any]) -> bool:
    """Whether a step's events fire the switch or run a stage (what a witness must hear before delivery)."""
    return any(e.kind in (Kind.FIRED, Kind.STAGE) for e in events)


def hold(conn: Connection, service: Any, owner_ids: Iterable[int], now: datetime) -> set[int]:
    """In the transaction that recorded a fire or a stage for ``owner_ids``: hold the messages it wrote for
    the owners with witnesses (they are remembered on ``service.witness_pending`` for the push); which."""
    wanted = set(owner_ids)
    if not wanted:
        return set()
    linked = set(conn.execute(select(witness_links.c.owner_id).where(witness_links.c.owner_id.in_(wanted))).scalars())
    if not linked:
        return set()
    conn.execute(update(outbox).where(outbox.c.owner_id.in_(linked), outbox.c.sent_at.is_(None),
                                      outbox.c.claimed_by.is_(None), outbox.c.next_attempt_at >= now,
                                      outbox.c.created_at >= now)
                 .values(claimed_by=HOLDER, claimed_until=now + held_for(service.settings)))
    with _lock:
        service.witness_pending.update(linked)
    return linked


def held_ids(conn: Connection, owner_id: int) -> list[int]:
    """The owner's messages held now, read in the snapshot the pushed state is read in."""
    return list(conn.execute(select(outbox.c.id).where(outbox.c.owner_id == owner_id, outbox.c.claimed_by == HOLDER,
                                                       outbox.c.sent_at.is_(None))).scalars())


def release(engine: Engine, ids: list[int]) -> None:
    """Let go the held messages ``ids`` (every witness was sent a state including their transition)."""
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.claimed_by == HOLDER)
                     .values(claimed_by=None, claimed_until=None))


def take_pending(service: Any) -> set[int]:
    """The owners whose held messages wait for a push, taken (each push is made once)."""
    with _lock:
        owners = set(service.witness_pending)
        service.witness_pending.clear()
    return owners
