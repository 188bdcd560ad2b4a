"""Baton watches itself (issue 15): /healthz is 200 only while the database answers and a worker beat
recently; the owner's dashboard and ``GET /api/status`` (so ``baton status``) say when the worker last ran."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from baton.http.app import create_app
from baton.runtime import Runtime
from baton.services.switch import SwitchService
from baton.store import heartbeats
from baton.store.engine import make_engine
from baton.store.tables import worker_heartbeats
from baton.testing import FakeClock
from tests_support import free_port

PASSWORD = "correct horse battery"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.service), base_url=runtime.settings.base_url) as client:
        yield client


def test_with_no_worker_ever_run_healthz_is_503_saying_so(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unavailable", "database": "reachable",
        "worker": {"last_run": None, "seconds_ago": None, "running": False, "stale_after_seconds": 90.0,
                   "said": "Baton's worker has not run yet: reminders, deadlines and messages wait until it does. "
                           "Tell whoever runs this Baton."},
        "problems": ["no worker has run yet against this database (start `baton worker` or `baton serve`)"]}


def test_a_worker_that_beats_makes_healthz_200_until_its_beat_is_older_than_the_setting(
        runtime: Runtime, client: TestClient, clock: FakeClock) -> None:
    worker = runtime.worker()
    assert worker.heartbeat.beat()
    clock.advance(seconds=12)
    answer = client.get("/healthz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["database"], body["problems"]) == ("ok", "reachable", [])
    assert body["worker"]["seconds_ago"] == 12.0 and body["worker"]["running"] is True
    assert body["worker"]["said"] == "Baton's worker last ran 12 s ago."
    clock.advance(seconds=90 - 12)  # exactly the limit (3 sweeps of 30 s): still running
    assert client.get("/healthz").status_code == 200
    clock.advance(seconds=1)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["problems"] == ["the newest worker heartbeat is 91 s old, more than the 90 s allowed "
                                         "(BATON_HEARTBEAT_STALE_SECONDS)"]
    assert worker.heartbeat.beat()  # the worker comes back
    assert client.get("/healthz").status_code == 200


def test_the_stale_limit_is_a_setting(db_url: str, clock: FakeClock) -> None:
    from baton.runtime import build
    from tests_support import settings_for
    runtime = build(settings_for(db_url, heartbeat_stale_seconds=5), clock=clock)
    try:
        runtime.worker().heartbeat.beat()
        with TestClient(create_app(runtime.service)) as client:
            clock.advance(seconds=5)
            assert client.get("/healthz").status_code == 200
            clock.advance(seconds=1)
            assert client.get("/healthz").status_code == 503
    finally:
        runtime.engine.dispose()


def test_each_beat_keeps_one_row_per_worker_with_what_it_did_since_the_last(runtime: Runtime,
                                                                            clock: FakeClock) -> None:
    worker = runtime.worker()
    runtime.service.create_owner("owner@example.org", PASSWORD, "Europe/Rome")
    worker.heartbeat.beat()
    clock.advance(days=40)  # past the deadline: the worker records it
    events, _sent = worker.run_once()
    assert events >= 1
    worker.heartbeat.tally.add(failures=2)
    worker.heartbeat.beat()
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(worker_heartbeats)).all()
        assert heartbeats.recent(conn)[0].beat_at == clock.now()
    assert len(rows) == 1
    row = rows[0]
    assert (row.worker, row.events, row.failures, row.beat_at) == (worker.name, events, 2, clock.now())
    assert row.started_at == clock.now() - timedelta(days=40)


def test_a_worker_silent_for_a_week_is_forgotten_at_the_next_beat(runtime: Runtime, clock: FakeClock) -> None:
    old, new = runtime.worker(), runtime.worker()
    old.heartbeat.beat()
    clock.advance(days=8)
    new.heartbeat.beat()
    with runtime.engine.connect() as conn:
        assert [r.worker for r in conn.execute(select(worker_heartbeats.c.worker))] == [new.name]


@pytest.mark.parametrize("where", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_database_out_of_reach_makes_healthz_503_saying_so(runtime: Runtime, tmp_path: Path, where: str) -> None:
    url = (f"sqlite:///{tmp_path}/missing/folder/baton.db" if where == "sqlite"
           else f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/baton")
    engine = make_engine(url)
    service = SwitchService(engine, runtime.settings, runtime.service.clock, runtime.service.signer,
                            runtime.service.key)
    runtime.worker().heartbeat.beat()  # a worker runs, but this process cannot reach the database
    with TestClient(create_app(service)) as client:
        answer = client.get("/healthz")
    engine.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "database": "unreachable", "worker": None,
                             "problems": ["the database cannot be reached (OperationalError)"]}


def test_the_status_api_and_the_dashboard_say_when_the_worker_last_ran(runtime: Runtime, clock: FakeClock) -> None:
    made = runtime.service.create_owner("owner@example.org", PASSWORD, "Europe/Rome")
    runtime.worker().heartbeat.beat()
    clock.advance(seconds=12)
    with TestClient(create_app(runtime.service), base_url=runtime.settings.base_url) as client:
        status = client.get("/api/status", headers={"Authorization": f"Bearer {made.api_token}"}).json()
        assert status["worker"]["said"] == "Baton's worker last ran 12 s ago." and status["worker"]["running"]
        page = client.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        signed = client.post("/signin", data={"email": "owner@example.org", "password": PASSWORD,
                                              "csrf": csrf.group(1)}, follow_redirects=False)
        assert signed.status_code == 303
        assert '<p class="muted" id="worker">Baton&#39;s worker last ran 12 s ago.</p>' in client.get("/").text
        clock.advance(hours=1)  # within the session's idle limit
        stale = ("Baton&#39;s worker last ran 60 min ago: reminders, deadlines and messages wait until it runs again. "
                 "Tell whoever runs this Baton.")
        assert f'<p class="alert" role="alert" id="worker">{stale}</p>' in client.get("/").text
        status = client.get("/api/status", headers={"Authorization": f"Bearer {made.api_token}"}).json()
        assert status["worker"]["running"] is False


def test_baton_status_prints_the_worker_line_and_a_warning_when_it_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    from baton.cli.common import show_status
    view = {"status": "armed", "deadline_local": "2026-03-01 12:00 CET", "next_reminder_local": None,
            "fires_at_local": None, "last_checkin_local": "2026-02-01 12:00 CET", "timezone": "Europe/Rome",
            "worker": {"running": True, "said": "Baton's worker last ran 12 s ago."}}
    show_status(view, as_json=False)
    assert "worker:         Baton's worker last ran 12 s ago.\n" in capsys.readouterr().out
    show_status({**view, "worker": {"running": False, "said": "Baton's worker last ran 3 h ago: …"}}, as_json=False)
    assert "warning: Baton's worker last ran 3 h ago: …\n" in capsys.readouterr().out
