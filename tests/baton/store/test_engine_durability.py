"""SQLite's durability settings, read back from real connections of the service's own engine.

``synchronous=NORMAL`` in WAL mode acknowledges a commit before it is on disk: a power loss
right after a check-in's 200 could lose it. The engine must run ``synchronous=FULL`` on every
connection it opens, the writers' and the readers' alike.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from baton.runtime import build
from baton.store.engine import make_engine, reading
from baton.testing import FakeClock
from tests_support import settings_for

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_every_sqlite_connection_syncs_each_commit_to_disk(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/baton.db", pool_size=3)
    try:
        with engine.begin() as writer, reading(engine) as reader, reading(engine) as another:
            for conn in (writer, reader, another):  # three connections of the pool, each set up on connect
                assert conn.execute(text("PRAGMA synchronous")).scalar_one() == FULL
                assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        engine.dispose()


def test_the_service_runtime_checks_in_on_a_fully_synced_database(tmp_path: Path) -> None:
    runtime = build(settings_for(f"sqlite:///{tmp_path}/baton.db"), clock=FakeClock())
    try:
        made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
        runtime.service.check_in(made.owner.id)
        with runtime.engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == FULL
    finally:
        runtime.engine.dispose()
