"""The worker: advances due switches and drains the outbox; APScheduler only wakes it.

All state is in the database. The worker wakes at the next due moment it knows of (a
date job moved after every run and after every change made in this process) and on a
safety sweep, so changes made by other processes are seen within one sweep.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from baton import outbox
from baton.delivery import Deliverer, Sender, default_senders
from baton.outbox import Channel
from baton.service import SwitchService
from baton.settings import Settings
from baton.timeutil import Clock

log = logging.getLogger("baton.worker")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    """One worker identity: ``run_once`` does all due work; ``start`` schedules it."""

    service: SwitchService
    senders: dict[Channel, Sender] | None = None
    name: str = field(default_factory=worker_name)

    def __post_init__(self) -> None:
        self.engine: Engine = self.service.engine
        self.settings: Settings = self.service.settings
        self.clock: Clock = self.service.clock
        self.deliverer = Deliverer(self.engine, self.settings, self.clock, self.service.signer, self.name,
                                   self.senders or default_senders(self.settings))
        self._lock = threading.Lock()
        self._wake_lock = threading.Lock()
        self._next_wake: datetime | None = None
        self._scheduler: BackgroundScheduler | None = None

    def run_switches(self) -> int:
        """Advance every due switch; the number of events recorded."""
        events = 0
        while True:
            ids = self.service.due_switches(self.clock.now(), self.settings.batch_size)
            advanced = [self.service.advance(i) for i in ids]
            events += sum(advanced)
            if len(ids) < self.settings.batch_size or not any(advanced):
                return events

    def run_once(self) -> tuple[int, int]:
        """Advance due switches, then deliver due messages: (events, messages sent)."""
        with self._lock:
            events = self.run_switches()
            sent = self.deliverer.run_once()
        return events, sent

    def next_wake(self) -> datetime | None:
        due = self.service.next_due()
        with self.engine.connect() as conn:
            pending = outbox.next_attempt(conn)
        candidates = [d for d in (due, pending) if d is not None]
        return min(candidates) if candidates else None

    # -- scheduling ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run in the background: wake at the next due moment and on the sweep."""
        scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                      "misfire_grace_time": None})
        scheduler.add_job(self._tick, IntervalTrigger(seconds=self.settings.sweep_seconds), id="sweep")
        scheduler.start()
        self._scheduler = scheduler
        self.poke(self.clock.now())

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None

    def poke(self, due: datetime | None) -> None:
        """Wake at ``due`` (or now, if it is past) unless an earlier wake is already set."""
        scheduler = self._scheduler
        if scheduler is None or due is None:
            return
        now = self.clock.now()
        when = max(due, now)
        with self._wake_lock:
            if self._next_wake is not None and now <= self._next_wake <= when:
                return
            self._next_wake = when
        # A fresh id per moment: APScheduler removes a finished date job by id, which must
        # never be the id of the wake we are setting now.
        scheduler.add_job(self._tick, DateTrigger(run_date=when), id=f"wake-{when.timestamp()}",
                          replace_existing=True)

    def _tick(self) -> None:
        with self._wake_lock:
            self._next_wake = None
        try:
            self.run_once()
        except Exception:  # noqa: BLE001 - the sweep retries; never let the scheduler die
            log.exception("worker run failed; retrying shortly")
            self.poke(self.clock.now() + timedelta(seconds=5))
            return
        nxt = self.next_wake()
        if nxt is not None:
            # Work still due now is held by another worker: look again shortly, not at once.
            self.poke(max(nxt, self.clock.now() + timedelta(seconds=0.2)))
