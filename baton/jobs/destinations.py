"""Back-off per destination: an Apprise URL that keeps failing waits alone, the others go on.

The outbox backs off each message; a destination that hangs would still be tried by every new
message to it, and each try holds a sender for the full timeout. So the worker remembers, in
memory (no table, no migration), each failing destination's run of failures keyed by a hash of
its URL (``outbox.recipient_tag``): after a failure the destination rests ``base``, ``2·base``, …
up to ``cap`` seconds, and a message to it claimed meanwhile is put back until then without
counting an attempt. One success ends the rest. A restarted worker starts afresh: the
destination's next failure starts the rest again.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class Destinations:
    """Failure runs of destinations, by key; thread-safe."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap = base, cap
        self._lock = threading.Lock()
        self._resting: dict[str, tuple[int, datetime]] = {}  # key -> (failures in a row, resting until)

    def resting_until(self, key: str, now: datetime) -> datetime | None:
        """When the destination may be tried again, if that is later than ``now``."""
        with self._lock:
            found = self._resting.get(key)
        return found[1] if found is not None and found[1] > now else None

    def failed(self, key: str, now: datetime) -> datetime:
        """Count a failure; the moment the destination may be tried again."""
        with self._lock:
            failures = self._resting.get(key, (0, now))[0] + 1
            until = now + timedelta(seconds=min(self.cap, self.base * 2 ** min(failures - 1, 20)))
            self._resting[key] = (failures, until)
        return until

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._resting.pop(key, None)
