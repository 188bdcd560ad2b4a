"""The switch service on a real database (SQLite and PostgreSQL), driven by a fake clock."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from baton.errors import Conflict
from baton.jobs.outbox import Channel
from baton.jobs.worker import Worker
from baton.runtime import Runtime
from baton.services import actions
from baton.services.access import OwnerAccess
from baton.store import auditlog
from baton.store.tables import audit_entries, outbox, switches, transitions
from baton.testing import FakeClock, RecordingSender

POLICY: dict[str, Any] = {
    "interval": "30d", "reminders": ["7d", "1d"], "grace": "2d", "grace_reminder_every": "1d",
    "confirm": {"window": "3d", "quorum": 2, "verifiers": [
        {"name": "ana", "email": "ana@example.org"}, {"name": "budi", "email": "budi@example.org"},
        {"name": "carla", "email": "carla@example.org"}]},
    "stages": [{"name": "staff", "after": "0d", "audience": ["owner", "ana"]},
               {"name": "family", "after": "14d", "audience": ["family@example.org"]}],
}


def _owner(runtime: Runtime, email: str = "owner@example.org", policy: dict[str, Any] | None = None) -> int:
    made = runtime.service.create_owner(email, "correct horse battery", "Europe/Rome", policy=policy or POLICY)
    return made.owner.id


def _worker(runtime: Runtime) -> tuple[Worker, RecordingSender]:
    sender = RecordingSender()
    return runtime.worker({Channel.EMAIL: sender, Channel.APPRISE: sender}), sender


def _kinds(runtime: Runtime, owner_id: int) -> list[str]:
    return [e["event"] for e in runtime.service.timeline(owner_id, 1000)]


def test_reminders_are_recorded_and_sent_at_their_moments(runtime: Runtime, clock: FakeClock) -> None:
    """Reminders go out 7 days and 1 day before the deadline, each with a one-time check-in link."""
    owner = _owner(runtime)
    worker, sender = _worker(runtime)
    clock.advance(days=22, hours=23)
    assert worker.run_once() == (0, 0)
    clock.advance(hours=1)
    assert worker.run_once() == (1, 1)
    clock.advance(days=6)
    worker.run_once()
    assert [m.purpose for m in sender.sent] == ["reminder", "reminder"]
    assert all("http://baton.test/l/" in m.body_text for m in sender.sent)
    assert _kinds(runtime, owner) == ["reminder", "reminder"]
    view = runtime.service.status(owner)
    assert view.status == "armed" and view.next_reminder == view.deadline  # the deadline alert comes next


def test_a_missed_deadline_leads_through_grace_and_confirmation_to_stages(runtime: Runtime,
                                                                          clock: FakeClock) -> None:
    """Without check-ins the switch goes through grace, asks the verifiers, fires and runs its stages."""
    owner = _owner(runtime)
    worker, sender = _worker(runtime)
    for _ in range(60):
        clock.advance(days=1)
        worker.run_once()
    assert _kinds(runtime, owner) == [
        "reminder", "reminder", "deadline", "grace_reminder", "confirm_requested", "confirm_requested",
        "confirm_requested", "fired", "stage", "stage"]
    assert runtime.service.status(owner).status == "released"
    recipients = sorted({m.recipient for m in sender.sent})
    assert recipients == ["ana@example.org", "budi@example.org", "carla@example.org", "family@example.org",
                          "owner@example.org"]
    stage_mail = [m for m in sender.sent if m.purpose == "stage"]
    assert sorted(m.recipient for m in stage_mail) == ["ana@example.org", "family@example.org",
                                                      "owner@example.org"]
    assert all("confirmation window ended without a check-in" in m.body_text for m in stage_mail)


def test_transitions_record_the_due_moment_and_the_true_moment(runtime: Runtime, clock: FakeClock) -> None:
    """A transition recorded late keeps the moment it was due and the moment it was recorded."""
    owner = _owner(runtime)
    worker, _ = _worker(runtime)
    start = clock.now()
    clock.advance(days=23, hours=5)
    worker.run_once()
    with runtime.engine.connect() as conn:
        row = conn.execute(select(transitions)).one()
    assert row.due_at == start + timedelta(days=23)
    assert row.recorded_at == start + timedelta(days=23, hours=5)
    assert row.kind == "reminder" and row.owner_id == owner


def test_a_check_in_cancels_the_stages_not_yet_run(runtime: Runtime, clock: FakeClock) -> None:
    """After firing, a check-in cancels the family stage and re-arms."""
    owner = _owner(runtime)
    worker, sender = _worker(runtime)
    clock.advance(days=36)  # deadline day 30, grace 2d, window 3d: fired at day 35
    worker.run_once()
    assert runtime.service.status(owner).pending_stages == ["family"]
    view = runtime.service.check_in(owner)
    assert view.status == "armed" and view.deadline == clock.now() + timedelta(days=30)
    clock.advance(days=20)
    worker.run_once()
    kinds = _kinds(runtime, owner)
    assert kinds[-3:] == ["stage", "cancelled", "checkin"]
    assert "family" not in [e.get("stage") for e in runtime.service.timeline(owner)]
    assert [m.purpose for m in sender.sent if m.recipient == "family@example.org"] == []


def test_a_quorum_of_unreachable_answers_fires_early(runtime: Runtime, clock: FakeClock) -> None:
    """Two verifiers answering unreachable through their links fire the switch before the window ends."""
    from fastapi.testclient import TestClient

    from baton.http.app import create_app

    owner = _owner(runtime)
    worker, sender = _worker(runtime)
    clock.advance(days=32)
    worker.run_once()
    links = {m.recipient: m.body_text.split("http://baton.test")[1].split()[0]
             for m in sender.sent if m.purpose == "verify"}
    client = TestClient(create_app(runtime.service))
    assert "reachable" in client.get(links["ana@example.org"]).text
    assert runtime.service.status(owner).status == "confirming"  # a GET changes nothing
    assert client.post(links["ana@example.org"], data={"answer": "unreachable"}).status_code == 200
    assert runtime.service.status(owner).status == "confirming"
    assert client.post(links["budi@example.org"], data={"answer": "unreachable"}).status_code == 200
    assert runtime.service.status(owner).status == "fired"
    again = client.post(links["budi@example.org"], data={"answer": "unreachable"})
    assert again.status_code == 410 and "already used" in again.text
    closed = client.get(links["carla@example.org"])
    assert closed.status_code == 410 and "This question is closed" in closed.text
    fired = [e for e in runtime.service.timeline(owner) if e["event"] == "fired"]
    assert fired[0]["reason"] == "2 of 3 verifiers answered unreachable (quorum 2)"


def test_a_release_request_completes_after_its_wait_unless_refused(runtime: Runtime, clock: FakeClock) -> None:
    """A holder's request fires after the waiting period; a second one is refused by a check-in."""
    from fastapi.testclient import TestClient

    from baton.http.app import create_app

    owner = _owner(runtime)
    worker, sender = _worker(runtime)
    url = OwnerAccess(runtime.service).add_requester(owner, "Dewi", "dewi@example.org")["url"]
    path = url.removeprefix("http://baton.test")
    client = TestClient(create_app(runtime.service))
    assert "Ask for the release" in client.get(path).text
    assert client.post(path).status_code == 200
    worker.run_once()
    assert {m.purpose for m in sender.sent} == {"release_requested", "request_update"}
    clock.advance(days=6)
    runtime.service.check_in(owner)
    worker.run_once()
    assert [e["event"] for e in runtime.service.timeline(owner)][-2:] == ["refused", "checkin"]
    assert any("refuses your release request" in m.body_text for m in sender.sent)
    client.post(path)
    clock.advance(days=7)
    worker.run_once()
    view = runtime.service.status(owner)
    assert view.status == "fired"


