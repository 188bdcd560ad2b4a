"""The messages of a fire or a stage of a switch with witnesses, held until a push (``services/witness/hold``):
never taken by a sender however long they wait, released by the next push of any live process (a crashed one's
included), superseded when a witness ran the stage while it held the switch (each holder gets it once), the
owners to push recorded only once their transaction committed, and a witness's unreadable outcome recorded on
its link without ending the worker's run. Primary on SQLite and PostgreSQL, witnesses on both, one fake clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import test_witness_claims
from sqlalchemy import select, update
from test_witness_claims import FIRE, POLICY, Trio, audited, mails, reported_stages, taken_over

from baton.jobs import outbox as outbox_module
from baton.jobs.outbox import Channel
from baton.jobs.witnessing import Witnessing
from baton.runtime import Runtime
from baton.services import metrics
from baton.services.wakeup import advance_batch
from baton.services.witness import hold, wire
from baton.services.witness import linking as linking_module
from baton.store.tables import outbox, witness_links
from baton.testing import FakeClock, RecordingSender

trio = test_witness_claims.trio  # the primary and its two witnesses, served on the loopback


def stage_rows(rt: Runtime) -> list[Any]:
    with rt.engine.connect() as conn:
        return conn.execute(select(outbox).where(outbox.c.purpose == "stage").order_by(outbox.c.id)).all()


def email_queue(rt: Runtime, now: datetime) -> metrics.Queue:
    with rt.engine.connect() as conn:
        return metrics.snapshot(conn, now, 90).queues["email"]


def crash_after_commit(trio: Trio) -> None:
    """The primary fires and runs 'staff' (committed, held) and dies before telling its witnesses."""
    trio.clock.set(trio.clock.now() + FIRE)
    assert advance_batch(trio.primary.service, 100) is not None
    assert hold.take_pending(trio.primary.service) == {trio.owner_id}  # ... the process is gone


def test_held_rows_are_never_taken_by_time_and_the_next_heartbeat_round_releases_them(trio: Trio) -> None:
    """A crashed process's held rows wait however long: another worker (a restart, a ``--workers 2`` child)
    takes none of them and is not woken for them; the next heartbeat round of a live process (which never
    held them) releases them and they go once."""
    crash_after_commit(trio)
    trio.clock.advance(hours=6)  # far past any lease a held row ever had
    assert {(r.claimed_by, r.claimed_until) for r in stage_rows(trio.primary)} == {(hold.HOLDER, None)}
    queue = email_queue(trio.primary, trio.clock.now())
    assert queue.held >= 2 and queue.due == queue.waiting - queue.held  # reported as held, never as due
    sender = RecordingSender()
    stranger = trio.primary.worker(senders={Channel.EMAIL: sender})
    assert stranger.deliver() == 0 and sender.sent == []
    assert outbox_module.claim(trio.primary.engine, "someone", trio.clock.now() + timedelta(days=30),
                               timedelta(minutes=5), 100) == []
    assert trio.linking.push_all() == 2  # a live serving process's heartbeat round
    assert reported_stages(trio.witnesses[0]) == reported_stages(trio.witnesses[1]) == 1
    assert {r.claimed_by for r in stage_rows(trio.primary)} == {None}
    assert stranger.deliver() >= 2
    assert sorted(m.recipient for m in sender.sent if m.purpose == "stage") == ["ana@example.org", "bruno@example.org"]
    assert trio.linking.push_all() == 2 and stranger.deliver() == 0  # nothing goes twice
    assert email_queue(trio.primary, trio.clock.now()).held == 0


def test_a_primary_back_after_the_witness_ran_the_stage_supersedes_its_held_copies(trio: Trio) -> None:
    """The primary dies between the commit and the push; the witness takes over and runs 'staff'; the primary
    restarts and asks first: the witness's outcome covers the held stage, so the primary's copies are marked
    superseded (said why, audited with their ids and the witness's host) instead of released. Each holder gets
    'staff' once (from the witness) and 'family' once (from the primary, which has the switch back)."""
    crash_after_commit(trio)
    trio.clock.advance(days=1)
    assert trio.watchers[0].watch() == 1
    witness_worker = trio.witnesses[0].worker(senders={})
    trio.clock.advance(days=2)
    witness_worker.run_switches()
    assert sorted(mails(trio.witnesses[0], "stage")) == ["ana@example.org", "bruno@example.org"]
    Witnessing(trio.linking, trio.watchers[0]).ask_first()  # the primary restarts
    rows = stage_rows(trio.primary)
    assert all(r.failed and r.sent_at is None and r.claimed_by is None for r in rows)
    host = trio.urls[0].split("//", 1)[1]
    assert {r.last_error for r in rows} == {f"superseded: witness {host} ran this stage while it held the switch"}
    [entry] = audited(trio.primary, "witness.superseded")
    assert entry["witness"] == host and set(entry["messages"]) >= {r.id for r in rows}
    assert set(entry) <= {"messages", "witness", "taken_over_at", "stages_run", "cycle"}
    assert not taken_over(trio.witnesses[0])  # handed back
    queue = email_queue(trio.primary, trio.clock.now())
    assert queue.superseded >= 2 and queue.given_up == 0 and queue.held == 0
    sender = RecordingSender()
    worker = trio.primary.worker(senders={Channel.EMAIL: sender})
    worker.deliver()
    assert [m for m in sender.sent if m.purpose == "stage"] == []
    trio.clock.advance(days=1)  # 'family', run by the primary, which holds the switch again
    worker.run_switches()
    worker.deliver()
    assert [m.recipient for m in sender.sent if m.purpose == "stage"] == ["carla@example.org"]
    witness_worker.run_switches()
    assert sorted(mails(trio.witnesses[0], "stage")) == ["ana@example.org", "bruno@example.org"]


def test_a_witness_behind_the_held_stage_does_not_supersede_it(trio: Trio) -> None:
    """A witness that held the switch but ran fewer stages than the state pushed hands the switch back on
    seeing it and never runs those stages: the primary's held copies are released, not superseded."""
    trio.clock.set(trio.clock.now() + FIRE)
    assert advance_batch(trio.primary.service, 100) is not None
    hold.take_pending(trio.primary.service)
    with trio.primary.engine.connect() as conn:
        loaded = trio.primary.service.load(conn, trio.owner_id)
        held = hold.held_ids(conn, trio.owner_id)
    behind = {"checked_in_at": None, "stages_run": 0, "cycle": loaded.state.cycle, "taken_over_at": "x"}
    trio.linking.settle(trio.owner_id, loaded, held, [("witness.test", behind)])
    assert {(r.claimed_by, r.failed) for r in stage_rows(trio.primary)} == {(None, False)}
    assert audited(trio.primary, "witness.superseded") == []


def link_to_nowhere(rt: Runtime, owner_id: int, clock: FakeClock) -> None:
    with rt.engine.begin() as conn:
        conn.execute(witness_links.insert().values(owner_id=owner_id, url="http://127.0.0.1:9", rank=0,
                                                   witness_public="ab" * 32, remote_id=1, silence_seconds=86400,
                                                   seq=1, created_at=clock.now()))


def test_the_owners_to_push_are_recorded_only_after_the_commit(runtime: Runtime, clock: FakeClock) -> None:
    """Inside the transaction that held the messages, no push can take the owner (it would read the state
    from before the stage and release nothing); after the commit it can; a rollback leaves nothing to push."""
    made = runtime.service.create_owner("o@example.org", "correct horse battery", "UTC", policy=POLICY)
    link_to_nowhere(runtime, made.owner.id, clock)
    service = runtime.service

    def write(conn: Any, key: str) -> None:
        outbox_module.enqueue(conn, owner_id=made.owner.id, key=key, channel=Channel.EMAIL,
                              recipient="ana@example.org", purpose="stage", subject="s", body_text="b",
                              body_html=None, now=clock.now())

    with runtime.engine.begin() as conn:
        write(conn, "k1")
        assert hold.hold(conn, service, {made.owner.id}, clock.now()) == {made.owner.id}
        assert hold.take_pending(service) == set()  # the witness loop, racing the commit, finds nothing
    assert hold.take_pending(service) == {made.owner.id}
    with runtime.engine.connect() as conn:
        assert outbox_module.next_attempt(conn) is None  # no worker wakes for a held message
    with pytest.raises(RuntimeError), runtime.engine.begin() as conn:
        write(conn, "k2")
        hold.hold(conn, service, {made.owner.id}, clock.now())
        raise RuntimeError("the transaction fails")
    with runtime.engine.begin() as conn:
        pass
    assert hold.take_pending(service) == set()


def test_an_unreadable_outcome_is_the_links_problem_and_never_ends_the_run(runtime: Runtime, clock: FakeClock,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two linked owners fire in one batch; the first's witness answers a signed heartbeat whose outcome has a
    malformed moment: recorded on its link in words, that owner's held messages superseded (the witness says it
    held the switch; what it ran cannot be known, and twice must not happen), and the second owner is still
    pushed and its messages released. A push that fails outright leaves its owners pending, the run goes on."""
    owners = [runtime.service.create_owner(f"o{i}@example.org", "correct horse battery", "UTC", policy=POLICY).owner.id
              for i in range(2)]
    for owner_id in owners:
        link_to_nowhere(runtime, owner_id, clock)

    def answer(self: Any, link: Any, kind: str, seq: int, body: dict[str, Any]) -> wire.Message:
        bad = {"checked_in_at": "yesterday", "stages_run": 1, "cycle": 0, "taken_over_at": "2026-01-01T00:00:00+00:00"}
        return wire.Message("answer", link.witness_public, link.owner_id, seq, clock.now().isoformat(),
                            {"version": body["version"], "stored": True,
                             **({"outcome": bad} if link.owner_id == owners[0] else {})})

    monkeypatch.setattr(linking_module.Linking, "_send", answer)
    clock.set(clock.now() + FIRE)
    worker = runtime.worker(senders={Channel.EMAIL: RecordingSender()})
    assert worker.run_switches() > 0
    assert runtime.service.witness_pending == set()
    with runtime.engine.connect() as conn:
        problems = {r.owner_id: r.problem for r in conn.execute(select(witness_links))}
        rows = {r.owner_id: r for r in conn.execute(select(outbox).where(outbox.c.purpose == "stage"))}
    assert problems[owners[1]] is None
    assert "its outcome: expected checked_in_at (an ISO moment or null)" in problems[owners[0]]
    assert "'yesterday'" in problems[owners[0]]
    assert rows[owners[0]].failed and rows[owners[0]].last_error.startswith("superseded: witness 127.0.0.1:9 ")
    assert not rows[owners[1]].failed and rows[owners[1]].claimed_by is None

    def broken(self: Any, owner_id: int, sync: bool = True) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(linking_module.Linking, "push_owner", broken)
    with runtime.engine.begin() as conn:  # both switches re-armed and due again
        conn.execute(update(outbox).values(sent_at=clock.now()))
    for owner_id in owners:
        runtime.service.check_in(owner_id)
    clock.advance(days=12)
    assert worker.run_switches() > 0  # the failed push did not end the run
    assert runtime.service.witness_pending == set(owners)  # put back: the next push tells them
    assert {r.claimed_by for r in stage_rows(runtime) if r.sent_at is None} == {hold.HOLDER}


def test_a_naive_or_negative_outcome_is_refused_in_words() -> None:
    for bad, said in (({"checked_in_at": "2026-01-01T00:00:00"}, "no time zone offset"),
                      ({"stages_run": -1}, "integers from 0"), ({"cycle": "2"}, "integers from 0"),
                      (["not", "an", "object"], "expected an object, got list")):
        with pytest.raises(linking_module.BadRequest, match=said):
            linking_module.read_outcome(bad)
    moment = linking_module.read_outcome({"checked_in_at": "2026-01-01T00:00:00+02:00", "stages_run": 1, "cycle": 3})
    assert moment.checked_in_at == datetime.fromisoformat("2026-01-01T00:00:00+02:00") and moment.stages_run == 1


def test_held_messages_of_an_owner_without_witnesses_are_released_by_the_heartbeat_round(
        runtime: Runtime, clock: FakeClock) -> None:
    """Held messages whose owner has no witness any more (its link row gone) do not wait forever: the
    heartbeat round covers every owner with held messages, and with no witness to tell, releases them."""
    made = runtime.service.create_owner("o@example.org", "correct horse battery", "UTC", policy=POLICY)
    link_to_nowhere(runtime, made.owner.id, clock)
    clock.set(clock.now() + FIRE)
    assert advance_batch(runtime.service, 100) is not None
    assert hold.take_pending(runtime.service) == {made.owner.id}  # the process dies before the push
    with runtime.engine.begin() as conn:
        conn.execute(witness_links.delete())
        assert hold.held_owners(conn) == {made.owner.id}
    assert linking_module.Linking(runtime.service).push_all() == 0
    assert {r.claimed_by for r in stage_rows(runtime)} == {None}
    with runtime.engine.connect() as conn:
        assert hold.held_owners(conn) == set()
