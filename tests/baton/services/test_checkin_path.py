"""The check-in's hot path (``baton.services.checkin``) on a real database (SQLite and PostgreSQL): every
check-in keeps its transition and signed audit entry under concurrency, check-ins that are not plain go
the general way, and the worker is told only when it has something sooner to do or to send."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import Table, func, select

from baton.runtime import Runtime
from baton.store import auditlog
from baton.store.engine import reading
from baton.store.tables import audit_entries, outbox, switches, transitions
from baton.testing import FakeClock
from switch import iso

OWNERS = 4
THREADS = 8
EACH = 6  # check-ins per thread


def _count(runtime: Runtime, table: Table, **where: object) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with reading(runtime.engine) as conn:  # a reader: it never waits for the test's own writer
        return int(conn.execute(query).scalar_one())


def test_concurrent_check_ins_each_write_a_transition_and_an_entry_and_every_chain_verifies(
        runtime: Runtime, clock: FakeClock) -> None:
    """8 threads check in for 4 owners through their tokens at once (each owner's check-ins contend for
    its switch and its chain's head): every one is answered, recorded once, and each chain verifies."""
    service = runtime.service
    made = [service.create_owner(f"owner{i}@example.org", "correct horse battery", "Europe/Rome")
            for i in range(OWNERS)]
    clock.advance(hours=1)

    def check_ins(thread: int) -> int:
        done = 0
        for n in range(EACH):
            view = service.check_in_with_token(made[(thread + n) % OWNERS].api_token, "api")
            assert view is not None and view.status == "armed"
            done += 1
        return done

    with ThreadPoolExecutor(THREADS) as pool:
        answered = sum(pool.map(check_ins, range(THREADS)))
    assert answered == THREADS * EACH
    assert _count(runtime, transitions, kind="checkin") == answered
    assert _count(runtime, audit_entries, kind="switch.checkin") == answered
    with reading(runtime.engine) as conn:
        for owner in made:
            count, problem = auditlog.verify(conn, owner.owner.id)
            assert problem is None
            assert count == 1 + _count(runtime, transitions, owner_id=owner.owner.id)  # owner.created first
            version = conn.execute(select(switches.c.version).where(switches.c.owner_id == owner.owner.id)
                                   ).scalar_one()
            assert version == _count(runtime, transitions, owner_id=owner.owner.id)


def test_a_plain_check_in_stores_what_the_general_path_would(runtime: Runtime, clock: FakeClock) -> None:
    """The transition and the entry of a check-in through the token: its cycle, moments, reason and data,
    the entry chained after the owner's head and naming the switch; the switch re-armed from now."""
    service = runtime.service
    made = service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    clock.advance(days=3)
    view = service.check_in_with_token(made.api_token, "cli")
    assert view is not None
    now = clock.now()
    with runtime.engine.connect() as conn:
        switch = conn.execute(select(switches).where(switches.c.owner_id == made.owner.id)).one()
        row = conn.execute(select(transitions).where(transitions.c.owner_id == made.owner.id)).one()
        entries = auditlog.entries(conn, made.owner.id)
    assert switch.version == 1 and switch.state["armed_at"] == now.isoformat()
    assert switch.next_due_at == view.next_due
    assert (row.kind, row.cycle, row.due_at, row.recorded_at, row.switch_id) == ("checkin", 1, now, now, switch.id)
    assert row.reason.startswith("check-in via cli; next deadline ") and row.data["via"] == "cli"
    assert [e.kind for e in entries] == ["owner.created", "switch.checkin"]
    last = entries[-1]
    assert last.seq == 2 and last.prev_hash == entries[0].hash and last.at == now
    assert last.data["switch"] == switch.id and last.data["via"] == "cli"
    assert last.data["recorded_at"] == iso(now) and last.data["deadline"] == row.data["deadline"]


def test_the_worker_is_told_only_when_it_has_something_sooner_or_to_send(runtime: Runtime,
                                                                           clock: FakeClock) -> None:
    """A plain check-in moves the next due moment later and sends nothing: the worker is not woken. A
    check-in that resumes a pause (the owner is e-mailed) goes the general way and wakes it."""
    service = runtime.service
    told: list[datetime | None] = []
    service.on_change = told.append
    made = service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    told.clear()
    clock.advance(days=2)
    assert service.check_in_with_token(made.api_token) is not None
    assert service.check_in(made.owner.id) is not None
    assert told == []
    service.pause(made.owner.id, clock.now() + timedelta(days=3))
    told.clear()
    clock.advance(hours=1)
    queued = _count(runtime, outbox)
    assert service.check_in_with_token(made.api_token) is not None  # resumes the pause: the owner is told
    assert _count(runtime, outbox) > queued
    assert len(told) == 1 and told[0] == service.status(made.owner.id).next_due
    with runtime.engine.connect() as conn:
        count, problem = auditlog.verify(conn, made.owner.id)
    assert problem is None and count == 6  # created, 2 check-ins, paused, resumed, check-in
