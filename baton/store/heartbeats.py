"""Worker heartbeats: a row per worker, written on every sweep; the newest tells whether Baton runs.

A row is one worker's identity (``Worker.name``: host, pid and a random part), so a worker that
restarts writes a new row; rows silent for ``FORGET`` are deleted by the next beat of any worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, update

from baton.store.tables import worker_heartbeats

FORGET = timedelta(days=7)  # a worker silent this long is forgotten


@dataclass(frozen=True, slots=True)
class Beat:
    """One worker's last sign of life, and what it did since the beat before."""

    worker: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime
    events: int = 0
    sent: int = 0
    failures: int = 0


def record(conn: Connection, beat: Beat) -> None:
    """Write ``beat`` over the worker's previous one (or as its first), and forget long-silent workers."""
    values = {"beat_at": beat.beat_at, "events": beat.events, "sent": beat.sent, "failures": beat.failures}
    changed = conn.execute(update(worker_heartbeats).where(worker_heartbeats.c.worker == beat.worker)
                           .values(**values)).rowcount
    if not changed:
        conn.execute(worker_heartbeats.insert().values(worker=beat.worker, host=beat.host, pid=beat.pid,
                                                       started_at=beat.started_at, **values))
    conn.execute(delete(worker_heartbeats).where(worker_heartbeats.c.beat_at < beat.beat_at - FORGET))


def newest(conn: Connection) -> datetime | None:
    """The moment of the newest beat of any worker (one indexed query), or None if none ever beat."""
    return conn.execute(select(func.max(worker_heartbeats.c.beat_at))).scalar_one_or_none()


def recent(conn: Connection, limit: int = 20) -> list[Beat]:
    """The workers that beat most recently, newest first."""
    rows = conn.execute(select(worker_heartbeats).order_by(worker_heartbeats.c.beat_at.desc()).limit(limit))
    return [Beat(**row._mapping) for row in rows]
