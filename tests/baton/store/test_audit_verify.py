"""``baton audit verify`` finds an altered, a removed and a reordered entry and names it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from baton.cli.app import app
from baton.runtime import build
from baton.settings import get_settings
from baton.testing import FakeClock
from tests_support import settings_for


@pytest.fixture
def chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """An owner with a chain of six entries in a SQLite file the CLI also opens."""
    url = f"sqlite:///{tmp_path}/baton.db"
    monkeypatch.setenv("BATON_DATABASE_URL", url)
    monkeypatch.setenv("BATON_DATA_DIR", str(tmp_path))  # where the runtime below keeps its key file
    get_settings.cache_clear()
    clock = FakeClock()
    runtime = build(settings_for(url), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    for _ in range(5):
        clock.advance(days=1)
        runtime.service.check_in(made.owner.id)
    yield runtime.engine
    get_settings.cache_clear()


def _verify() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", "--email", "owner@example.org"])
    return result.exit_code, result.output


def test_an_intact_chain_verifies(chain: sa.Engine) -> None:
    """Untouched, the chain verifies and exits 0."""
    assert _verify() == (0, "audit chain of owner@example.org: 6 entries, all intact\n")


def _alter(conn: sa.Connection) -> None:
    conn.execute(sa.text("UPDATE audit_entries SET data = '{\"reason\": \"forged\"}' WHERE seq = 3"))


def _remove(conn: sa.Connection) -> None:
    conn.execute(sa.text("DELETE FROM audit_entries WHERE seq = 3"))


def _reorder(conn: sa.Connection) -> None:
    rows = conn.execute(sa.text("SELECT id, seq, at, kind, data, prev_hash, hash, signature FROM audit_entries "
                                "WHERE seq IN (3, 4) ORDER BY seq")).all()
    for row, other in ((rows[0], rows[1]), (rows[1], rows[0])):
        conn.execute(sa.text("UPDATE audit_entries SET seq = -:seq WHERE id = :id"), {"seq": other.seq, "id": row.id})
    for row, other in ((rows[0], rows[1]), (rows[1], rows[0])):
        conn.execute(sa.text("UPDATE audit_entries SET seq = :seq, at = :at, kind = :kind, data = :data, "
                             "prev_hash = :prev, hash = :hash, signature = :sig WHERE id = :id"),
                     {"seq": other.seq, "at": other.at, "kind": other.kind, "data": other.data,
                      "prev": other.prev_hash, "hash": other.hash, "sig": other.signature, "id": row.id})


def _remove_tail(conn: sa.Connection) -> None:
    conn.execute(sa.text("DELETE FROM audit_entries WHERE seq = 6"))


@pytest.mark.parametrize(("tamper", "expected"), [
    (_alter, "entry 3: altered: its content does not match its hash"),
    (_remove, "entry 3: removed: the chain jumps from entry 2 to entry 4"),
    (_reorder, "entry 4: reordered: found where entry 3 belongs"),
    (_remove_tail, "entry 6: removed: the chain ends at entry 5 but the service recorded 6 entries"),
], ids=["altered", "removed", "reordered", "tail-removed"])
def test_tampering_is_found_and_named(chain: sa.Engine, tamper: Callable[[sa.Connection], None],
                                      expected: str) -> None:
    """Each kind of tampering makes verify exit 1 and name the first bad entry."""
    with chain.begin() as conn:
        tamper(conn)
    code, output = _verify()
    assert code == 1
    assert f"error: audit chain of owner@example.org is broken at {expected}" in output