def test_two_workers_never_fire_the_same_switch_twice(runtime: Runtime, clock: FakeClock) -> None:
    """Two workers advancing the same due switch record its transitions once."""
    owner = _owner(runtime)
    first, sender_a = _worker(runtime)
    second, sender_b = _worker(runtime)
    clock.advance(days=40)
    (switch_id,) = runtime.service.due_switches(clock.now(), 10)
    assert runtime.service.advance(switch_id) > 0
    assert runtime.service.advance(switch_id) == 0
    first.run_once()
    second.run_once()
    assert len(sender_a.sent) + len(sender_b.sent) == len({m.dedup_key for m in sender_a.sent + sender_b.sent})
    with runtime.engine.connect() as conn:
        fired = conn.execute(select(func.count()).select_from(transitions)
                             .where(transitions.c.kind == "fired")).scalar()
        unsent = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar()
    assert fired == 1 and unsent == 0
    assert runtime.service.status(owner).status == "fired"


def test_a_stale_version_changes_nothing(runtime: Runtime, clock: FakeClock) -> None:
    """A check-in whose switch version moved under it is refused whole: no state, no audit, no mail."""
    from baton.services.switch import SwitchService

    owner = _owner(runtime)
    with runtime.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_entries)).scalar()

    original = SwitchService.load

    def stale(self: SwitchService, conn: Any, owner_id: int, lock: bool = False) -> Any:
        loaded = original(self, conn, owner_id, lock)
        return dataclasses.replace(loaded, version=loaded.version - 1)

    pytest.MonkeyPatch().setattr(SwitchService, "load", stale)
    try:
        with pytest.raises(Conflict, match="the switch changed at the same moment; try again"):
            runtime.service.check_in(owner)
    finally:
        pytest.MonkeyPatch().setattr(SwitchService, "load", original)
    with runtime.engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(audit_entries)).scalar()
        version = conn.execute(select(switches.c.version)).scalar()
    assert after == before and version == 0


