"""The worker's wakes: APScheduler is set to the next due moment, not only to a fixed poll."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from baton.jobs.outbox import Channel
from baton.runtime import build
from baton.testing import FakeClock, RecordingSender
from tests_support import settings_for


def _wakes(worker: object, prefix: str) -> list[datetime]:
    scheduler = worker._scheduler  # type: ignore[attr-defined]
    return sorted(job.next_run_time for job in scheduler.get_jobs() if job.id.startswith(prefix))


def test_the_worker_wakes_at_the_next_reminder(sqlite_url: str) -> None:
    """After its first run the worker's next wake is the switch's next due moment, far beyond the sweep."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    runtime = build(settings_for(sqlite_url, sweep_seconds=300), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    sender = RecordingSender()
    worker = runtime.worker({Channel.EMAIL: sender, Channel.APPRISE: sender})
    worker.start()
    try:
        expected = clock.now() + timedelta(days=23)  # 30-day interval, first reminder 7 days before
        deadline = time.monotonic() + 10
        while _wakes(worker, "switches-") != [expected] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _wakes(worker, "switches-") == [expected]
        # A change in this process pokes the worker: an earlier due moment moves the wake earlier.
        runtime.service.set_policy(made.owner.id, {"interval": "2d"})
        assert _wakes(worker, "switches-")[0] == clock.now() + timedelta(days=2)
    finally:
        worker.stop()
