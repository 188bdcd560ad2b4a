"""What the benchmarks share: a fresh database (SQLite or PostgreSQL), bulk seeding, figures.

Run a benchmark as ``python benchmarks/<name>.py [--db sqlite|postgres]``; this module is
imported from the scripts' own directory and is not a test (pytest collects ``tests/`` only).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from baton.settings import Settings
from baton.store.tables import owners, switches
from switch import arm, next_timer, policy_from_dict, policy_to_dict, state_to_dict

PG_ADMIN = os.environ.get("BATON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CHUNK = 10_000
Request = tuple[str, str, dict[str, str]]  # method, path, headers


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite",
                        help="the database to run on (PostgreSQL at BATON_TEST_PG, default %(default)s)")
    return parser


def settings(url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(database_url=url, base_url="http://baton.bench", smtp_host="127.0.0.1")
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


@contextmanager
def scratch_runtime(kind: str, *, parent: str | Path | None = None, clock: Any = None) -> Iterator[tuple[Any, Path]]:
    """A runtime on a fresh database, with a temporary folder (its data under ``server/``); both removed after."""
    from baton.runtime import build
    folder = Path(tempfile.mkdtemp(prefix="baton-bench-", dir=parent))
    try:
        with fresh_database(kind) as url:
            runtime = build(settings(url, data_dir=folder / "server"), clock=clock)
            try:
                yield runtime, folder
            finally:
                runtime.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """The URL of an empty database, removed afterwards: a SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="baton-bench-")
        try:
            yield f"sqlite:///{folder}/baton.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg

    name = f"baton_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].split("://", 1)[1]
    try:
        yield f"postgresql+psycopg://{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(engine: Engine, policy_data: dict[str, Any], armed_at: Sequence[datetime], *, start: int = 0) -> list[int]:
    """One owner and one armed switch per moment in ``armed_at``; the switch ids, in that order.

    Rows go in directly (no argon2 per owner), in chunks; PostgreSQL uses COPY. Owner
    e-mails are numbered from ``start`` so a second call adds to the first.
    """
    policy = policy_from_dict(policy_data)
    stored_policy = policy_to_dict(policy)
    now = datetime.now(UTC)
    ids: list[int] = []
    for offset in range(0, len(armed_at), CHUNK):
        chunk = armed_at[offset:offset + CHUNK]
        first = start + offset
        emails = [f"owner{first + i}@bench.example" for i in range(len(chunk))]
        rows = []
        for moment in chunk:
            state = arm(policy, moment)
            timer = next_timer(policy, state)
            rows.append((state_to_dict(state), str(state.status), timer.due if timer else None))
        if engine.dialect.name == "postgresql":
            ids.extend(_copy_chunk(engine, emails, stored_policy, rows, now))
        else:
            with engine.begin() as conn:
                owner_ids = conn.execute(insert(owners).returning(owners.c.id, sort_by_parameter_order=True), [
                    dict(email=e, password_hash="-", timezone="UTC", created_at=now) for e in emails]).scalars().all()
                switch_ids = conn.execute(insert(switches).returning(switches.c.id, sort_by_parameter_order=True), [
                    dict(owner_id=o, policy=stored_policy, state=s, status=st, next_due_at=d, version=0,
                         updated_at=now) for o, (s, st, d) in zip(owner_ids, rows, strict=True)]).scalars().all()
            ids.extend(switch_ids)
    return ids


def _copy_chunk(engine: Engine, emails: list[str], policy: dict[str, Any],
                rows: list[tuple[dict[str, Any], str, datetime | None]], now: datetime) -> list[int]:
    import json

    naive = now.astimezone(UTC).replace(tzinfo=None)
    policy_json = json.dumps(policy)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY owners (email, password_hash, timezone, created_at) FROM STDIN") as copy:
            for e in emails:
                copy.write_row((e, "-", "UTC", naive))
        cur.execute("SELECT id FROM owners WHERE email = ANY(%s) ORDER BY id", (emails,))
        owner_ids = [r[0] for r in cur.fetchall()]
        with cur.copy("COPY switches (owner_id, policy, state, status, next_due_at, version, updated_at) "
                      "FROM STDIN") as copy:
            for owner_id, (state, status, due) in zip(owner_ids, rows, strict=True):
                copy.write_row((owner_id, policy_json, json.dumps(state), status,
                                None if due is None else due.astimezone(UTC).replace(tzinfo=None), 0, naive))
        cur.execute("SELECT id FROM switches WHERE owner_id = ANY(%s) ORDER BY owner_id", (owner_ids,))
        switch_ids = [r[0] for r in cur.fetchall()]
        raw.commit()
    finally:
        raw.close()
    return switch_ids


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk load (autovacuum would, a little later)."""
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@contextmanager
def smtp_sink() -> Iterator[int]:
    """An SMTP server on the loopback that accepts and drops every message, in its own process."""

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                             "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def free_port() -> int:
    """A TCP port free on the loopback now."""

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the process listening on port {port} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f} s")


def machine() -> str:
    cores = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.system()} {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
            f"load average {load:.2f} at start")


def database_version(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return "PostgreSQL " + str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
        return "SQLite " + str(conn.execute(text("SELECT sqlite_version()")).scalar_one())


def header(title: str, engine: Engine) -> None:
    print(f"== {title}")
    print(f"   {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}; {database_version(engine)}")


def spread(start: datetime, seconds: float, count: int, rng: Any) -> list[datetime]:
    """``count`` moments drawn uniformly from [start, start + seconds), sorted."""
    return sorted(start + timedelta(seconds=rng.uniform(0, seconds)) for _ in range(count))


def filesystem(path: Path) -> str:
    """The type and mount point of the filesystem holding ``path``, from /proc/mounts."""
    found = ("unknown filesystem", "")
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                _device, point, kind = line.split()[:3]
                point = point.replace("\\040", " ")
                if path.resolve().is_relative_to(point) and len(point) >= len(found[1]):
                    found = (kind, point)
    except OSError:
        pass
    return f"{found[0]} at {found[1]}" if found[1] else found[0]


def hammer(client: Any, pool: ThreadPoolExecutor, requests: list[Request], concurrency: int) -> float:
    """Send ``requests`` with ``concurrency`` in flight; the seconds it took. Any non-200 stops the run."""
    queue = iter(requests)
    lock = threading.Lock()

    def one_client() -> None:
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            method, path, headers = item
            response = client.request(method, path, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}")

    began = time.perf_counter()
    for future in [pool.submit(one_client) for _ in range(concurrency)]:
        future.result()
    return time.perf_counter() - began

