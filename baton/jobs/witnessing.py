"""The witness loop, beside the API in every serving process: as a primary, send each linked witness its
heartbeat and changes every ``witness_heartbeat_seconds``; as a witness, look at the switches it watches
every ``witness_watch_seconds``. It runs whether or not this process runs a worker, so a primary whose
worker stopped still says it is alive (and a witness still watches)."""

from __future__ import annotations

import logging
import threading
import time

from baton.services.witness.linking import Linking, push_pending
from baton.services.witness.watching import Witness

log = logging.getLogger("baton.witness")


class Witnessing:
    """A daemon thread; ``start`` first asks the witnesses (what they did while we were away), ``stop`` ends it."""

    def __init__(self, linking: Linking, witness: Witness) -> None:
        self.linking, self.witness = linking, witness
        settings = linking.service.settings
        self.beat_every, self.watch_every = settings.witness_heartbeat_seconds, settings.witness_watch_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def ask_first(self) -> None:
        """Before this process's worker acts for a linked switch: hear what each witness did (bounded by
        timeouts), and settle the messages any process left held (``hold``). Only ``baton serve`` with one
        process has its worker here; a worker elsewhere relies on its own pushes and the heartbeat rounds."""
        try:
            self.linking.push_all()
        except Exception as exc:  # noqa: BLE001 - a broken database is reported by /healthz; we go on
            log.warning("asking the witnesses failed at start (%s)", type(exc).__name__)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="baton-witnessing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        next_beat = time.monotonic() + self.beat_every
        next_watch = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                push_pending(self.linking.service)  # held messages of a stage run by another path than the worker
                if now >= next_watch:
                    next_watch = now + self.watch_every
                    self.witness.watch()
                if now >= next_beat:
                    next_beat = now + self.beat_every
                    self.linking.push_all()  # settles every owner's held messages, a crashed process's too
            except Exception as exc:  # noqa: BLE001 - logged; the next round tries again
                log.error("the witness loop failed (%s); trying again", type(exc).__name__, exc_info=exc)
            self._stop.wait(max(0.05, min(next_beat, next_watch, time.monotonic() + 0.5) - time.monotonic()))
