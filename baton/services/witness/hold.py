"""Never twice across a primary crash right after a stage: the messages of a fire or a stage of a switch that
has witnesses are written *held* (claimed by ``HOLDER``, with no lease), in the transaction that records the
transition. No sender ever takes a held message, however long it waits (``outbox.claim`` excludes them): only
a push settles them. After every witness of the switch was sent a heartbeat carrying a state that includes
the transition, they are *released* (due at once) — unless a witness's answer carries an outcome, i.e. that
witness held the switch while the primary was away and ran what it ran itself: then they are *superseded*
(failed, said why, audited ``witness.superseded``), since the witness's delivery was the first one. An
unreachable witness never holds the release back (the partition case: README "Witnesses").

Only switches with witnesses pay: ``hold`` asks ``witness_links`` once per transaction that fired or ran a
stage, and writes nothing for the others. The owners held are remembered for the push only once their
transaction has committed (``service.witness_pending``, read by ``push_pending``), so a push never reads the
state from before the transition. Held rows a process left when it died are settled by the next push of any
live serving process: every heartbeat round (``Linking.push_all``) settles the held rows of every linked
owner, and a restarted ``baton serve`` does one before its worker starts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, event, select, update

from baton.jobs.outbox import HELD, SUPERSEDED
from baton.store import auditlog
from baton.store.tables import outbox
from baton.store.witness_tables import witness_links
from switch import Kind

HOLDER = HELD
_lock = threading.Lock()
_STASH = "baton.witness_held"  # on a connection: [(service, owners)] held in its open transaction
_COMMITTING = "baton.witness_held_committing"  # ... moved here as the transaction commits


def fires(events: Iterable[Any]) -> bool:
    """Whether a step's events fire the switch or run a stage (what a witness must hear before delivery)."""
    return any(e.kind in (Kind.FIRED, Kind.STAGE) for e in events)


def hold(conn: Connection, service: Any, owner_ids: Iterable[int], now: datetime) -> set[int]:
    """In the transaction that recorded a fire or a stage for ``owner_ids``: hold the messages it wrote for
    the owners with witnesses; which. They are put on ``service.witness_pending`` once the transaction has
    committed (a rollback forgets them)."""
    wanted = set(owner_ids)
    if not wanted:
        return set()
    linked = set(conn.execute(select(witness_links.c.owner_id).where(witness_links.c.owner_id.in_(wanted))).scalars())
    if not linked:
        return set()
    conn.execute(update(outbox).where(outbox.c.owner_id.in_(linked), outbox.c.sent_at.is_(None),
                                      outbox.c.claimed_by.is_(None), outbox.c.next_attempt_at >= now,
                                      outbox.c.created_at >= now)
                 .values(claimed_by=HOLDER, claimed_until=None))
    _listen(conn.engine)
    conn.info.setdefault(_STASH, []).append((service, linked))
    return linked


# SQLAlchemy Core has no "after commit" event: the owners ride on the connection, are marked as its
# transaction commits (``commit`` fires just before the database commits), dropped on a rollback, and handed
# over when the connection goes back to its pool, which happens after the commit returned.
def _listen(engine: Engine) -> None:
    with _lock:
        if not event.contains(engine, "commit", _on_commit):
            event.listen(engine, "commit", _on_commit)
            event.listen(engine, "rollback", _on_rollback)
            event.listen(engine, "checkin", _on_checkin)


def _on_commit(conn: Connection) -> None:
    stash = conn.info.pop(_STASH, None)
    if stash:
        conn.info.setdefault(_COMMITTING, []).extend(stash)


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_STASH, None)
    conn.info.pop(_COMMITTING, None)  # a commit that failed is rolled back: nothing was held


def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
    info = getattr(record, "info", None)
    committed = info.pop(_COMMITTING, None) if info is not None else None
    if info is not None:
        info.pop(_STASH, None)
    for service, owners in committed or ():
        with _lock:
            service.witness_pending.update(owners)


def held_ids(conn: Connection, owner_id: int) -> list[int]:
    """The owner's messages held now, read in the snapshot the pushed state is read in."""
    return list(conn.execute(select(outbox.c.id).where(outbox.c.owner_id == owner_id, outbox.c.claimed_by == HOLDER,
                                                       outbox.c.sent_at.is_(None))).scalars())


def held_owners(conn: Connection) -> set[int]:
    """Every owner with messages held now (read over the unsent messages only)."""
    return set(conn.execute(select(outbox.c.owner_id).distinct().where(outbox.c.sent_at.is_(None),
                                                                      outbox.c.claimed_by == HOLDER)).scalars())


def release(engine: Engine, ids: list[int]) -> int:
    """Let go the held messages ``ids`` (every witness was sent a state including their transition, and none
    answered that it held the switch): due at once; how many."""
    if not ids:
        return 0
    with engine.begin() as conn:
        return int(conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.claimed_by == HOLDER,
                                                     outbox.c.sent_at.is_(None))
                                .values(claimed_by=None, claimed_until=None)).rowcount)


def supersede(service: Any, owner_id: int, ids: list[int], host: str, outcome: dict[str, Any]) -> list[int]:
    """The held messages ``ids`` are not sent: the witness at ``host`` held the switch (its ``outcome``) and
    ran its stages itself, so these would be second deliveries. Marked failed with the reason, audited on the
    owner's chain (message ids and the witness's host, nothing else); the ids superseded."""
    if not ids:
        return []
    now = service.clock.now()
    why = f"{SUPERSEDED} witness {host} ran this stage while it held the switch"
    with service.engine.begin() as conn:
        done = sorted(conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.claimed_by == HOLDER,
                                                        outbox.c.sent_at.is_(None))
                                   .values(claimed_by=None, claimed_until=None, failed=True, last_error=why)
                                   .returning(outbox.c.id)).scalars())
        if done:
            data: dict[str, Any] = {"messages": done, "witness": host}
            for key in ("taken_over_at", "stages_run", "cycle"):
                if isinstance(outcome.get(key), (str, int)):
                    data[key] = outcome[key]
            auditlog.append(conn, service.signer, owner_id, now, "witness.superseded", data)
    return done


def take_pending(service: Any) -> set[int]:
    """The owners whose held messages wait for a push, taken (each push is made once)."""
    with _lock:
        owners = set(service.witness_pending)
        service.witness_pending.clear()
    return owners


def put_back(service: Any, owners: Iterable[int]) -> None:
    """Owners taken for a push that was not made: the next ``push_pending`` takes them again."""
    with _lock:
        service.witness_pending.update(owners)
