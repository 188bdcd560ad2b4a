"""Processes (issue 15): ``baton serve --workers 2`` keeps taking check-ins while one API process is
killed (and uvicorn replaces it); ``baton api`` serves without a worker; proxy headers are believed only
from BATON_TRUSTED_PROXIES. Real child processes on the loopback, each test bounded well under 60 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from baton.runtime import build
from tests_support import data_dir_for, free_port, settings_for, stop_process

pytestmark = pytest.mark.slow


def owner_token(db_url: str) -> str:
    runtime = build(settings_for(db_url))
    try:
        return runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome").api_token
    finally:
        runtime.engine.dispose()


@contextmanager
def baton(folder: Path, db_url: str, *args: str, ready: int = 200, **env: str) -> Iterator[tuple[str, int]]:
    """``baton <args>`` in a child process on a free loopback port; yields its URL and pid once /healthz
    answers ``ready``."""
    port = free_port()
    environment = {**os.environ, "BATON_HOST": "127.0.0.1", "BATON_PORT": str(port), "BATON_DATABASE_URL": db_url,
                   "BATON_DATA_DIR": str(data_dir_for(db_url)), "BATON_BASE_URL": "http://baton.test",
                   "BATON_SMTP_PORT": "1", **env}
    log = folder / f"{args[0]}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "baton.cli", *args], env=environment, cwd=folder,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"baton {args[0]} exited ({proc.returncode}): {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == ready:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"baton {args[0]} did not answer in 30 s: {log.read_text()[-2000:]}"
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        stop_process(proc)


def api_processes(parent: int) -> set[int]:
    """The children uvicorn spawned to serve (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"multiprocessing" in command and b"resource_tracker" not in command:
            found.add(int(entry.name))
    return found


def check_in(url: str, token: str) -> int:
    with httpx.Client(timeout=10) as client:  # a new connection each time: either process may take it
        return client.post(f"{url}/api/checkin", headers={"Authorization": f"Bearer {token}"}).status_code


def test_serve_with_two_api_processes_keeps_taking_check_ins_while_one_is_killed(db_url: str, tmp_path: Path) -> None:
    token = owner_token(db_url)
    with baton(tmp_path, db_url, "serve", "--workers", "2") as (url, pid):
        deadline = time.monotonic() + 20
        while len(children := api_processes(pid)) < 2:
            assert time.monotonic() < deadline, "uvicorn did not start two API processes in 20 s"
            time.sleep(0.1)
        assert [check_in(url, token) for _ in range(10)] == [200] * 10
        victim = min(children)
        os.kill(victim, signal.SIGKILL)
        answers = [check_in(url, token) for _ in range(30)]
        assert answers == [200] * 30
        deadline = time.monotonic() + 20
        while len(replaced := api_processes(pid)) < 2 or victim in replaced:
            assert time.monotonic() < deadline, "the killed API process was not replaced in 20 s"
            time.sleep(0.2)
        assert check_in(url, token) == 200
        health = httpx.get(f"{url}/healthz", timeout=5).json()
        assert health["status"] == "ok" and health["worker"]["running"] is True
        status = httpx.get(f"{url}/api/status", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        assert status["status"] == "armed" and status["worker"]["said"].startswith("Baton's worker last ran ")
    runtime = build(settings_for(db_url))
    try:
        checkins = [e for e in runtime.service.timeline(1, 1000) if e["event"] == "checkin"]
    finally:
        runtime.engine.dispose()
    assert len(checkins) == 41  # every acknowledged check-in was recorded, none twice


def test_baton_api_serves_without_a_worker_so_healthz_says_none_has_run(db_url: str, tmp_path: Path) -> None:
    token = owner_token(db_url)
    with baton(tmp_path, db_url, "api", ready=503) as (url, _pid):
        health = httpx.get(f"{url}/healthz", timeout=5).json()
        assert health["problems"] == ["no worker has run yet against this database "
                                      "(start `baton worker` or `baton serve`)"]
        assert check_in(url, token) == 200  # the API itself works; the worker is another process's job
        answer = httpx.get(f"{url}/metrics", timeout=5)  # from the loopback: readable
        assert answer.status_code == 200 and "baton_workers_running 0.0" in answer.text


def failures_until_blocked(url: str, forwarded_for: str) -> list[int]:
    """Eleven wrong tokens claiming to come from ``forwarded_for`` (the limit is ten a minute)."""
    headers = {"Authorization": "Bearer wrong-token-0123456789", "X-Forwarded-For": forwarded_for}
    with httpx.Client(timeout=5) as client:
        return [client.get(f"{url}/api/status", headers=headers).status_code for _ in range(11)]


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-proxy", "no-trusted-proxy"])
def test_forwarded_addresses_count_only_from_a_trusted_proxy(sqlite_url: str, tmp_path: Path, trusted: bool) -> None:
    env = {"BATON_TRUSTED_PROXIES": "127.0.0.1/32"} if trusted else {}
    owner_token(sqlite_url)  # the schema, made by an earlier `baton serve` or `baton db upgrade`
    with baton(tmp_path, sqlite_url, "api", ready=503, **env) as (url, _pid):
        assert failures_until_blocked(url, "203.0.113.7") == [401] * 10 + [429]
        # Another client behind the proxy has its own limit; without a trusted proxy the header is the
        # caller's say-so, and every caller on this address shares one limit.
        assert failures_until_blocked(url, "198.51.100.9")[0] == (401 if trusted else 429)
        # A request that came through the proxy is not a loopback client for /metrics.
        metrics = httpx.get(f"{url}/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5)
        assert metrics.status_code == 404
