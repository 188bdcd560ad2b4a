"""Whether Baton is running: the database reachable, and how long ago a worker last beat.

One query (the newest heartbeat) answers both, so /healthz stays cheap. A worker beats on every
sweep (``BATON_SWEEP_SECONDS``); the newest beat older than ``BATON_HEARTBEAT_STALE_SECONDS``
(default three sweeps) means no worker is running, and nothing due happens: no reminder, no
deadline, no release, no message. No beat at all means no worker has run yet against this
database — unhealthy too: ``baton serve`` beats as its worker starts, so only an API without
any worker (``baton api`` alone) is ever in that state, and it is not a working deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from baton.settings import Settings
from baton.store import heartbeats
from baton.store.engine import reading
from switch import iso


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    """The newest worker heartbeat, as of ``now``."""

    last_beat: datetime | None
    now: datetime
    stale_after: float  # seconds

    @property
    def age(self) -> float | None:
        return None if self.last_beat is None else max(0.0, (self.now - self.last_beat).total_seconds())

    @property
    def running(self) -> bool:
        age = self.age
        return age is not None and age <= self.stale_after

    def problem(self) -> str | None:
        """Why the worker counts as stopped, in one line; None while it runs."""
        if self.last_beat is None:
            return "no worker has run yet against this database (start `baton worker` or `baton serve`)"
        if not self.running:
            return (f"the newest worker heartbeat is {round(self.age or 0)} s old, more than the "
                    f"{self.stale_after:g} s allowed (BATON_HEARTBEAT_STALE_SECONDS)")
        return None

    def sentence(self) -> str:
        """What an owner reads: when the worker last ran, and what a stopped one means."""
        if self.last_beat is None:
            return ("Baton's worker has not run yet: reminders, deadlines and messages wait until it does. "
                    "Tell whoever runs this Baton.")
        said = f"Baton's worker last ran {ago(self.age or 0)}"
        if self.running:
            return said + "."
        return said + (": reminders, deadlines and messages wait until it runs again. "
                       "Tell whoever runs this Baton.")

    def to_dict(self) -> dict[str, Any]:
        age = self.age
        return {"last_run": iso(self.last_beat) if self.last_beat else None,
                "seconds_ago": None if age is None else round(age, 1), "running": self.running,
                "stale_after_seconds": self.stale_after, "said": self.sentence()}


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz answers: healthy when the database answered and a worker beat recently."""

    database: str | None  # None when reachable, else why not
    worker: WorkerSeen | None  # None when the database could not be asked

    @property
    def healthy(self) -> bool:
        return self.database is None and self.worker is not None and self.worker.running

    def to_dict(self) -> dict[str, Any]:
        problems = [self.database] if self.database else []
        if self.worker is not None and (said := self.worker.problem()):
            problems.append(said)
        return {"status": "ok" if self.healthy else "unavailable",
                "database": "reachable" if self.database is None else "unreachable",
                "worker": None if self.worker is None else self.worker.to_dict(), "problems": problems}


def worker_seen(conn: Connection, settings: Settings, now: datetime) -> WorkerSeen:
    return WorkerSeen(heartbeats.newest(conn), now, settings.heartbeat_stale())


def worker_report(engine: Engine, settings: Settings, now: datetime) -> WorkerSeen:
    """When a worker last ran, for the dashboard and ``baton status`` (the database must answer)."""
    with reading(engine) as conn:
        return worker_seen(conn, settings, now)


def check(engine: Engine, settings: Settings, now: datetime) -> Health:
    """The database and the worker, in one query; never raises for a database out of reach."""
    try:
        with reading(engine) as conn:
            return Health(None, worker_seen(conn, settings, now))
    except SQLAlchemyError as exc:
        return Health(f"the database cannot be reached ({type(exc).__name__})", None)


def ago(seconds: float) -> str:
    """'12 s ago', '4 min ago', '3 h ago', '2 days ago'."""
    whole = int(seconds)
    if whole < 120:
        return f"{whole} s ago"
    if whole < 2 * 3600:
        return f"{whole // 60} min ago"
    if whole < 2 * 86400:
        return f"{whole // 3600} h ago"
    return f"{whole // 86400} days ago"
