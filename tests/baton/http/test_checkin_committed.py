"""A check-in acknowledged over HTTP is committed: a connection of its own, opened right after the answer,
sees the switch re-armed, the transition and the signed audit entry (SQLite and PostgreSQL, uvicorn on the
loopback). The answer is the switch's status as the owner's API shows it, and the check-in link's POST is
committed the same way."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, select

from baton.http.app import create_app
from baton.runtime import Runtime
from baton.store import auditlog, links
from baton.store.engine import make_engine, reading
from baton.store.links import Purpose
from baton.store.tables import switches, transitions
from baton.testing import FakeClock
from tests_support import live_server


@pytest.fixture
def observer(db_url: str) -> Iterator[Engine]:
    """An engine of its own: none of the server's pooled connections."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _seen(engine: Engine, owner_id: int) -> tuple[int, list[str], int, str | None]:
    """Switch version, transitions' vias, audit entries, and the chain's problem, read afresh."""
    with reading(engine) as conn:
        version = conn.execute(select(switches.c.version).where(switches.c.owner_id == owner_id)).scalar_one()
        vias = [r.data.get("via", "") for r in conn.execute(select(transitions).where(
            transitions.c.owner_id == owner_id, transitions.c.kind == "checkin").order_by(transitions.c.id))]
        count, problem = auditlog.verify(conn, owner_id)
    return version, vias, count, None if problem is None else str(problem)


def test_each_acknowledged_check_in_is_seen_by_a_fresh_connection_at_once(
        runtime: Runtime, clock: FakeClock, observer: Engine) -> None:
    service = runtime.service
    made = service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    owner_id = made.owner.id
    with live_server(create_app(service)) as url, httpx.Client(base_url=url, timeout=30) as client:
        for n in range(1, 6):
            clock.advance(hours=5)
            answer = client.post("/api/checkin", headers={"Authorization": f"Bearer {made.api_token}"})
            assert answer.status_code == 200
            assert _seen(observer, owner_id) == (n, ["api"] * n, 1 + n, None)
            assert answer.json() == service.status(owner_id).to_dict()
            assert answer.json()["last_checkin"] == clock.now().isoformat().replace("+00:00", "Z")
        with runtime.engine.begin() as conn:
            token = links.token(service.key, links.create(conn, owner_id, Purpose.CHECKIN, clock.now(),
                                                          expires_at=None))
        clock.advance(hours=1)
        page = client.post(f"/l/{token}")
        assert page.status_code == 200
        assert _seen(observer, owner_id) == (6, ["api"] * 5 + ["link"], 7, None)
