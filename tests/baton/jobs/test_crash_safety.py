"""A worker process killed mid-delivery loses no message: a second worker takes over its expired claims."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from smtp_server import SmtpServer
from sqlalchemy import Engine, func, select

from baton.jobs.channels import message_id
from baton.jobs.outbox import Channel, Message, enqueue
from baton.runtime import Runtime, build
from baton.store import auditlog
from baton.store.tables import audit_entries, outbox
from tests_support import key_file_for, settings_for

pytestmark = pytest.mark.slow

MESSAGES = 300
BATCH = 20
KILL_AFTER = 3 * BATCH + BATCH // 2  # received messages: usually lands in the middle of the fourth batch
SMTP_DELAY = 0.02  # seconds per accepted message: 300 take at least 6 s, so the kill lands mid-way


def _wait_until(what: str, check: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes],
                log: Path) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds or if the worker exits."""
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s:\n{log.read_text()}")
        time.sleep(0.01)


def _start_worker(db_url: str, smtp: SmtpServer, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(BATON_DATABASE_URL=db_url, BATON_DATA_DIR=str(log.parent), BATON_SMTP_HOST=smtp.host,
               BATON_SMTP_PORT=str(smtp.port), BATON_CLAIM_SECONDS="2", BATON_SWEEP_SECONDS="0.5",
               BATON_SEND_BATCH=str(BATCH), BATON_RETRY_BASE_SECONDS="1", BATON_BASE_URL="http://baton.test",
               BATON_KEY_FILE=str(key_file_for(db_url)))
    with log.open("wb") as out:  # the child keeps its own handle
        return subprocess.Popen([sys.executable, "-m", "baton.cli", "worker"], env=env, cwd=log.parent,
                                stdout=out, stderr=subprocess.STDOUT)


def _terminate(proc: subprocess.Popen[bytes], log: Path) -> int:
    """SIGTERM the worker and wait a bounded time for it to finish its run and exit."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"the worker did not stop within 15 s of SIGTERM:\n{log.read_text()}") from None


@pytest.fixture
def runtime_on(db_url: str) -> Iterator[Runtime]:
    """The service on a fresh database (SQLite file or PostgreSQL), migrated before any worker starts."""
    rt = build(settings_for(db_url))
    yield rt
    rt.engine.dispose()


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.id)).all())


def _unsent(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None)))
                   .scalar_one())


def _message_id(row: Any) -> str:
    return message_id(Message(row.id, row.owner_id, Channel(row.channel), row.recipient, row.purpose, row.subject,
                              row.body_text, row.body_html, row.dedup_key, row.attempts))


def test_a_worker_killed_mid_delivery_loses_nothing_and_repeats_at_most_its_batch(
        db_url: str, runtime_on: Runtime, smtp: SmtpServer, tmp_path: Path) -> None:
    """SIGKILL a worker mid-batch, start another: every row is marked sent once, every mail arrives at least once."""
    runtime = runtime_on
    engine = runtime.engine
    owner = runtime.service.create_owner("owner@baton.test", "correct horse battery", "Europe/Rome").owner
    now = datetime.now(UTC)  # the switch is due in weeks: the workers only deliver
    with engine.begin() as conn:
        for i in range(MESSAGES):
            assert enqueue(conn, owner_id=owner.id, key=f"crash/{i}", channel=Channel.EMAIL,
                           recipient=f"holder{i}@baton.test", purpose="notice", subject=f"Notice {i}",
                           body_text=f"Notice number {i}.\n", body_html=None, now=now)
    expected = Counter(_message_id(row) for row in _rows(engine))
    assert len(expected) == MESSAGES
    smtp.delay = SMTP_DELAY

    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _start_worker(db_url, smtp, first_log)
    try:
        _wait_until("part of the mail arrived", lambda: len(smtp.received) >= KILL_AFTER, 30, first, first_log)
    finally:
        first.kill()
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    at_kill = _rows(engine)
    in_flight = {r.id for r in at_kill if r.sent_at is None and r.claimed_by is not None}
    sent_at_kill = sum(r.sent_at is not None for r in at_kill)
    assert 0 < sent_at_kill < MESSAGES, "the kill must land mid-way through the outbox"
    assert len(in_flight) <= BATCH
    first_name = {r.claimed_by for r in at_kill if r.claimed_by is not None}
    assert len(first_name) == 1

    second = _start_worker(db_url, smtp, second_log)
    try:
        _wait_until("every outbox row was sent", lambda: _unsent(engine) == 0, 45, second, second_log)
    finally:
        code = _terminate(second, second_log)
    assert code == 0, second_log.read_text()

    rows = _rows(engine)
    assert len(rows) == MESSAGES
    assert len({r.dedup_key for r in rows}) == MESSAGES
    assert all(r.sent_at is not None and r.attempts == 1 and not r.failed for r in rows)
    taken_over = {r.id for r in rows if r.claimed_by not in first_name}
    assert in_flight <= taken_over, "the killed worker's claims were taken over when their lease ran out"
    with engine.connect() as conn:
        marked = Counter(entry["message"] for entry in conn.execute(
            select(audit_entries.c.data).where(audit_entries.c.kind == "delivery.sent")).scalars())
        chain_length, problem = auditlog.verify(conn, owner.id)
    assert marked == Counter(r.id for r in rows), "each row is recorded as sent exactly once"
    assert (chain_length, problem) == (1 + MESSAGES, None)

    received = smtp.message_ids()
    assert set(received) == set(expected), "every Message-ID arrived, and nothing else did"
    repeated = {mid: n - 1 for mid, n in received.items() if n > 1}
    in_flight_ids = {_message_id(r) for r in rows if r.id in in_flight}
    assert set(repeated) <= in_flight_ids, "only a message in flight at the kill may arrive twice"
    duplicates = sum(repeated.values())
    assert duplicates <= BATCH
    print(f"\n{runtime.engine.dialect.name}: killed after {sent_at_kill} of {MESSAGES} sent, "
          f"{len(in_flight)} claimed in flight, {duplicates} SMTP duplicate(s)")
