"""No channel holds up delivery: one owner's hanging channels, a slow mail server or a slow chat service
never delays another owner's messages, and no URL waits longer than the settings allow.

Real parts throughout: a started worker on the real clock, the real SMTP sender against aiosmtpd, the
real Apprise sender against webhooks and silent ports on 127.0.0.1 (let through the outbound guard by
``outbound_allow``), on SQLite and PostgreSQL. Every wait is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from listeners import silent, webhook
from smtp_server import SmtpServer
from sqlalchemy import insert, select

from baton.jobs.channels import AppriseSender
from baton.jobs.outbox import Channel, Message, enqueue
from baton.jobs.worker import Worker
from baton.netguard import Guard, guarded, parse_networks
from baton.runtime import Runtime, build
from baton.store.tables import audit_entries, channels, outbox
from baton.testing import FakeClock
from baton.timeutil import Clock
from tests_support import settings_for

LOOPBACK = ["127.0.0.0/8"]
ON_TIME = 5.0  # seconds after its due moment by which a message must have left
POLICY_A = {"interval": "6s", "reminders": ["3s"], "grace": "1h", "timezone": "UTC"}  # reminder +3 s, deadline +6 s
POLICY_B = {"interval": "2s", "reminders": [], "grace": "1h", "timezone": "UTC"}  # deadline (alerts) +2 s


def _wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not {what} within {timeout} s"
        time.sleep(0.02)


class Started:
    """Runtimes and started workers of a test: the workers are stopped, then the engines disposed, after
    the test (so after the listeners it opened have closed, which lets a sender stuck on one go)."""

    def __init__(self) -> None:
        self.runtimes: list[Runtime] = []
        self.workers: list[Worker] = []

    def runtime(self, db_url: str, smtp: SmtpServer, clock: Clock | None = None, **overrides: Any) -> Runtime:
        rt = build(settings_for(db_url, smtp_port=smtp.port, outbound_allow=LOOPBACK, sweep_seconds=1.0,
                                **overrides), clock=clock)
        self.runtimes.append(rt)
        return rt

    def worker(self, rt: Runtime) -> Worker:
        worker = rt.worker()
        self.workers.append(worker)
        worker.start()
        return worker


@pytest.fixture
def started() -> Iterator[Started]:
    made = Started()
    yield made
    for worker in made.workers:
        worker.stop()
    for rt in made.runtimes:
        rt.engine.dispose()


def _mail_to(smtp: SmtpServer, address: str, purpose: str) -> list[float]:
    return [r.at for r in smtp.received if r.envelope_to == (address,) and r.purpose == purpose]


def test_one_owners_hanging_channels_do_not_delay_another_owners_messages(
        db_url: str, smtp: SmtpServer, started: Started) -> None:
    """B's three channels accept and never answer (the read timeout is 20 s here); A's reminder and A's
    deadline alert — e-mail and A's own webhook — still leave within 5 s of their due moments, and so
    does B's own e-mail."""
    with webhook() as hook, silent() as hang:
        rt = started.runtime(db_url, smtp, outbound_read_timeout=20.0)
        b = rt.service.create_owner("b@baton.test", "correct horse battery", "UTC", policy=POLICY_B).owner
        for n in range(3):
            rt.service.add_channel(b.id, f"json://127.0.0.1:{hang.port}/hang{n}", f"hang {n}")
        a = rt.service.create_owner("a@baton.test", "correct horse battery", "UTC", policy=POLICY_A).owner
        rt.service.add_channel(a.id, hook.url(), "phone")
        a_status, b_status = rt.service.status(a.id), rt.service.status(b.id)
        assert a_status.next_reminder is not None
        reminder_due, a_deadline = a_status.next_reminder.timestamp(), a_status.deadline.timestamp()
        b_deadline = b_status.deadline.timestamp()
        started.worker(rt)

        def a_all_out() -> bool:
            return bool(_mail_to(smtp, "a@baton.test", "reminder") and _mail_to(smtp, "a@baton.test", "deadline")
                        and hook.received())
        _wait_until("A's reminder, deadline e-mail and webhook alert were out",
                    a_all_out, a_deadline - time.time() + ON_TIME + 5)
        assert hang.accepted() >= 1, "B's channels were being tried (and hung) meanwhile"
    late = {"A's reminder": _mail_to(smtp, "a@baton.test", "reminder")[0] - reminder_due,
            "A's deadline e-mail": _mail_to(smtp, "a@baton.test", "deadline")[0] - a_deadline,
            "A's webhook alert": hook.received()[0].at - a_deadline,
            "B's deadline e-mail": _mail_to(smtp, "b@baton.test", "deadline")[0] - b_deadline}
    print(f"\n{rt.engine.dialect.name}: seconds after due: " + ", ".join(f"{k} {v:.2f}" for k, v in late.items()))
    assert all(0 <= delay < ON_TIME for delay in late.values()), late
    assert "you missed your check-in" in str(hook.received()[0].body)


