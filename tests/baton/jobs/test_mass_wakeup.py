"""A mass wake-up: due switches advanced in batches with bulk writes, e-mail sent in batches over reused
SMTP connections by several senders; nothing twice, nothing lost, every audit chain still verifies."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from smtp_server import SmtpServer
from sqlalchemy import Engine, insert, select

from baton.jobs.channels import PerThread, SmtpSender, message_id
from baton.jobs.outbox import Channel, Message
from baton.runtime import Runtime, build
from baton.services.wakeup import advance_batch
from baton.store import auditlog
from baton.store.tables import links, outbox, owners, switches, transitions
from baton.testing import FakeClock, RecordingSender
from switch import arm, next_timer, policy_from_dict, policy_to_dict, state_to_dict
from tests_support import settings_for

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Deadline, fire and the notify stage in one step: three events in order, three messages per switch.
FIRING = {"interval": "1h", "reminders": [], "grace": "0s", "timezone": "UTC",
          "stages": [{"name": "notify", "after": "0s", "audience": ["owner"]}]}
# A deadline alone (a day of grace): one event and one alert per switch.
DEADLINE = {"interval": "1h", "reminders": [], "grace": "1d", "timezone": "UTC",
            "stages": [{"name": "notify", "after": "0s", "audience": ["owner"]}]}
PLACED = re.compile(r"\[\[link:(\??\d+)\]\]")


def _seed(engine: Engine, policy_data: dict[str, object], count: int, armed: datetime,
          email: str = "owner{}@example.com") -> list[int]:
    """``count`` owners written directly (no argon2), their switches armed at ``armed``; the owner ids."""
    policy = policy_from_dict(policy_data)
    state = arm(policy, armed)
    timer = next_timer(policy, state)
    assert timer is not None
    with engine.begin() as conn:
        first = len(conn.execute(select(owners.c.id)).all())
        owner_ids = list(conn.execute(insert(owners).returning(owners.c.id, sort_by_parameter_order=True), [
            dict(email=email.format(first + i), password_hash="-", timezone="UTC", created_at=armed)
            for i in range(count)]).scalars())
        conn.execute(insert(switches), [
            dict(owner_id=owner_id, policy=policy_to_dict(policy), state=state_to_dict(state),
                 status=str(state.status), next_due_at=timer.due, version=0, updated_at=armed)
            for owner_id in owner_ids])
    return owner_ids


@pytest.fixture
def batch_runtime(db_url: str, clock: FakeClock, smtp: SmtpServer) -> Iterator[Runtime]:
    """Small batches (several per test) and several e-mail senders, pointed at the loopback server."""
    clock.set(START)
    rt = build(settings_for(db_url, smtp_port=smtp.port, wake_batch=7, send_batch=5, email_senders=3), clock=clock)
    yield rt
    rt.engine.dispose()


def _verify_all(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        found = {}
        for owner_id in conn.execute(select(owners.c.id)).scalars():
            entries, problem = auditlog.verify(conn, owner_id)
            assert problem is None, f"owner {owner_id}: {problem}"
            found[owner_id] = entries
    return found


def test_a_batched_wake_up_records_each_switch_once_in_order_with_its_links_and_a_valid_chain(
        batch_runtime: Runtime, clock: FakeClock, smtp: SmtpServer) -> None:
    rt = batch_runtime
    # Owners made the usual way have an audit chain already (owner.created), and a chat channel.
    made = [rt.service.create_owner(f"made{i}@example.com", "correct horse battery", "UTC", policy=FIRING).owner
            for i in range(2)]
    rt.service.add_channel(made[0].id, "json://hooks.example.net/alerts")
    seeded = _seed(rt.engine, FIRING, 30, START)
    before = _verify_all(rt.engine)
    chat = RecordingSender()
    worker = rt.worker({Channel.EMAIL: PerThread(lambda: SmtpSender(rt.settings)), Channel.APPRISE: chat})

    clock.set(START + timedelta(hours=1) - timedelta(seconds=1))
    assert worker.run_switches() == 0  # never early: a second before the deadline nothing is due
    clock.set(START + timedelta(hours=1, seconds=5))
    assert worker.run_switches() == 3 * 32
    assert worker.run_switches() == 0

    with rt.engine.connect() as conn:
        rows = conn.execute(select(transitions.c.switch_id, transitions.c.kind).order_by(transitions.c.id)).all()
        messages = conn.execute(select(outbox)).all()
        stored_links = {r.id: r.owner_id for r in conn.execute(select(links.c.id, links.c.owner_id))}
    kinds: dict[int, list[str]] = {}
    for switch_id, kind in rows:
        kinds.setdefault(switch_id, []).append(kind)
    assert len(kinds) == 32
    assert all(k == ["deadline", "fired", "stage"] for k in kinds.values()), kinds
    # Three e-mails each, and the chat channel's two alerts; every link is the stored link of its owner.
    assert Counter(m.channel for m in messages) == {"email": 3 * 32, "apprise": 2}
    for m in messages:
        for placed in PLACED.findall(m.body_text + (m.body_html or "")):
            assert not placed.startswith("?"), f"message {m.id} kept a pending link"
            assert stored_links[int(placed)] == m.owner_id
    assert sum("[[link:" in m.body_text for m in messages if m.channel == "email") == 2 * 32  # deadline, fired
    chains = _verify_all(rt.engine)
    assert all(chains[o] == 3 for o in seeded) and all(chains[o.id] == before[o.id] + 3 for o in made)

    # Delivered in batches of five over reused connections; the audit chains still verify.
    assert worker.deliver() == 3 * 32 + 2
    assert [m.purpose for m in chat.sent] == ["deadline", "fired"]
    assert smtp.message_ids() == Counter({message_id(_message(m)): 1 for m in messages if m.channel == "email"})
    assert 1 <= smtp.connections() <= 3 < len(smtp.received)
    chains = _verify_all(rt.engine)
    assert all(chains[o] == 6 for o in seeded) and all(chains[o.id] == before[o.id] + 6 for o in made[1:])


def test_several_senders_each_reuse_one_connection(db_url: str, clock: FakeClock) -> None:
    """Three senders, a relay that takes 20 ms per message: the batches go out side by side, each
    over one connection, so the server sees more than one connection and far fewer than messages."""
    clock.set(START)
    server = SmtpServer(delay=0.02)
    server.start()
    rt = build(settings_for(db_url, smtp_port=server.port, send_batch=6, email_senders=3), clock=clock)
    try:
        _seed(rt.engine, DEADLINE, 36, START)
        clock.set(START + timedelta(hours=1))
        worker = rt.worker()
        assert worker.run_switches() == 36
        assert worker.deliver() == 36
        assert set(server.message_ids().values()) == {1} and len(server.received) == 36
        assert 2 <= server.connections() <= 3
    finally:
        server.stop()
        rt.engine.dispose()


def test_a_refused_message_in_a_batch_neither_loses_nor_repeats_the_others(
        db_url: str, clock: FakeClock, smtp: SmtpServer) -> None:
    clock.set(START)
    rt = build(settings_for(db_url, smtp_port=smtp.port, send_batch=10, email_senders=1), clock=clock)
    try:
        _seed(rt.engine, DEADLINE, 10, START)
        smtp.refuse.add("owner4@example.com")
        clock.set(START + timedelta(hours=1))
        worker = rt.worker()
        assert worker.run_switches() == 10
        assert worker.deliver() == 9
        assert sorted(r.to for r in smtp.received) == sorted(f"owner{i}@example.com" for i in range(10) if i != 4)
        with rt.engine.connect() as conn:
            rows = {r.recipient: r for r in conn.execute(select(outbox))}
        refused = rows.pop("owner4@example.com")
        assert refused.sent_at is None and refused.attempts == 1 and "550" in (refused.last_error or "")
        assert all(r.sent_at is not None and r.attempts == 1 for r in rows.values())
        # Its retry comes; the others are not sent again.
        smtp.refuse.clear()
        clock.advance(seconds=10)
        assert worker.deliver() == 1
        assert set(smtp.message_ids().values()) == {1} and len(smtp.received) == 10
        _verify_all(rt.engine)
    finally:
        rt.engine.dispose()


@pytest.mark.postgres
def test_four_claimers_at_once_never_take_the_same_switch(pg_url: str, clock: FakeClock) -> None:
    """Four threads claim batches at the same time on PostgreSQL (SKIP LOCKED): every switch is
    advanced by exactly one of them, and each switch's three events stay in order."""
    clock.set(START)
    rt = build(settings_for(pg_url), clock=clock)
    try:
        _seed(rt.engine, FIRING, 240, START)
        clock.set(START + timedelta(hours=1))
        gate = threading.Barrier(4)
        advanced: list[int] = []
        errors: list[BaseException] = []

        def claim() -> None:
            try:
                gate.wait(timeout=30)
                while (done := advance_batch(rt.service, 10)) is not None:
                    advanced.append(done[0])
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors and not any(t.is_alive() for t in threads)
        assert sum(advanced) == 240  # each claim counted once: no switch in two batches
        with rt.engine.connect() as conn:
            rows = conn.execute(select(transitions.c.switch_id, transitions.c.kind).order_by(transitions.c.id)).all()
        kinds: dict[int, list[str]] = {}
        for switch_id, kind in rows:
            kinds.setdefault(switch_id, []).append(kind)
        assert len(kinds) == 240 and all(k == ["deadline", "fired", "stage"] for k in kinds.values())
        _verify_all(rt.engine)
    finally:
        rt.engine.dispose()


def _message(row: object) -> Message:
    r = row
    return Message(r.id, r.owner_id, Channel(r.channel), r.recipient, r.purpose, r.subject,  # type: ignore[attr-defined]
                   r.body_text, r.body_html, r.dedup_key, r.attempts)  # type: ignore[attr-defined]
