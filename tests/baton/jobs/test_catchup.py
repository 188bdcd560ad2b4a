"""Catching up (issue 15): a run's batches grow from 50 to BATON_WAKE_BATCH; the first batch's messages go at
once, and while full batches say a backlog remains, the senders claim nothing new (for at most ``HOLD``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from test_mass_wakeup import DEADLINE, START, _seed

from baton.jobs import worker as worker_module
from baton.jobs.catchup import FIRST, HOLD, CatchUp
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.services.wakeup import advance_batch
from baton.store.tables import outbox
from baton.testing import FakeClock, RecordingSender
from tests_support import settings_for


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_batches_grow_from_the_first_to_the_largest_and_never_past_it() -> None:
    catch = CatchUp(500, Ticks())
    sizes = []
    for _ in range(6):
        sizes.append(catch.size)
        catch.after(catch.size)
    assert sizes == [FIRST, 2 * FIRST, 4 * FIRST, 8 * FIRST, 500, 500]
    assert CatchUp(7, Ticks()).size == 7  # a setting below the first batch is the batch
    with pytest.raises(ValueError, match="at least one switch, got 0"):
        CatchUp(0)


def test_the_senders_wait_only_while_full_batches_come_and_never_longer_than_the_hold() -> None:
    ticks = Ticks()
    catch = CatchUp(500, ticks)
    assert not catch.holding()  # the first batch's messages are handed over before any hold
    catch.after(FIRST)
    assert catch.holding()  # a full batch: more are due
    ticks.now += HOLD - 0.1
    catch.after(catch.size)
    assert catch.holding()
    ticks.now += 0.2
    assert not catch.holding()  # the hold is over, backlog or not: the mail is never starved
    catch.after(catch.size - 1)  # a batch with room to spare: the backlog is recorded
    assert not catch.holding()
    catch.after(catch.size)
    assert catch.holding()
    catch.end()
    assert not catch.holding()


@pytest.fixture
def runtime(db_url: str, clock: FakeClock) -> Iterator[Runtime]:
    clock.set(START)
    rt = build(settings_for(db_url, email_senders=2, send_batch=5), clock=clock)
    yield rt
    rt.engine.dispose()


def test_a_backlog_is_recorded_before_more_than_the_first_messages_are_claimed(
        runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """370 switches due at once (a deadline and one alert each): batches of 50, 100, 200 (full: the senders
    wait), then 400 with 20 to go. The senders take the first batch's messages at once and no more until the
    backlog is recorded; then every message goes, once."""
    rt = runtime
    _seed(rt.engine, DEADLINE, 370, START)
    clock.set(START + timedelta(hours=1))
    mail = RecordingSender()
    worker = rt.worker({Channel.EMAIL: mail, Channel.APPRISE: RecordingSender()})
    seen: list[tuple[int, int]] = []  # (batch size asked, messages claimed or sent once it committed)

    def observed(service, limit):  # type: ignore[no-untyped-def]
        done = advance_batch(service, limit)
        with rt.engine.connect() as conn:
            taken = conn.execute(select(func.count()).select_from(outbox).where(
                (outbox.c.claimed_by.is_not(None)) | (outbox.c.sent_at.is_not(None)))).scalar_one()
        seen.append((limit, taken))
        return done

    monkeypatch.setattr(worker_module, "advance_batch", observed)
    worker.deliverer.open()
    try:
        assert worker.run_switches() == 370
        assert [limit for limit, _ in seen] == [50, 100, 200, 400, 500]
        assert seen[0][1] == 0
        first_claims = seen[1][1]
        # The first batch's messages were handed over at once (a sender freed before the hold began may
        # have claimed a few of the second batch's too).
        assert 0 < first_claims <= 150
        # While the backlog was recorded, nothing more was claimed (the senders finished what they held).
        assert seen[2][1] == seen[3][1] == first_claims
        worker.deliver()
    finally:
        worker.deliverer.close()
    with rt.engine.connect() as conn:
        unsent = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar_one()
    assert unsent == 0
    assert len(mail.sent) == len({m.id for m in mail.sent}) == 370
