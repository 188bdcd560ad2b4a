"""The engine: SQLite with WAL, ``synchronous=FULL``, a busy timeout and immediate transactions
(writers of one process queue on a lock); PostgreSQL through psycopg 3, relying on conditional
updates and ``FOR UPDATE SKIP LOCKED`` claims. Reading connections, and the id of an inserted row.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full syncs, a busy timeout and immediate transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # hide_parameters: SQL logging (echo, or the sqlalchemy logger at INFO) must never show
        # a bound secret (the signing key, a TOTP secret, a sealed share).
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before it is acknowledged. NORMAL in WAL mode may lose the
            # last commits on power loss, and an acknowledged check-in must never be lost.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            _private(parsed.database)

        # SQLite has one writer at a time. Writers of this process queue on a lock instead of
        # in SQLite's busy handler, which sleeps in steps of milliseconds; other processes
        # still meet the busy timeout.
        writer = threading.Lock()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock up front, so two of them never both read and then
            # fail to upgrade; readers (``reading``) stay deferred and never wait for writers.
            if conn.get_execution_options().get(READ_ONLY, False):
                conn.exec_driver_sql("BEGIN")
                return
            if not writer.acquire(timeout=WRITER_WAIT):
                raise TimeoutError(f"no SQLite write slot within {WRITER_WAIT:.0f} s")
            conn.info[_WRITING] = True
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                _release(conn)
                raise

        def _release(conn: Any) -> None:
            if conn.info.pop(_WRITING, False):
                writer.release()

        event.listen(engine, "commit", _release)
        event.listen(engine, "rollback", _release)

        # A connection invalidated or returned mid-transaction must not keep the slot.
        def _release_record(_dbapi: Any, record: Any, *_args: Any) -> None:
            if record is not None and record.info.pop(_WRITING, False):
                writer.release()

        event.listen(engine.pool, "checkin", _release_record)
        event.listen(engine.pool, "invalidate", _release_record)

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    # No pre-ping: it costs a round trip on every checkout (a tenth of a check-in). A
    # connection lost to a server restart fails its one operation and is then replaced;
    # the worker retries, and the CLI reports the error.
    return create_engine(url, pool_recycle=1800, hide_parameters=True, **kwargs)


def _private(database: str | None) -> None:
    """The database file only the service's user may read (SQLite gives its WAL and shm the same mode)."""
    if not database or database == ":memory:":
        return
    path = Path(database)
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            os.chmod(path, 0o600)


READ_ONLY = "baton_read_only"
_WRITING = "baton_writing"
WRITER_WAIT = 60.0  # seconds a writer of this process waits for SQLite's single write slot


def reading(engine: Engine) -> Connection:
    """A connection for reads only (on SQLite, a deferred transaction that never blocks on writers)."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def insert_id(conn: Connection, statement: Any) -> int:
    """Run an INSERT and return the new row's id."""
    key = conn.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])
