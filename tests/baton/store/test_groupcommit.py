"""Shared commits on SQLite (``baton.store.groupcommit``): writes arriving together share a transaction, each
returns only once committed, and one that fails is rolled back alone, its error going to its own caller."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, Engine, text

from baton.store.engine import make_engine, reading
from baton.store.groupcommit import GroupCommit


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    yield engine
    engine.dispose()


def _rows(engine: Engine) -> list[int]:
    with reading(engine) as conn:
        return [r.x for r in conn.execute(text("SELECT x FROM t ORDER BY x"))]


def test_writes_arriving_together_share_commits_and_each_returns_committed(engine: Engine) -> None:
    group = GroupCommit(engine)
    commits = 0
    counted = threading.Lock()

    def on_commit(_conn: Connection) -> None:
        nonlocal commits
        with counted:
            commits += 1

    from sqlalchemy import event
    event.listen(engine, "commit", on_commit)
    fresh = make_engine(str(engine.url))  # another pool: sees only what is committed

    def write(x: int) -> int:
        def work(conn: Connection) -> int:
            conn.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": x})
            return x * 10
        result = group.run(work)
        with reading(fresh) as conn:
            assert conn.execute(text("SELECT count(*) FROM t WHERE x = :x"), {"x": x}).scalar_one() == 1
        return int(result)

    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(write, range(200)))
    finally:
        fresh.dispose()
    assert results == [x * 10 for x in range(200)]
    assert _rows(engine) == list(range(200))
    assert 1 <= commits <= 200


def test_a_failing_write_is_rolled_back_alone_and_its_caller_gets_the_error(engine: Engine) -> None:
    group = GroupCommit(engine)
    gate = threading.Event()

    def slow_first(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t (x) VALUES (1)"))
        gate.wait(5)  # the others queue meanwhile, for the next batch together

    def duplicate(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t (x) VALUES (2)"))
        conn.execute(text("INSERT INTO t (x) VALUES (1)"))  # already there: IntegrityError

    def fine(x: int) -> Callable[[Connection], object]:
        return lambda conn: conn.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": x})

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(group.run, slow_first)
        others = [pool.submit(group.run, fine(3)), pool.submit(group.run, duplicate), pool.submit(group.run, fine(4))]
        gate.set()
        first.result(timeout=30)
        errors = [f.exception(timeout=30) for f in others]
    assert errors[0] is None and errors[2] is None
    assert errors[1] is not None and "UNIQUE" in str(errors[1])
    assert _rows(engine) == [1, 3, 4]  # the failing write's own first insert (2) was rolled back with it
