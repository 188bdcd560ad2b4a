"""A small in-process sliding-window rate limiter for failed credentials, per key."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (by ``clock``: monotonic unless given)."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        with self._lock:
            hits = self._trim(key)
            return len(hits) >= self.limit

    def hit(self, key: str) -> None:
        with self._lock:
            if len(self._hits) >= self.max_keys:
                self._hits.clear()  # bounded memory under a flood of addresses
            self._trim(key).append(self.clock())

    def _trim(self, key: str) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        horizon = self.clock() - self.window
        while hits and hits[0] < horizon:
            hits.popleft()
        return hits
