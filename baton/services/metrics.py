"""What /metrics reports, read from the database at scrape time.

Every figure is derived from the tables rather than counted in a process: with several API
processes and workers, a process counter would report only its own share and restart at zero
whenever its process does, while the database holds the deployment's whole truth. The cost is
a handful of queries per scrape: the due switches and waiting messages come from partial
indexes; the check-in count reads the transitions (scrape every 15–60 s, not every second).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, not_, or_, select

from baton.jobs.outbox import HELD, SUPERSEDED, Channel
from baton.store.tables import outbox, releases, switches, transitions, worker_heartbeats
from switch import Kind, Status


@dataclass(frozen=True, slots=True)
class Queue:
    """One channel kind's outbox: messages waiting, the oldest one's age, and the failures."""

    waiting: int = 0
    oldest_age: float = 0.0  # seconds since the oldest waiting message was written
    due: int = 0  # waiting and due now (the rest wait for a retry)
    retrying: int = 0  # waiting after at least one failed attempt
    given_up: int = 0  # abandoned after max attempts or a permanent refusal (superseded ones not counted)
    held: int = 0  # waiting (not due) until a push to the switch's witnesses releases them (witness.hold)
    superseded: int = 0  # held, then not sent: a witness ran their stage while it held the switch


@dataclass(frozen=True, slots=True)
class Snapshot:
    due_switches: int
    detection_lag: float  # seconds since the oldest due moment not yet handled; 0 when none is due
    switches: dict[str, int]  # by status
    queues: dict[str, Queue]  # by channel kind
    checkins: int
    releases: dict[bool, int]  # by drill
    workers_running: int
    heartbeat_age: float | None  # seconds since the newest beat; None when none ever beat


def snapshot(conn: Connection, now: datetime, stale_after: float) -> Snapshot:
    """Every figure as of ``now``; ``stale_after`` is the heartbeat age that counts as stopped."""
    count, oldest = conn.execute(select(func.count(), func.min(switches.c.next_due_at))
                                 .where(switches.c.next_due_at <= now)).one()
    by_status = {status.value: 0 for status in Status}
    by_status.update({s: n for s, n in conn.execute(select(switches.c.status, func.count())
                                                     .group_by(switches.c.status))})
    waiting = not_(outbox.c.failed)
    held = and_(waiting, outbox.c.claimed_by == HELD)
    free = or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_by != HELD)
    superseded = and_(outbox.c.failed, func.coalesce(outbox.c.last_error, "").like(f"{SUPERSEDED}%"))
    queues = {kind.value: Queue() for kind in Channel}
    columns = (outbox.c.channel, func.count().filter(waiting), func.min(outbox.c.created_at).filter(waiting),
               func.count().filter(and_(waiting, free, outbox.c.next_attempt_at <= now)),
               func.count().filter(and_(waiting, outbox.c.attempts > 0)),
               func.count().filter(and_(outbox.c.failed, not_(superseded))), func.count().filter(held),
               func.count().filter(superseded))
    for row in conn.execute(select(*columns).where(outbox.c.sent_at.is_(None)).group_by(outbox.c.channel)):
        channel, depth, first, due, retrying, given_up, held_now, superseded_now = row
        queues[channel] = Queue(depth, _seconds(now, first), due, retrying, given_up, held_now, superseded_now)
    checkins = conn.execute(select(func.count()).select_from(transitions)
                            .where(transitions.c.kind == Kind.CHECKIN.value)).scalar_one()
    released = {False: 0, True: 0}
    released.update({bool(d): n for d, n in conn.execute(select(releases.c.drill, func.count())
                                                          .group_by(releases.c.drill))})
    newest, running = conn.execute(select(func.max(worker_heartbeats.c.beat_at), func.count().filter(
        worker_heartbeats.c.beat_at >= now - timedelta(seconds=stale_after)))).one()
    return Snapshot(count, _seconds(now, oldest), by_status, queues, checkins, released, running,
                    None if newest is None else _seconds(now, newest))


def _seconds(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())

