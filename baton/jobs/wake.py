"""Scheduler wake-ups: a named APScheduler date job moved to the next due moment, and when to wake
after a run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from baton.timeutil import Clock

RECHECK = timedelta(seconds=0.2)  # work still due right after a run is held by another worker


def after_run(due: datetime, started: datetime, now: datetime) -> datetime:
    """When to wake after a run that began at ``started``: at ``due`` (at once if already past).

    Only work that was due before the run began and is due still (another worker holds it)
    waits RECHECK; flooring every wake at now + RECHECK held back each deadline falling
    within 0.2 s of the end of a run, most of them when deadlines come thick.
    """
    return due if due > started else now + RECHECK


class Wake:
    """One named date job that is only ever moved earlier (or set again once it ran)."""

    def __init__(self, name: str, run: Callable[[], None], clock: Clock) -> None:
        self.name, self.run, self.clock = name, run, clock
        self.scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()
        self._at: datetime | None = None

    def at(self, due: datetime | None) -> None:
        if due is None:
            return
        with self._lock:
            scheduler = self.scheduler
            if scheduler is None:
                return
            now = self.clock.now()
            when = max(due, now)
            if self._at is not None and now <= self._at <= when:
                return
            self._at = when
            # A fresh id per moment: APScheduler removes a finished date job by its id, which
            # must never be the id of the wake being set now. Added under the lock ``detach``
            # takes: a job adding a job while ``shutdown(wait=True)`` holds the job store lock
            # and waits for that job would deadlock.
            scheduler.add_job(self._fire, DateTrigger(run_date=when), id=f"{self.name}-{when.timestamp()}",
                              replace_existing=True)

    def detach(self) -> None:
        """Set no more wakes (before the scheduler shuts down); a wake already queued does nothing."""
        with self._lock:
            self.scheduler = None
            self._at = None

    def _fire(self) -> None:
        with self._lock:
            self._at = None
            if self.scheduler is None:
                return
        self.run()
