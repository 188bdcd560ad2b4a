"""Shared fixtures: databases (SQLite always; PostgreSQL when it answers), runtime, clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.runtime import Runtime, build
from baton.testing import FakeClock
from tests_support import pg_skip_reason, scratch_database, settings_for

PG_SKIP_REASON = pg_skip_reason()
if PG_SKIP_REASON and os.environ.get("BATON_REQUIRE_PG"):
    raise RuntimeError(f"BATON_REQUIRE_PG is set but {PG_SKIP_REASON}")


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with scratch_database("postgres", tmp_path) as url:
        yield url


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