def test_owners_never_see_each_others_switch(runtime: Runtime, clock: FakeClock) -> None:
    """Owner A's token reads and changes only owner A's switch."""
    from fastapi.testclient import TestClient

    from baton.http.app import create_app

    a = runtime.service.create_owner("a@example.org", "correct horse battery", "Europe/Rome")
    b = runtime.service.create_owner("b@example.org", "correct horse battery", "Asia/Jakarta")
    client = TestClient(create_app(runtime.service))
    headers = {"Authorization": f"Bearer {a.api_token}"}
    clock.advance(days=3)
    assert client.post("/api/checkin", headers=headers).json()["timezone"] == "Europe/Rome"
    assert runtime.service.status(b.owner.id).last_checkin == clock.now() - timedelta(days=3)
    assert [e["event"] for e in client.get("/api/timeline", headers=headers).json()] == ["checkin"]
    assert runtime.service.timeline(b.owner.id) == []


def test_a_policy_change_during_grace_never_fires_the_switch(runtime: Runtime, clock: FakeClock) -> None:
    """Shortening grace while in grace is an owner's act: it re-arms, nothing fires, nobody is told."""
    owner = _owner(runtime)
    worker, sender = _worker(runtime)
    clock.advance(days=31)  # one day into a two-day grace
    worker.run_once()
    view = runtime.service.set_policy(owner, {**POLICY, "grace": "1h"})
    assert view.status == "armed" and view.deadline == clock.now() + timedelta(days=30)
    worker.run_once()
    kinds = _kinds(runtime, owner)
    assert "fired" not in kinds and kinds[-1] == "checkin"
    assert not [m for m in sender.sent if m.purpose == "stage"]


def test_a_policy_with_fewer_stages_replaces_one_mid_release(runtime: Runtime, clock: FakeClock) -> None:
    """After a stage ran, a new policy with fewer stages re-arms cleanly (no error)."""
    owner = _owner(runtime)
    worker, _ = _worker(runtime)
    clock.advance(days=36)
    worker.run_once()
    view = runtime.service.set_policy(owner, {"interval": "10d"})
    assert view.status == "armed" and view.pending_stages == []
    assert _kinds(runtime, owner)[-2:] == ["cancelled", "checkin"]