def _queue(rt: Runtime, owner_id: int, channel: Channel, recipient: str, key: str, now: datetime) -> None:
    with rt.engine.begin() as conn:
        enqueue(conn, owner_id=owner_id, key=key, channel=channel, recipient=recipient, purpose="notice",
                subject=f"Notice {key}", body_text="A notice.\n", body_html=None, now=now)


def test_a_slow_mail_server_does_not_delay_apprise_alerts(db_url: str, smtp: SmtpServer,
                                                          started: Started) -> None:
    """The relay takes 1.5 s per message and four e-mails are ahead in the outbox; the Apprise alert queued
    after them reaches its webhook at once."""
    smtp.delay = 1.5
    with webhook() as hook:
        rt = started.runtime(db_url, smtp)
        x = rt.service.create_owner("x@baton.test", "correct horse battery", "UTC").owner
        a = rt.service.create_owner("a@baton.test", "correct horse battery", "UTC").owner
        rt.service.add_channel(a.id, hook.url(), "phone")
        now = datetime.now(UTC)
        for n in range(4):
            _queue(rt, x.id, Channel.EMAIL, f"customer{n}@baton.test", f"mail{n}", now)
        _queue(rt, a.id, Channel.APPRISE, hook.url(), "alert", now)
        began = time.time()
        started.worker(rt)
        _wait_until("the alert reached the webhook", lambda: bool(hook.received()), 10)
        took = hook.received()[0].at - began
        assert took < 1.0, f"the alert waited {took:.2f} s behind the slow mail"
        assert len(smtp.received) < 4, "the mail was still going out: the alert did not wait for it"


def test_a_slow_chat_service_does_not_delay_mail(db_url: str, smtp: SmtpServer, started: Started) -> None:
    """Three webhooks of one owner take 3 s each to answer and are ahead in the outbox; another owner's
    e-mail queued after them leaves at once."""
    with webhook(delay=3.0) as slow:
        rt = started.runtime(db_url, smtp)
        b = rt.service.create_owner("b@baton.test", "correct horse battery", "UTC").owner
        a = rt.service.create_owner("a@baton.test", "correct horse battery", "UTC").owner
        urls = [slow.url(path=f"slow{n}") for n in range(3)]
        for url in urls:
            rt.service.add_channel(b.id, url)
        now = datetime.now(UTC)
        for n, url in enumerate(urls):
            _queue(rt, b.id, Channel.APPRISE, url, f"alert{n}", now)
        _queue(rt, a.id, Channel.EMAIL, "a@baton.test", "reminder", now)
        began = time.time()
        started.worker(rt)
        _wait_until("A's e-mail arrived", lambda: bool(smtp.received), 10)
        took = smtp.received[0].at - began
        assert took < 1.0, f"the e-mail waited {took:.2f} s behind the slow webhooks"
        assert len(slow.received()) < 3, "the webhooks were still being called: the mail did not wait"


def _stored_channel(rt: Runtime, owner_id: int, url: str) -> None:
    """A channel written around the API (as one stored before a rule existed would be)."""
    with rt.engine.begin() as conn:
        conn.execute(insert(channels).values(owner_id=owner_id, url=url, label="stored", created_at=datetime.now(UTC)))


def _message(url: str) -> Message:
    return Message(1, 1, Channel.APPRISE, url, "deadline", "Baton: alert", "An alert.\n", None, "k:apprise:t", 0)


def test_the_read_timeout_is_the_settings_not_the_urls_nor_the_services(db_url: str, smtp: SmtpServer,
                                                                       started: Started) -> None:
    """A URL that asks for a 60 s read timeout is refused before any connection; a silent server is given
    up after the settings' 1 s, although Apprise's own default is 4 s and its API plugin's 30 s."""
    with silent() as hang:
        rt = started.runtime(db_url, smtp, outbound_read_timeout=1.0, outbound_connect_timeout=1.0)
        sender = AppriseSender(rt.settings)
        asking = f"json://127.0.0.1:{hang.port}/hang?rto=60&cto=60"
        with pytest.raises(OSError, match="rule on its parameter"):
            sender.send(_message(asking))
        assert hang.accepted() == 0, "a refused URL opens no connection"
        for url in (f"json://127.0.0.1:{hang.port}/hang", f"apprise://127.0.0.1:{hang.port}/token"):
            began = time.monotonic()
            with pytest.raises(ConnectionError):
                sender.send(_message(url))
            took = time.monotonic() - began
            assert 0.9 <= took < 2.5, (url, took)
        assert hang.accepted() == 2

        # Stored around the API, the asking URL is refused at send time too: failed for good, audited.
        owner = rt.service.create_owner("o@baton.test", "correct horse battery", "UTC").owner
        _stored_channel(rt, owner.id, asking)
        _queue(rt, owner.id, Channel.APPRISE, asking, "alert", datetime.now(UTC))
        worker = rt.worker()
        assert worker.run_once() == (0, 0)
        with rt.engine.connect() as conn:
            row = conn.execute(select(outbox)).one()
            reason = conn.execute(select(audit_entries.c.data)
                                  .where(audit_entries.c.kind == "delivery.failed")).scalar_one()["reason"]
        assert row.failed and row.sent_at is None and row.last_error.startswith("Refused: ")
        assert "expected no parameter that sets a read timeout, got 'rto'" in reason
        assert hang.accepted() == 2


