"""The worker: advances due switches and drains the outbox; APScheduler only wakes it.

All state is in the database. Two wakes, each a date job moved after every run: one at
the next due switch (and after every change made in this process), one at the next
message due for delivery; and a safety sweep for changes made by other processes, which also
deletes the blobs (compartment files) that nothing refers to any more, and records the worker's
heartbeat (``heartbeat``: a row for /healthz, and the operator's ping URL).
Switches and delivery run in separate jobs, so a slow mail server never delays firing; a
delivery wake only hands due messages to the senders' pools (``delivery``) and returns,
and a sender that frees up wakes it again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from baton.jobs import outbox
from baton.jobs.catchup import CatchUp
from baton.jobs.channels import PerThread, Sender, default_senders
from baton.jobs.delivery import Deliverer
from baton.jobs.heartbeat import Heartbeat
from baton.jobs.outbox import Channel
from baton.jobs.wake import Wake, after_run
from baton.services.switch import SwitchService
from baton.services.wakeup import advance_batch
from baton.services.witness.linking import push_pending
from baton.settings import Settings
from baton.store import blobs
from baton.store.engine import reading
from baton.timeutil import Clock

log = logging.getLogger("baton.worker")
MAX_PER_RUN = 100_000


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    """One worker identity: ``run_once`` does all due work; ``start`` schedules it."""

    service: SwitchService
    senders: Mapping[Channel, Sender | PerThread] | None = None
    name: str = field(default_factory=worker_name)

    def __post_init__(self) -> None:
        self.engine: Engine = self.service.engine
        self.settings: Settings = self.service.settings
        self.clock: Clock = self.service.clock
        # Set by ``stop``: a run ends after the switch or message in hand instead of working
        # through the whole backlog, so SIGTERM is honoured in seconds with thousands due.
        self._stopping = threading.Event()
        self._catching_up: CatchUp | None = None  # the run under way, while it works through a backlog
        self.deliverer = Deliverer(self.engine, self.settings, self.clock, self.service.signer, self.service.key,
                                   self.name, self.senders or default_senders(self.settings),
                                   stopping=self._stopping, on_done=self._sender_free, hold=self._holding)
        self.heartbeat = Heartbeat(self.engine, self.settings, self.clock, self.name,
                                   sent_total=lambda: self.deliverer.sent_count)
        self._switch_lock = threading.Lock()
        self._delivery_lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._switch_wake = Wake("switches", self._switch_tick, self.clock)
        self._delivery_wake = Wake("delivery", self._delivery_tick, self.clock)

    def run_switches(self) -> int:
        """Advance every due switch, most overdue first, a batch at a time; the number of events recorded.

        Each batch (``wakeup``) is one transaction; its messages are due as it commits. The first
        batch's are handed to the senders at once; while a backlog is worked through, the senders
        wait (``catchup``), and they are woken after each batch once they may go on."""
        events = 0
        advanced = 0
        with self._switch_lock:
            catch = self._catching_up = CatchUp(self.settings.wake_batch)
            try:
                # Each batch records steps or defers failing switches, so every batch makes progress;
                # the bound only keeps one run from starving the stop flag.
                while advanced < MAX_PER_RUN and not self._stopping.is_set():
                    try:
                        done = advance_batch(self.service, catch.size)
                    except Exception:  # noqa: BLE001 - writing the batch failed: take its switches one by one
                        log.exception("advancing a batch of switches failed; advancing them one at a time")
                        done = self._one_by_one(catch.size)
                    if done is None:
                        break
                    advanced += done[0]
                    events += done[1]
                    if self.service.witness_pending:  # a linked switch fired or ran a stage: its witnesses hear first
                        self._push_pending()
                    if done[1] and catch.batches == 0:
                        self._dispatch_now()  # the first messages go now, before the senders wait
                    elif done[1]:
                        self._delivery_wake.at(self.clock.now())
                    catch.after(done[0])
            finally:
                catch.end()
                self._catching_up = None
        if events:
            self._delivery_wake.at(self.clock.now())
        self.heartbeat.tally.add(events=events)
        return events

    def _push_pending(self) -> None:
        """Tell the witnesses of the owners held by the last batch; a failure is logged and never ends the run
        (the owners not pushed wait for the next call or the witness loop's heartbeat round, held meanwhile)."""
        try:
            push_pending(self.service)
        except Exception:  # noqa: BLE001 - the held messages stay held until a push succeeds
            log.exception("telling the witnesses after a batch failed; the next push tells them")

    def _dispatch_now(self) -> None:
        try:
            self.deliverer.dispatch()
        except Exception:  # noqa: BLE001 - the delivery wake after the run tries again
            log.exception("handing the first messages to the senders failed; they go after the run")

    def _holding(self) -> bool:
        catch = self._catching_up
        return catch is not None and catch.holding()

    def _one_by_one(self, count: int) -> tuple[int, int] | None:
        """Advance up to ``count`` due switches each in its own transaction (a failing one is deferred alone)."""
        advanced = events = 0
        for _ in range(count):
            done = self.service.advance_next()
            if done is None:
                break
            advanced += 1
            events += done
        return (advanced, events) if advanced else None

    def deliver(self) -> int:
        """Send every message due now; the number sent."""
        with self._delivery_lock:
            return self.deliverer.run_once()

    def run_once(self) -> tuple[int, int]:
        """Advance due switches, build released packages, then deliver due messages: (events, messages sent)."""
        events = self.run_switches()
        self.build_packages()
        return events, self.deliver()

    def build_packages(self) -> int:
        """Build the packages of releases recorded since; a failing one is logged and retried next time."""
        from baton.services.releases import vault_parts
        _vault, builder = vault_parts(self.service)
        pending = builder.pending()
        results = builder.build_all(pending, self.clock.now())
        for package_id, result in zip(pending, results, strict=True):
            if isinstance(result, Exception):  # one package must not hold back the others or the mail
                log.error("building package %s failed (%s); retrying on the next run", package_id,
                          type(result).__name__, exc_info=result)
        return sum(not isinstance(r, Exception) for r in results)

    def collect_blobs(self) -> list[str]:
        """Delete the compartment files no row refers to any more (an old version, an upload whose row never
        committed) once older than ``blob_retention_days``, and temporary files left as long; the names removed.
        Safe beside uploads in progress and other workers (``BlobStore.sweep``)."""
        from baton.services.releases import vault_parts
        vault, _builder = vault_parts(self.service)

        def referenced() -> set[str]:
            with reading(self.engine) as conn:
                return blobs.referenced(conn)
        cutoff = time.time() - self.settings.blob_retention_days * 86400  # file ages are the file system's time
        removed = vault.store.sweep(referenced, cutoff)
        if removed:
            log.info("deleted %d file(s) from the blob store that nothing refers to", len(removed))
        return removed

    def next_delivery(self) -> datetime | None:
        with reading(self.engine) as conn:
            return outbox.next_attempt(conn)

    def next_wake(self) -> datetime | None:
        """The earliest moment with work: a due switch or a message to deliver."""
        found = [d for d in (self.service.next_due(), self.next_delivery()) if d is not None]
        return min(found) if found else None

    # -- scheduling ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run in the background: wake at the next due moments and on the sweep."""
        scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                      "misfire_grace_time": None})
        self._stopping.clear()
        scheduler.add_job(self._sweep, IntervalTrigger(seconds=self.settings.sweep_seconds), id="sweep")
        self._switch_wake.scheduler = self._delivery_wake.scheduler = scheduler
        self.deliverer.open()
        scheduler.start()
        self._scheduler = scheduler
        self.heartbeat.beat()  # at once: /healthz answers for a worker that has only just started
        now = self.clock.now()
        self._switch_wake.at(now)
        self._delivery_wake.at(now)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._stopping.set()
            self._switch_wake.detach()
            self._delivery_wake.detach()
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
            self.deliverer.close()  # the sends in hand end (bounded by their timeouts)

    def poke(self, due: datetime | None) -> None:
        """A switch changed in this process: wake at its next due moment, and deliver now."""
        self._switch_wake.at(due)
        self._delivery_wake.at(self.clock.now())

    def _sweep(self) -> None:
        self.heartbeat.beat()
        self._switch_wake.at(self.clock.now())
        self._delivery_wake.at(self.clock.now())
        self._packages_soon()
        if self._scheduler is not None and not self._stopping.is_set():
            self._scheduler.add_job(self._blob_tick, id="blobs", replace_existing=True)

    def _packages_soon(self) -> None:
        """Build released packages in a job of their own: copying large files must not delay a deadline."""
        if self._scheduler is not None and not self._stopping.is_set():
            self._scheduler.add_job(self._package_tick, id="packages", replace_existing=True)

    def _package_tick(self) -> None:
        try:
            self.build_packages()
        except Exception:  # noqa: BLE001 - never let the scheduler die; the sweep tries again
            log.exception("building packages failed; the sweep retries")

    def _blob_tick(self) -> None:
        try:
            self.collect_blobs()
        except Exception:  # noqa: BLE001 - never let the scheduler die; the next sweep tries again
            log.exception("sweeping the blob store failed; the next sweep tries again")

    def _switch_tick(self) -> None:
        if self._switch_lock.locked():
            return  # a run is in progress and sets the next wake when it ends; do not queue behind it
        started = self.clock.now()
        try:
            events = self.run_switches()
            due = self.service.next_due()
        except Exception:  # noqa: BLE001 - never let the scheduler die; try again soon
            log.exception("advancing switches failed; retrying shortly")
            self.heartbeat.tally.add(failures=1)
            self._switch_wake.at(self.clock.now() + timedelta(seconds=5))
            return
        if events:
            self._delivery_wake.at(self.clock.now())
            self._packages_soon()
        if due is not None:
            self._switch_wake.at(after_run(due, started, self.clock.now()))

    def _delivery_tick(self) -> None:
        if self._delivery_lock.locked():
            return  # a ``deliver`` call is draining the outbox and hands out what comes due
        started = self.clock.now()
        try:
            with self._delivery_lock:
                self.deliverer.dispatch()  # returns at once: the senders work in their own threads
            # What is due already waits for a sender, which wakes us when it frees up.
            due = self.deliverer.next_due(after=started)
        except Exception:  # noqa: BLE001 - never let the scheduler die; try again soon
            log.exception("delivery failed; retrying shortly")
            self.heartbeat.tally.add(failures=1)
            self._delivery_wake.at(self.clock.now() + timedelta(seconds=5))
            return
        if due is not None:
            self._delivery_wake.at(after_run(due, started, self.clock.now()))

    def _sender_free(self) -> None:
        """A sender finished a message: hand it the next one due."""
        self._delivery_wake.at(self.clock.now())
