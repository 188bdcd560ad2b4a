"""Test helpers shipped with Baton: a fake clock and a recording sender (honest fakes).

``tests/baton/jobs/test_sender_contract.py`` runs the same checks against ``RecordingSender``
and the real SMTP sender, so the fake cannot drift from what it stands for.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from baton.jobs.outbox import Message


class FakeClock:
    """A clock that moves only when told: ``advance(days=30)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


class RecordingSender:
    """Keeps what it is asked to send; ``failing`` makes every send raise, like a server that is down."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.failing = False

    def send(self, message: Message) -> None:
        if self.failing:
            raise ConnectionRefusedError("recording sender set to fail")
        self.sent.append(message)

    def close(self) -> None:
        pass
