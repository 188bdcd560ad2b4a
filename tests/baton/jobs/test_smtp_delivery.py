"""Reminders reach a real SMTP server, and a server outage delays messages without losing or doubling them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from smtp_server import SmtpServer
from sqlalchemy import select

from baton.jobs.channels import message_id
from baton.jobs.outbox import Channel, Message
from baton.runtime import Runtime, build
from baton.store.links import Purpose
from baton.store.tables import outbox
from baton.testing import FakeClock
from tests_support import settings_for

OWNER = "owner@baton.test"
POLICY = {"interval": "30d", "reminders": ["7d", "1d"], "grace": "2d", "grace_reminder_every": "1d",
          "stages": [{"name": "notify", "after": "0d", "audience": ["owner"]}]}
CHECKIN_LINK = re.compile(r"http://baton\.test/l/([A-Za-z0-9_-]{20,})")


@pytest.fixture
def smtp_runtime(db_url: str, clock: FakeClock, smtp: SmtpServer) -> Iterator[Runtime]:
    """The service on a fresh database, its real senders pointed at the loopback SMTP server."""
    rt = build(settings_for(db_url, smtp_port=smtp.port), clock=clock)
    yield rt
    rt.engine.dispose()


def _rows(rt: Runtime) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.id)).all())


def _message_id(row: Any) -> str:
    return message_id(Message(row.id, row.owner_id, Channel(row.channel), row.recipient, row.purpose, row.subject,
                              row.body_text, row.body_html, row.dedup_key, row.attempts))


def test_each_reminder_arrives_once_with_a_checkin_link_in_text_and_html(
        smtp_runtime: Runtime, clock: FakeClock, smtp: SmtpServer) -> None:
    """The two reminders of a 30-day switch reach the SMTP server at 7 days and 1 day before the deadline."""
    rt = smtp_runtime
    owner = rt.service.create_owner(OWNER, "correct horse battery", "Europe/Rome", policy=POLICY).owner
    worker = rt.worker()  # no senders given: the real SmtpSender

    assert worker.run_once() == (0, 0)
    moments = []
    for _ in range(2):
        due = rt.service.status(owner.id).next_reminder
        assert due is not None
        clock.set(due)
        moments.append(due)
        assert worker.run_once() == (1, 1)

    assert moments == [datetime(2026, 1, 24, 9, tzinfo=UTC), datetime(2026, 1, 30, 9, tzinfo=UTC)]
    got = smtp.received
    assert [(r.envelope_to, r.to, r.purpose, r.subject) for r in got] == [
        ((OWNER,), OWNER, "reminder", "Baton: please check in before 2026-01-31 10:00 CET")] * 2
    tokens = []
    for received in got:
        assert received.text is not None and received.html is not None
        assert "Your next check-in is due by 2026-01-31 10:00 CET." in received.text
        found = CHECKIN_LINK.search(received.text)
        assert found is not None, received.text
        assert f'href="{found.group(0)}"' in received.html
        tokens.append(found.group(1))
        link, view, address = rt.service.open_link(found.group(1), Purpose.CHECKIN)
        assert (link.owner_id, view.status, address) == (owner.id, "armed", OWNER)
    assert len(set(tokens)) == 2, "each reminder carries its own one-time link"
    assert len({r.message_id for r in got}) == 2
    assert [r.message_id for r in got] == [_message_id(row) for row in _rows(rt)]


def test_messages_wait_out_an_smtp_outage_and_then_arrive_exactly_once(
        smtp_runtime: Runtime, clock: FakeClock, smtp: SmtpServer) -> None:
    """While the server is down attempts are counted and backed off; once it is back, none is lost or doubled."""
    rt = smtp_runtime
    owner = rt.service.create_owner(OWNER, "correct horse battery", "Europe/Rome", policy=POLICY).owner
    worker = rt.worker()
    for _ in range(2):
        due = rt.service.status(owner.id).next_reminder
        assert due is not None
        clock.set(due)
        worker.run_once()
    assert len(smtp.received) == 2

    smtp.stop()
    deadline = rt.service.status(owner.id).deadline
    clock.set(deadline)
    assert worker.run_once() == (1, 0)  # the deadline alert is recorded, not sent
    fires = rt.service.status(owner.id).fires_at
    assert fires is not None
    clock.set(fires)
    assert worker.run_once() == (3, 0)  # the grace reminder, the firing, the stage: none sent

    rows = _rows(rt)
    unsent = [r for r in rows if r.sent_at is None]
    assert [(r.purpose, r.attempts) for r in unsent] == [
        ("deadline", 2), ("grace_reminder", 1), ("fired", 1), ("stage", 1)]
    for row in unsent:
        assert row.next_attempt_at > clock.now(), row.purpose
        assert row.last_error.startswith("ConnectionRefusedError: "), row.last_error
        assert row.claimed_until is None and not row.failed

    assert worker.run_once() == (0, 0)  # nothing is due again before its backoff ends
    assert [r.attempts for r in _rows(rt)] == [r.attempts for r in rows]

    clock.set(max(r.next_attempt_at for r in unsent))
    smtp.start()
    assert worker.run_once() == (0, 4)
    assert worker.run_once() == (0, 0)

    rows = _rows(rt)
    assert all(r.sent_at is not None for r in rows)
    assert len(rows) == 6
    assert smtp.message_ids() == Counter(_message_id(r) for r in rows)
    assert set(smtp.message_ids().values()) == {1}
    purposes = [r.purpose for r in smtp.received]
    assert purposes[:2] == ["reminder", "reminder"]
    assert sorted(purposes[2:]) == ["deadline", "fired", "grace_reminder", "stage"]
    assert all(r.envelope_to == (OWNER,) for r in smtp.received)
