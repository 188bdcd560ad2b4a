"""Shared fixtures: databases (SQLite always; PostgreSQL when it answers), runtime, clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from baton.runtime import Runtime, build
from baton.testing import FakeClock
from tests_support import settings_for

PG_ADMIN = os.environ.get("BATON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reason() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        return f"no PostgreSQL at {PG_ADMIN} ({type(exc).__name__}); set BATON_TEST_PG to run these tests"
    return None


PG_SKIP_REASON = _pg_reason()
if PG_SKIP_REASON and os.environ.get("BATON_REQUIRE_PG"):
    raise RuntimeError(f"BATON_REQUIRE_PG is set but {PG_SKIP_REASON}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if PG_SKIP_REASON:
        pytest.skip(PG_SKIP_REASON)
    import psycopg
    name = f"baton_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path}/baton.db"  # type: ignore[operator]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each adapter test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/baton.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(db_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """The service on a fresh database (SQLite and PostgreSQL), with the fake clock."""
    rt = build(settings_for(db_url), clock=clock)
    yield rt
    rt.engine.dispose()
