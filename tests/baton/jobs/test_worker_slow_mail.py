"""A worker whose mail server hangs still advances due switches, and still stops when told."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from sqlalchemy import select, update

from baton.jobs.outbox import Channel, Message, enqueue
from baton.jobs.worker import Worker
from baton.runtime import Runtime, build
from baton.store.tables import switches, transitions
from switch import arm, next_timer, policy_from_dict, policy_to_dict, state_to_dict
from tests_support import settings_for

SWEEP = 0.05  # seconds; APScheduler's default pool has 10 threads, so 12 sweeps would fill it


class HangingSender:
    """A mail server that accepts the connection and then says nothing until released."""

    def __init__(self) -> None:
        self.sending = threading.Event()
        self.release = threading.Event()

    def send(self, message: Message) -> None:
        self.sending.set()
        self.release.wait(20)

    def close(self) -> None:
        pass


def _wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not {what} within {timeout} s"
        time.sleep(0.01)


@pytest.fixture
def started(sqlite_url: str) -> Iterator[tuple[Runtime, Worker, HangingSender]]:
    """A running worker (real clock, fast sweep) stuck sending the one message due now."""
    rt = build(settings_for(sqlite_url, sweep_seconds=SWEEP))
    owner = rt.service.create_owner("owner@baton.test", "correct horse battery", "Europe/Rome").owner
    now = datetime.now(UTC)
    with rt.engine.begin() as conn:
        for key, at in (("now", now), ("later", now + timedelta(hours=1))):  # the run re-arms for "later"
            enqueue(conn, owner_id=owner.id, key=key, channel=Channel.EMAIL, recipient="owner@baton.test",
                    purpose="notice", subject="Notice", body_text="Notice.\n", body_html=None, now=at)
    sender = HangingSender()
    worker = rt.worker({Channel.EMAIL: sender, Channel.APPRISE: sender})
    worker.start()
    try:
        assert sender.sending.wait(10), "the worker did not start delivering"
        yield rt, worker, sender
    finally:
        sender.release.set()
        worker.stop()
        rt.engine.dispose()


def test_a_hanging_mail_server_does_not_delay_a_due_switch(
        started: tuple[Runtime, Worker, HangingSender]) -> None:
    """Delivery wakes that pile up behind a hung send must not take every scheduler thread from the switches."""
    rt, worker, _ = started
    submitted: list[str] = []
    assert worker._scheduler is not None
    worker._scheduler.add_listener(lambda e: submitted.append(e.job_id) if isinstance(e, JobSubmissionEvent)
                                   else None, EVENT_JOB_SUBMITTED)
    _wait_until("a dozen delivery wakes were submitted",
                lambda: sum(j.startswith("delivery-") for j in submitted) >= 12, 10)

    policy = policy_from_dict({"interval": "1m", "reminders": [], "grace": "1h", "timezone": "UTC",
                               "stages": [{"name": "notify", "after": "0s", "audience": ["owner"]}]})
    state = arm(policy, datetime.now(UTC) - 2 * policy.interval)  # type: ignore[operator]
    timer = next_timer(policy, state)
    assert timer is not None
    with rt.engine.begin() as conn:  # made due behind the worker's back, as another process would
        conn.execute(update(switches).values(policy=policy_to_dict(policy), state=state_to_dict(state),
                                             next_due_at=timer.due))

    def deadline_recorded() -> bool:
        with rt.engine.connect() as conn:
            return conn.execute(select(transitions.c.id).where(transitions.c.kind == "deadline")).first() is not None

    _wait_until("the due switch was advanced while the mail server hangs", deadline_recorded, 5)


def test_stopping_a_worker_mid_send_returns_once_the_send_ends(
        started: tuple[Runtime, Worker, HangingSender]) -> None:
    """``stop`` waits for the running delivery and then returns, although that run wants to set its next wake."""
    _, worker, sender = started
    stopper = threading.Thread(target=worker.stop, daemon=True)
    stopper.start()
    time.sleep(0.2)  # let shutdown begin while the send is still hanging
    sender.release.set()
    stopper.join(10)
    assert not stopper.is_alive(), "Worker.stop() deadlocked with a job that was setting a wake"
