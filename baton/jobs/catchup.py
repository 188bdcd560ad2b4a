"""Catching up: how a worker that wakes to a backlog of due switches (after an outage, or a restore)
sizes its batches, and when its senders wait.

Batches grow from ``FIRST`` switches, doubling up to ``BATON_WAKE_BATCH``: the first commits at once,
so the first messages go out within a second, and the later ones save round trips and statements per
switch. A full batch says more are due: from then on, while every batch comes back full, the worker's
senders claim nothing new (what they hold goes on). The cores record transitions instead of rendering
and sending mail whose rows are safe in the outbox either way, and the messages follow in one run once
the backlog is recorded. ``HOLD`` bounds the wait, so that a backlog that never ends (more switches
due than a worker can record) never starves the mail.
"""

from __future__ import annotations

import time
from collections.abc import Callable

FIRST = 50  # switches in a run's first batch
HOLD = 10.0  # seconds the senders wait at most while a worker catches up


class CatchUp:
    """One run's batch sizes and hold; ``holding`` is read by the sender threads."""

    def __init__(self, largest: int, clock: Callable[[], float] = time.monotonic) -> None:
        if largest < 1:
            raise ValueError(f"expected a batch of at least one switch, got {largest}")
        self.largest, self.clock = largest, clock
        self.size = min(FIRST, largest)
        self.batches = 0
        self._since: float | None = None

    def after(self, advanced: int) -> None:
        """A batch advanced ``advanced`` switches: hold while batches come back full, and grow them."""
        self.batches += 1
        if advanced >= self.size:
            if self._since is None:
                self._since = self.clock()
        else:
            self._since = None
        self.size = min(self.size * 2, self.largest)

    def end(self) -> None:
        """The run is over: the senders go on."""
        self._since = None

    def holding(self) -> bool:
        since = self._since
        return since is not None and self.clock() - since < HOLD
