"""The worker's sign of life: a heartbeat row on every sweep, and an optional ping to someone outside.

The row (``store.heartbeats``) lets /healthz, the owner's dashboard and ``baton status`` say
when the worker last ran. The ping (``BATON_PING_URL``, e.g. a healthchecks check) lets someone
outside learn that Baton stopped even when nothing of Baton answers any more: it is a GET after
every beat, bounded by ``BATON_PING_TIMEOUT``, and a failure is logged, never raised.

The ping URL is the operator's, not an owner's, yet it goes through the outbound guard like
every other connection the worker makes: it reaches public addresses, and a private one only
when the operator lists its range in ``BATON_OUTBOUND_ALLOW`` (a healthchecks on the LAN). One
rule for every outbound connection keeps a typo or a rebinding name from reaching the
database's port or a metadata service.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from baton import netguard
from baton.settings import Settings
from baton.store import heartbeats
from baton.timeutil import Clock

log = logging.getLogger("baton.worker")


@dataclass
class Tally:
    """What a worker did since its last beat; the worker adds, the beat takes and resets."""

    events: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, events: int = 0, failures: int = 0) -> None:
        with self._lock:
            self.events += events
            self.failures += failures

    def take(self) -> tuple[int, int]:
        with self._lock:
            taken = (self.events, self.failures)
            self.events = self.failures = 0
            return taken


class Heartbeat:
    """One worker's heartbeat: ``beat`` writes the row and pings; neither ever raises."""

    def __init__(self, engine: Engine, settings: Settings, clock: Clock, worker: str,
                 sent_total: Callable[[], int] = lambda: 0) -> None:
        self.engine, self.settings, self.clock, self.worker = engine, settings, clock, worker
        self.tally = Tally()
        self.sent_total = sent_total  # messages sent so far; each beat records the increase
        self._sent_before = 0
        self.started_at = clock.now()
        self.guard = netguard.Guard(netguard.parse_networks(settings.outbound_allow),
                                    connect_timeout=settings.ping_timeout, read_timeout=settings.ping_timeout)

    def beat(self) -> bool:
        """Record the beat, then ping; whether the beat was recorded (a database out of reach is logged)."""
        events, failures = self.tally.take()
        sent_total = self.sent_total()
        beat = heartbeats.Beat(self.worker, socket.gethostname()[:255], os.getpid(), self.started_at,
                               self.clock.now(), events, sent_total - self._sent_before, failures)
        try:
            with self.engine.begin() as conn:
                heartbeats.record(conn, beat)
        except Exception as exc:  # noqa: BLE001 - the worker goes on; /healthz shows the beat is late
            self.tally.add(events, failures)  # counted in the next beat that is recorded
            log.warning("recording the worker's heartbeat failed (%s); /healthz will show it late",
                        type(exc).__name__)
            return False
        self._sent_before = sent_total
        self.ping()
        return True

    def ping(self) -> bool:
        """GET the ping URL, if one is set; whether it answered 2xx. Never raises, never logs the URL."""
        url = self.settings.ping_url.get_secret_value()
        if not url:
            return False
        import requests
        with netguard.guarded(self.guard) as session:
            try:
                answer = requests.get(url, timeout=(self.settings.ping_timeout, self.settings.ping_timeout),
                                      allow_redirects=False, headers={"User-Agent": "baton-worker"})
            except Exception as exc:  # noqa: BLE001 - someone outside notices the missing pings; we go on
                # The guard's words or the error's type: the URL may carry the check's secret.
                log.warning("the ping to BATON_PING_URL failed: %s",
                            session.refused[0] if session.refused else type(exc).__name__)
                return False
        if not 200 <= answer.status_code < 300:
            log.warning("the ping to BATON_PING_URL answered HTTP %d", answer.status_code)
            return False
        return True

