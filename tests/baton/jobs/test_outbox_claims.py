"""Outbox claims: a worker whose lease ran out never sends what another worker took over."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from baton.jobs import outbox
from baton.jobs.delivery import Deliverer
from baton.jobs.outbox import Channel
from baton.runtime import Runtime
from baton.store.tables import outbox as outbox_table
from baton.testing import FakeClock, RecordingSender


def _deliverer(runtime: Runtime, name: str, sender: RecordingSender) -> Deliverer:
    return Deliverer(runtime.engine, runtime.settings, runtime.service.clock, runtime.service.signer,
                     runtime.service.key, name,
                     {Channel.EMAIL: sender, Channel.APPRISE: sender})


def test_a_lapsed_claim_is_not_sent_twice(runtime: Runtime, clock: FakeClock) -> None:
    """Worker A claims, stalls past its lease; B takes over and sends; A then sends nothing."""
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    with runtime.engine.begin() as conn:
        outbox.enqueue(conn, owner_id=made.owner.id, key="k1", channel=Channel.EMAIL, recipient="a@example.org",
                       purpose="test", subject="s", body_text="t", body_html=None, now=clock.now())
    lease = timedelta(seconds=runtime.settings.claim_seconds)
    (claimed,) = outbox.claim(runtime.engine, "A", clock.now(), lease, 10)
    clock.advance(seconds=runtime.settings.claim_seconds + 1)
    sender_a, sender_b = RecordingSender(), RecordingSender()
    assert _deliverer(runtime, "B", sender_b).run_once() == 1
    assert _deliverer(runtime, "A", sender_a)._deliver(claimed) == 0
    assert sender_a.sent == [] and len(sender_b.sent) == 1


def test_sent_messages_keep_no_live_link(runtime: Runtime, clock: FakeClock) -> None:
    """Once sent, a stored body has its link token replaced, so a backup cannot check anyone in."""
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    with runtime.engine.begin() as conn:
        outbox.enqueue(conn, owner_id=made.owner.id, key="k2", channel=Channel.EMAIL, recipient="a@example.org",
                       purpose="test", subject="s", body_text="open http://baton.test/l/abcdefghijklmnop now",
                       body_html=None, now=clock.now())
    sender = RecordingSender()
    assert _deliverer(runtime, "A", sender).run_once() == 1
    assert "abcdefghijklmnop" in sender.sent[0].body_text
    with runtime.engine.connect() as conn:
        stored = conn.execute(select(outbox_table.c.body_text)).scalar_one()
    assert stored == "open http://baton.test/l/*** now"