def test_the_guard_holds_requests_to_its_timeouts_whatever_they_ask() -> None:
    """Inside ``guarded``, a request asking for 60 s (or for no timeout at all) waits the guard's 1 s."""
    guard = Guard(parse_networks(LOOPBACK), connect_timeout=1.0, read_timeout=1.0)
    with silent() as hang:
        for asked in (60, None, (60, 60)):
            began = time.monotonic()
            with guarded(guard), pytest.raises(requests.exceptions.ReadTimeout):
                requests.get(f"http://127.0.0.1:{hang.port}/", timeout=asked)
            assert 0.9 <= time.monotonic() - began < 2.5, asked


def test_a_removed_channel_gets_no_more_alerts(db_url: str, smtp: SmtpServer, started: Started) -> None:
    """An alert queued for a channel the owner then removed is not sent: failed, with the reason audited."""
    with webhook() as hook:
        rt = started.runtime(db_url, smtp)
        owner = rt.service.create_owner("o@baton.test", "correct horse battery", "UTC").owner
        kept, dropped = hook.url(path="kept"), hook.url(path="dropped")
        rt.service.add_channel(owner.id, kept, "kept")
        dropped_id = rt.service.add_channel(owner.id, dropped, "dropped")
        now = datetime.now(UTC)
        _queue(rt, owner.id, Channel.APPRISE, kept, "a1", now)
        _queue(rt, owner.id, Channel.APPRISE, dropped, "a2", now)
        rt.service.remove_channel(owner.id, dropped_id)
        assert [c["label"] for c in rt.service.list_channels(owner.id)] == ["kept"]
        assert rt.worker().run_once() == (0, 1)
        assert [h.path for h in hook.received()] == ["/kept"]
        with rt.engine.connect() as conn:
            failed = conn.execute(select(outbox.c.recipient, outbox.c.last_error).where(outbox.c.failed)).all()
            kinds = conn.execute(select(audit_entries.c.kind).order_by(audit_entries.c.seq)).scalars().all()
        assert [tuple(f) for f in failed] == [(dropped, "the channel was removed")]
        assert kinds[-3:] == ["channel.removed", "delivery.sent", "delivery.failed"] or \
            kinds[-3:] == ["channel.removed", "delivery.failed", "delivery.sent"]


def test_a_failing_destination_rests_alone(db_url: str, smtp: SmtpServer, started: Started) -> None:
    """After a failure an Apprise URL rests (its messages are put back untried until then, no attempt
    counted); the owner's other channel is not held back."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with webhook() as good, silent() as down:
        rt = started.runtime(db_url, smtp, clock, outbound_read_timeout=0.5, channel_backoff_base_seconds=60,
                             retry_base_seconds=1)
        owner = rt.service.create_owner("o@baton.test", "correct horse battery", "UTC").owner
        bad = f"json://127.0.0.1:{down.port}/down"
        rt.service.add_channel(owner.id, bad)
        rt.service.add_channel(owner.id, good.url())
        now = clock.now()
        _queue(rt, owner.id, Channel.APPRISE, bad, "first", now)
        worker = rt.worker()
        assert worker.run_once() == (0, 0)  # the first try hangs up to the read timeout and fails
        assert down.accepted() == 1
        clock.advance(seconds=5)  # past the message's own retry (1 s), within the destination's rest (60 s)
        for key in ("second", "third"):
            _queue(rt, owner.id, Channel.APPRISE, bad, key, clock.now())
        _queue(rt, owner.id, Channel.APPRISE, good.url(), "other", clock.now())
        assert worker.run_once() == (0, 1)  # the good channel goes; the resting one is not tried
        assert down.accepted() == 1 and len(good.received()) == 1
        with rt.engine.connect() as conn:
            waiting = conn.execute(select(outbox.c.dedup_key, outbox.c.attempts, outbox.c.next_attempt_at)
                                   .where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id)).all()
        assert [(k.split(":")[0], n) for k, n, _ in waiting] == [("first", 1), ("second", 0), ("third", 0)]
        assert all(at == now + timedelta(seconds=60) for _k, _n, at in waiting), waiting


def test_a_destination_rests_longer_after_each_failure_and_not_after_a_success() -> None:
    """30 s, 60 s, 120 s, … up to the cap; a success forgets the failures; other destinations never rest."""
    from baton.jobs.destinations import Destinations

    rests = Destinations(base=30, cap=100)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert [rests.failed("a", now) - now for _ in range(3)] == [timedelta(seconds=s) for s in (30, 60, 100)]
    assert rests.resting_until("a", now) == now + timedelta(seconds=100)
    assert rests.resting_until("a", now + timedelta(seconds=100)) is None
    assert rests.resting_until("b", now) is None
    rests.succeeded("a")
    assert rests.resting_until("a", now) is None
    assert rests.failed("a", now) - now == timedelta(seconds=30)