def test_each_release_tells_its_audience_even_after_a_late_recorded_stage(runtime: Runtime,
                                                                         clock: FakeClock) -> None:
    """A stage recorded inside a check-in (worker behind) does not swallow the next release's notice."""
    policy = {"interval": "10d", "grace": "0s", "stages": [{"name": "staff", "after": "0d",
                                                            "audience": ["staff@example.org"]}]}
    owner = _owner(runtime, policy=policy)
    worker, sender = _worker(runtime)
    clock.advance(days=11)
    runtime.service.check_in(owner)  # records the overdue fire and stage, then the check-in
    clock.advance(days=11)
    worker.run_once()
    notices = [m for m in sender.sent if m.recipient == "staff@example.org"]
    assert len(notices) == 2
    with runtime.engine.connect() as conn:
        cycles = [r.cycle for r in conn.execute(select(transitions.c.cycle).where(transitions.c.kind == "stage")
                                                .order_by(transitions.c.id))]
    assert cycles == [0, 1]


def test_one_failing_switch_does_not_hold_back_the_others(runtime: Runtime, clock: FakeClock) -> None:
    """A switch whose stage action raises is retried a minute later; the others fire on time."""
    from baton.services import actions

    def explode(run: actions.StageRun) -> None:
        raise RuntimeError("boom")

    actions.register("explode-for-test")(explode)
    try:
        broken = _owner(runtime, "broken@example.org", {"interval": "5d", "grace": "0s", "stages": [
            {"name": "x", "after": "0d", "action": "explode-for-test"}]})
        fine = _owner(runtime, "fine@example.org", {"interval": "6d", "grace": "0s", "stages": [
            {"name": "y", "after": "0d", "audience": ["owner"]}]})
        worker, _ = _worker(runtime)
        clock.advance(days=7)
        worker.run_once()
        assert runtime.service.status(fine).status == "released"
        assert runtime.service.status(broken).status == "armed"
        with runtime.engine.connect() as conn:
            retry = conn.execute(select(switches.c.next_due_at).where(switches.c.owner_id == broken)).scalar()
            kinds = [r.kind for r in conn.execute(select(audit_entries.c.kind)
                                                  .where(audit_entries.c.owner_id == broken))]
        assert retry == clock.now() + timedelta(minutes=1)
        assert kinds[-1] == "switch.error"
    finally:
        actions._REGISTRY.pop("explode-for-test", None)


def _writes_audit(run: actions.StageRun) -> None:
    """A stage action that appends to the audit log itself, as a release does."""
    auditlog.append(run.notifier.conn, run.notifier.signer, run.owner_id, run.now, "test.stage_ran",
                    {"stage": run.stage.name})


def test_stages_that_write_the_audit_log_in_one_step_all_run(runtime: Runtime, clock: FakeClock,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stages due at the moment of firing, each appending its own audit entry: both run, the chain
    holds, the switch is released (the second once failed with 'audit chain moved under us', forever)."""
    monkeypatch.setitem(actions._REGISTRY, "test_writes_audit", _writes_audit)  # this test's action only
    owner = _owner(runtime, policy={"interval": "10d", "grace": "0s", "stages": [
        {"name": "first", "after": "0d", "action": "test_writes_audit"},
        {"name": "second", "after": "0d", "action": "test_writes_audit"}]})
    worker, _ = _worker(runtime)
    clock.advance(days=10, minutes=1)
    worker.run_once()
    assert runtime.service.status(owner).status == "released"
    assert _kinds(runtime, owner)[-3:] == ["fired", "stage", "stage"]
    with runtime.engine.connect() as conn:
        ran = conn.execute(select(audit_entries.c.data).where(audit_entries.c.kind == "test.stage_ran")
                           .order_by(audit_entries.c.seq)).scalars().all()
        count, problem = auditlog.verify(conn, owner)
    assert [d["stage"] for d in ran] == ["first", "second"]
    assert problem is None and count > 4
