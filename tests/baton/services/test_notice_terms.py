"""The terms a notice promises, through the service on SQLite and PostgreSQL: its dates are the owner's
(a fire at 00:37 in Makassar is dated that day, not UTC's day before), a profile below the minimum
transition is refused (and one stored earlier is raised to it), and the refund's first day is a setting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import build
from baton.store.register import import_register
from baton.store.tables import handover_profiles
from baton.store.tables import notices as notices_table
from baton.testing import FakeClock, RecordingSender
from handover.importing import sources
from tests_support import settings_for

POLICY: dict[str, Any] = {"interval": "10d", "grace": "0s",
                          "stages": [{"name": "customers", "after": "0d", "action": "notify_customers"}]}
PROFILE: dict[str, Any] = {"business": "Hosting Bali", "owner_name": "Wayan Sudirta",
                           "successor": {"name": "Made", "email": "made@example.org", "role": "executor"},
                           "act_within_days": 30, "grace_days": 30, "backup_days": 30}
# Ten days after this the deadline passes at 16:37 UTC on 1 March: 00:37 on 2 March in Makassar (UTC+8).
START = datetime(2026, 2, 19, 16, 37, tzinfo=UTC)
REGISTER = {
    "registrars": "id,name\nrw,Rumahweb\n",
    "customers": "id,name,email,language\nana,Ana Souza,ana@example.org,pt\n",
    "domains": "domain,customer,registrar,expires\nana.com.br,ana,rw,2027-03-01\n",
    "hosting": "id,customer,provider,paid_until,price,currency,cycle,packaging\n"
               "h1,ana,upcloud,2026-12-31,365,BRL,annual,pooled\n",
}


@dataclass
class World:
    runtime: Any
    clock: FakeClock
    client: TestClient
    owner: int


@pytest.fixture
def service(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    overrides = getattr(request, "param", {})
    clock = FakeClock(START)
    runtime = build(settings_for(db_url, data_dir=tmp_path / "server", **overrides), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Asia/Makassar",
                                        policy=POLICY)
    folder = tmp_path / "register"
    folder.mkdir()
    for kind, text in REGISTER.items():
        (folder / f"{kind}.csv").write_text(text, encoding="utf-8")
    import_register(runtime.engine, made.owner.id, sources(sorted(folder.iterdir())), START)
    client = TestClient(create_app(runtime.service), base_url=runtime.settings.base_url)
    client.headers["Authorization"] = f"Bearer {made.api_token}"
    assert client.put("/api/handover/profile", json=PROFILE).status_code == 200
    try:
        yield World(runtime, clock, client, made.owner.id)
    finally:
        client.close()
        runtime.engine.dispose()


def _fire(world: World) -> dict[str, Any]:
    """Let the deadline pass; the stored notice's context."""
    runtime, sender = world.runtime, RecordingSender()
    world.clock.advance(days=10)
    runtime.worker({Channel.EMAIL: sender, Channel.APPRISE: sender}).run_once()
    with runtime.engine.connect() as conn:
        (row,) = conn.execute(select(notices_table)).all()
    return dict(row.context)


def test_a_notice_is_dated_in_the_owners_zone(service: World) -> None:
    context = _fire(service)
    assert service.clock.now() == datetime(2026, 3, 1, 16, 37, tzinfo=UTC)  # UTC's 1 March
    assert (context["notice_date"], context["act_by"]) == ("2026-03-02", "2026-04-01")
    (service_,) = context["services"]
    assert service_["suspend_on"] == "2026-05-01"
    assert service_["refund"] == {"amount": "244.00", "currency": "BRL", "unused_days": 244, "period_days": 365,
                                  "from": "2026-05-01"}


@pytest.mark.parametrize("service", [{"refund_from": "notice"}], indirect=True)
def test_the_refund_can_count_from_the_notice(service: World) -> None:
    (service_,) = _fire(service)["services"]
    assert service_["refund"]["from"] == "2026-03-02" and service_["refund"]["unused_days"] == 304


def test_a_profile_below_the_minimum_is_refused_and_one_stored_earlier_is_raised(
        service: World) -> None:
    runtime, client, owner = service.runtime, service.client, service.owner
    refused = client.put("/api/handover/profile", json={**PROFILE, "grace_days": 2})
    assert refused.status_code == 422
    assert refused.json()["detail"] == ("grace_days: expected at least 14 days (a suspended service must stay "
                                        "restorable until its customer can fetch their data), got 2")
    with runtime.engine.begin() as conn:  # as if stored before the minimum existed
        conn.execute(update(handover_profiles).where(handover_profiles.c.owner_id == owner)
                     .values(data={**PROFILE, "act_within_days": 0, "grace_days": 0}))
    found = [f["what"] for f in client.get("/api/readiness").json()["findings"] if f["kind"] == "profile-too-short"]
    assert [what.split(":")[1].strip() for what in found] == ["act_within_days", "grace_days"]
    assert found[0].startswith("the handover profile promises less than the minimum: act_within_days: expected at "
                               "least 14 days") and found[0].endswith("got 0; notices use the minimum instead")
    context = _fire(service)
    assert (context["act_by"], context["services"][0]["suspend_on"]) == ("2026-03-16", "2026-03-30")
