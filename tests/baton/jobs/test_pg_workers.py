"""Several worker processes on one PostgreSQL: every switch fires once, every message is sent once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from smtp_server import free_port
from sqlalchemy import Engine, func, insert, select

from baton.jobs.channels import message_id
from baton.jobs.outbox import Channel, Message
from baton.runtime import build
from baton.store import auditlog
from baton.store.tables import outbox, owners, switches, transitions
from switch import arm, next_timer, policy_from_dict, policy_to_dict, state_to_dict
from tests_support import key_file_for, settings_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SWITCHES = 600  # more than one worker's first batches (50, 100, 200): each worker has batches to take or skip
WORKERS = 4
MESSAGES_PER_SWITCH = 3  # the deadline alert, the fired alert, the stage's notice to the owner


def _timeout() -> float:
    """Seconds for all of it: about 15 s on an idle 2-core machine. The bound grows with the machine's
    load (other jobs share its cores), so a busy machine slows the test without failing it."""
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    return min(600.0, 90.0 * max(1.0, load))
POLICY = {"interval": "1m", "reminders": [], "grace": "0s", "timezone": "UTC",
          "stages": [{"name": "notify", "after": "0s", "audience": ["owner"]}]}


class _MessageIds:
    """An SMTP handler that keeps only each message's Message-ID (headers only: cheap for 6,000)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._lock = threading.Lock()
        self._parser = BytesHeaderParser()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        headers = self._parser.parsebytes(envelope.original_content or envelope.content)
        with self._lock:
            self.ids.append(str(headers["Message-ID"]))
        return "250 Message accepted for delivery"

    def received(self) -> Counter[str]:
        with self._lock:
            return Counter(self.ids)


@pytest.fixture
def message_ids() -> Iterator[tuple[int, _MessageIds]]:
    """An aiosmtpd server on the loopback recording Message-IDs: (port, recorder)."""
    recorder = _MessageIds()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()


def _seed(engine: Engine, count: int, now: datetime) -> None:
    """``count`` owners whose switches were armed two intervals ago, so all are due at once."""
    policy = policy_from_dict(POLICY)
    state = arm(policy, now - timedelta(minutes=2))
    timer = next_timer(policy, state)
    assert timer is not None and timer.due < now
    with engine.begin() as conn:
        owner_ids = conn.execute(insert(owners).returning(owners.c.id), [
            dict(email=f"owner{i}@example.com", password_hash="-", timezone="UTC", created_at=now)
            for i in range(count)]).scalars().all()
        conn.execute(insert(switches), [
            dict(owner_id=owner_id, policy=policy_to_dict(policy), state=state_to_dict(state),
                 status=str(state.status), next_due_at=timer.due, version=0, updated_at=now)
            for owner_id in owner_ids])


def _start_worker(pg_url: str, smtp_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(BATON_DATABASE_URL=pg_url, BATON_SMTP_HOST="127.0.0.1", BATON_SMTP_PORT=str(smtp_port),
               BATON_SWEEP_SECONDS="0.5", BATON_BASE_URL="http://baton.test", BATON_DATA_DIR=str(log.parent),
               BATON_KEY_FILE=str(key_file_for(pg_url)))
    with log.open("wb") as out:  # the child keeps its own handle
        return subprocess.Popen([sys.executable, "-m", "baton.cli", "worker"], env=env, cwd=log.parent,
                                stdout=out, stderr=subprocess.STDOUT)


def _stop(procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
    """SIGTERM every worker, wait a bounded time, SIGKILL what is left; their exit codes (None: killed)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=20))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            codes.append(None)
    return codes


def _progress(engine: Engine) -> tuple[int, int, int]:
    """(switches not yet released, messages queued, messages not yet sent)."""
    with engine.connect() as conn:
        unreleased = conn.execute(select(func.count()).select_from(switches)
                                  .where(switches.c.status != "released")).scalar_one()
        queued, unsent = conn.execute(select(func.count(), func.count().filter(outbox.c.sent_at.is_(None)))
                                      .select_from(outbox)).one()
    return unreleased, queued, unsent


def test_four_worker_processes_fire_each_switch_once_and_send_each_message_once(
        pg_url: str, message_ids: tuple[int, _MessageIds], tmp_path: Path) -> None:
    """600 switches come due together; four workers share them and nothing happens twice."""
    smtp_port, recorder = message_ids
    runtime = build(settings_for(pg_url))  # migrates and makes the deployment key before any worker starts
    engine = runtime.engine
    _seed(engine, SWITCHES, datetime.now(UTC))

    logs = [tmp_path / f"worker{i}.log" for i in range(WORKERS)]
    procs = [_start_worker(pg_url, smtp_port, log) for log in logs]
    try:
        limit = _timeout()
        deadline = time.monotonic() + limit
        while (progress := _progress(engine)) != (0, SWITCHES * MESSAGES_PER_SWITCH, 0):
            exited = [i for i, proc in enumerate(procs) if proc.poll() is not None]
            assert not exited, f"worker(s) {exited} exited early:\n" + logs[exited[0]].read_text()
            if time.monotonic() >= deadline and _timeout() > limit:  # the machine grew busier since the start
                limit, deadline = limit + 60, deadline + 60
            assert time.monotonic() < deadline, (
                f"not done within {limit:.0f} s: (unreleased, queued, unsent) = {progress}")
            time.sleep(0.5)
    finally:
        codes = _stop(procs)
    assert codes == [0] * WORKERS, "\n".join(log.read_text() for log in logs)

    with engine.connect() as conn:
        recorded = conn.execute(select(transitions.c.switch_id, transitions.c.kind)).all()
        rows = conn.execute(select(outbox)).all()
    for kind in ("deadline", "fired", "stage"):
        per_switch = Counter(switch_id for switch_id, k in recorded if k == kind)
        assert len(per_switch) == SWITCHES, f"{SWITCHES - len(per_switch)} switches have no {kind!r} transition"
        assert max(per_switch.values()) == 1, f"{kind!r} recorded twice for {per_switch.most_common(1)}"

    assert len(rows) == SWITCHES * MESSAGES_PER_SWITCH
    assert len({r.dedup_key for r in rows}) == len(rows)
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
    expected = Counter(message_id(Message(r.id, r.owner_id, Channel(r.channel), r.recipient, r.purpose, r.subject,
                                          r.body_text, r.body_html, r.dedup_key, r.attempts)) for r in rows)
    received = recorder.received()
    assert [mid for mid, times in received.items() if times > 1] == []
    assert received == expected

    with engine.connect() as conn:
        sample = conn.execute(select(owners.c.id).order_by(owners.c.id)).scalars().all()[::50]
        for owner_id in sample:
            entries, problem = auditlog.verify(conn, owner_id)
            assert problem is None, f"owner {owner_id}: {problem}"
            assert entries == 2 * MESSAGES_PER_SWITCH  # three transitions and three deliveries
    engine.dispose()
