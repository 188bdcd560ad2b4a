"""The worker's ping (issue 15): on every sweep the worker records its heartbeat and GETs BATON_PING_URL,
through the outbound guard (a private or loopback address only in BATON_OUTBOUND_ALLOW's ranges), with a
bounded wait; a failure is logged without the URL (it may carry the check's secret) and never raised."""

from __future__ import annotations

import http.server
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from baton.runtime import Runtime, build
from baton.settings import Settings
from baton.store.tables import worker_heartbeats
from baton.testing import FakeClock
from tests_support import settings_for

SECRET = "5f1c2a7e-check-secret"


@dataclass
class PingServer:
    url: str
    paths: list[str] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


@pytest.fixture
def ping_server() -> Iterator[PingServer]:
    found = PingServer("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            found.paths.append(self.path)
            time.sleep(found.delay)
            self.send_response(found.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}/ping/{SECRET}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def runtime_with(sqlite_url: str, clock: FakeClock, **overrides: object) -> Runtime:
    return build(settings_for(sqlite_url, **overrides), clock=clock)


def test_every_sweep_records_the_beat_and_pings_a_url_in_an_allowed_range(
        sqlite_url: str, clock: FakeClock, ping_server: PingServer) -> None:
    runtime = runtime_with(sqlite_url, clock, ping_url=ping_server.url, outbound_allow=("127.0.0.0/8",))
    worker = runtime.worker()
    worker._sweep()
    clock.advance(seconds=30)
    worker._sweep()
    with runtime.engine.connect() as conn:
        beat_at = conn.execute(select(func.max(worker_heartbeats.c.beat_at))).scalar_one()
    runtime.engine.dispose()
    assert beat_at == clock.now()
    assert ping_server.paths == [f"/ping/{SECRET}"] * 2


def test_a_loopback_ping_url_outside_the_allowed_ranges_is_refused_and_logged_without_the_url(
        sqlite_url: str, clock: FakeClock, ping_server: PingServer, caplog: pytest.LogCaptureFixture) -> None:
    runtime = runtime_with(sqlite_url, clock, ping_url=ping_server.url)
    with caplog.at_level(logging.WARNING, logger="baton.worker"):
        assert runtime.worker().heartbeat.beat() is True  # the beat is recorded all the same
    runtime.engine.dispose()
    assert ping_server.paths == []
    assert [r.getMessage() for r in caplog.records] == [
        "the ping to BATON_PING_URL failed: 127.0.0.1 is loopback (outbound connections reach public addresses only)"]
    assert SECRET not in caplog.text


def test_a_ping_answered_with_an_error_or_too_slowly_is_logged_and_the_worker_goes_on(
        sqlite_url: str, clock: FakeClock, ping_server: PingServer, caplog: pytest.LogCaptureFixture) -> None:
    runtime = runtime_with(sqlite_url, clock, ping_url=ping_server.url, outbound_allow=("127.0.0.1/32",),
                           ping_timeout=0.5)
    heartbeat = runtime.worker().heartbeat
    ping_server.status = 500
    with caplog.at_level(logging.WARNING, logger="baton.worker"):
        assert heartbeat.ping() is False
        ping_server.status, ping_server.delay = 200, 2.0
        started = time.monotonic()
        assert heartbeat.ping() is False
        waited = time.monotonic() - started
    runtime.engine.dispose()
    assert waited < 1.5  # the read timeout, not the server's delay
    assert [r.getMessage() for r in caplog.records] == ["the ping to BATON_PING_URL answered HTTP 500",
                                                        "the ping to BATON_PING_URL failed: ReadTimeout"]
    assert SECRET not in caplog.text


def test_a_beat_the_database_refuses_is_logged_counted_later_and_sends_no_ping(
        sqlite_url: str, clock: FakeClock, ping_server: PingServer, caplog: pytest.LogCaptureFixture) -> None:
    runtime = runtime_with(sqlite_url, clock, ping_url=ping_server.url, outbound_allow=("127.0.0.0/8",))
    worker = runtime.worker()
    with runtime.engine.begin() as conn:
        conn.execute(worker_heartbeats.delete())
        conn.exec_driver_sql("DROP TABLE worker_heartbeats")
    worker.heartbeat.tally.add(events=3)
    with caplog.at_level(logging.WARNING, logger="baton.worker"):
        assert worker.heartbeat.beat() is False
    runtime.engine.dispose()
    assert ping_server.paths == []  # someone outside learns that this worker cannot work
    assert worker.heartbeat.tally.take() == (3, 0)  # kept for the next beat
    assert [r.getMessage() for r in caplog.records] == [
        "recording the worker's heartbeat failed (OperationalError); /healthz will show it late"]


@pytest.mark.parametrize(("value", "said"), [
    ("ftp://example.org/ping", "expected an http:// or https:// URL, got ftp://…"),
    ("hc-ping.example/abc", "expected an http:// or https:// URL, got a value without a scheme"),
    ("https:///nohost", "expected an http:// or https:// URL, got https://…"),
])
def test_a_ping_url_that_is_not_http_is_refused_at_start_without_echoing_it(value: str, said: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, ping_url=value)  # type: ignore[call-arg]
    assert said in str(raised.value)
    assert value not in str(raised.value).replace(said, "")
