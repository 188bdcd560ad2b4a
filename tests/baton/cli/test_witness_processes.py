"""The witness with real processes (issue 14): a primary ``baton serve`` on SQLite and a witness ``baton serve``
on PostgreSQL, on the loopback, with policies measured in seconds and the real clock. The primary is killed
with SIGKILL; the witness alerts the owner, then fires at the policy's moment and not earlier; a check-in at
the witness is a check-in on the primary once it is back; a primary whose worker is stopped but whose API
still beats holds the witness back; a release the primary began is finished by the witness, stage by stage,
once. Each test is bounded (well under 90 s on an idle machine)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from witness_serve import ROOT, Deployment, fired_at, primary_fire_moment, serve, wait_for
from witness_support import (
    PASSWORD,
    Life,
    enrol_url,
    holds_none,
    make_vault,
    open_with_terminal,
    unzip,
)

from baton.runtime import build
from baton.store import links as stored_links
from baton.store.snapshot import tables
from baton.store.tables import audit_entries, outbox, switches
from tests_support import needs_tools, scratch_database, settings_for, stop_process

pytestmark = [pytest.mark.slow, needs_tools("age", "age-keygen", "shamir")]

LONG = {"interval": "30d", "reminders": [], "grace": "1d", "timezone": "UTC",
        "stages": [{"name": "staff", "after": "0s", "audience": ["ana@example.org", "bruno@example.org"],
                    "action": "release"}]}
def rows(db: str, purpose: str) -> list[Any]:
    engine = create_engine(db.replace("postgresql+psycopg", "postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(outbox.c.recipient, outbox.c.subject, outbox.c.body_text,
                                            outbox.c.created_at).where(outbox.c.purpose == purpose)
                                     .order_by(outbox.c.id)))
    finally:
        engine.dispose()


def switch_state(db: str) -> dict[str, Any]:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(switches.c.state)).scalar_one())
    finally:
        engine.dispose()


def reported(db: str) -> dict[str, Any]:
    """The state the witness last heard from the primary."""
    from baton.store.tables import witnessed
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return dict((conn.execute(select(witnessed.c.reported)).scalar_one() or {}).get("state") or {})
    finally:
        engine.dispose()


def heard(world: World) -> None:
    """Wait until the witness has heard the primary's current state (a heartbeat after the last change)."""
    wait_for("the witness hearing the primary's state",
             lambda: reported(world.witness.db) == switch_state(world.primary.db), 60)


@dataclass
class World:
    primary: Deployment
    witness: Deployment
    token: str
    life: Life
    tmp: Path
    stack: ExitStack

    def owner(self) -> httpx.Client:
        return httpx.Client(base_url=self.primary.url, headers={"Authorization": f"Bearer {self.token}"},
                            timeout=30)

    def start_primary(self, *args: str) -> None:
        port = int(self.primary.url.rsplit(":", 1)[1])
        self.primary.url, self.primary.proc = serve(self.primary.folder, self.primary.db, *args, port=port)

    def kill_primary(self) -> float:
        assert self.primary.proc is not None
        os.kill(self.primary.proc.pid, signal.SIGKILL)
        self.primary.proc.wait(timeout=10)
        return time.time()

    def link(self, silence: str) -> None:
        witness = build(settings_for(self.witness.db, data_dir=self.witness.folder))
        try:
            from baton.services.witness.watching import make_code
            with witness.engine.begin() as conn:
                code = make_code(conn, witness.service.clock.now())
            key = witness.service.signer.public_hex
        finally:
            witness.engine.dispose()
        env = {**os.environ, "BATON_URL": self.primary.url, "BATON_TOKEN": self.token, "PYTHONPATH": ROOT}
        added = subprocess.run([sys.executable, "-m", "baton.cli", "witness", "add", self.witness.url, "--code", code,
                                "--key", key, "--silence", silence], env=env, capture_output=True, text=True,
                               timeout=60)
        assert added.returncode == 0, added.stderr
        assert f"witness key: {key}" in added.stderr and "Linked witness" in added.stdout

    def policy(self, data: dict[str, Any]) -> float:
        with self.owner() as client:
            client.put("/api/policy", json=data).raise_for_status()
        return time.time()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with ExitStack() as stack:
        primary_db = f"sqlite:///{tmp_path}/primary/baton.db"
        (tmp_path / "primary").mkdir()
        (tmp_path / "w").mkdir()
        witness_db = stack.enter_context(scratch_database("postgres", tmp_path / "w"))
        runtime = build(settings_for(primary_db, data_dir=tmp_path / "primary"))
        try:
            token = runtime.service.create_owner("owner@example.org", "correct horse battery", "UTC",
                                                 policy=LONG).api_token
            key = runtime.service.key
        finally:
            runtime.engine.dispose()
        primary = Deployment("", primary_db, tmp_path / "primary")
        primary.url, primary.proc = serve(primary.folder, primary_db)
        stack.callback(lambda: stop_process(primary.proc))
        witness = Deployment("", witness_db, tmp_path / "witness")
        witness.folder.mkdir()
        witness.url, witness.proc = serve(witness.folder, witness_db, base_url="http://witness.test")
        stack.callback(lambda: stop_process(witness.proc))
        with httpx.Client(base_url=primary.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            engine = create_engine(primary_db)
            stack.callback(engine.dispose)
            life = make_vault(client, tmp_path, lambda who: enrol_url(engine, key, who), token)
        yield World(primary, witness, token, life, tmp_path, stack)


def short(interval: int, grace: int, stages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"interval": f"{interval}s", "reminders": [], "grace": f"{grace}s", "timezone": "UTC",
            "stages": stages or LONG["stages"]}


def _witness_key(w: World) -> Any:
    runtime = build(settings_for(w.witness.db, data_dir=w.witness.folder))
    try:
        return runtime.service.key
    finally:
        runtime.engine.dispose()


def test_primary_killed_owner_silent_the_witness_alerts_then_fires_at_the_policy_moment(world: World) -> None:
    """SIGKILL on the primary, the owner silent: the witness alerts the owner, fires no earlier than the primary
    would have (and one grace after its alert), and ana and bruno's packages open with age and shamir."""
    world.link("2s")
    world.policy(short(interval=15, grace=6))
    heard(world)
    primary_fires = primary_fire_moment(world.primary.db)
    world.kill_primary()
    [alert] = wait_for("the witness's alert", lambda: rows(world.witness.db, "witness"), 60)
    assert alert.recipient == "owner@example.org" and "silent" in alert.subject
    assert alert.created_at >= primary_fires
    released = wait_for("the witness's release mails", lambda: rows(world.witness.db, "release"), 60)
    fired = fired_at(world.witness.db)
    assert fired is not None and fired >= primary_fires and fired >= alert.created_at + timedelta(seconds=5.9)
    assert sorted(m.recipient for m in released) == ["ana@example.org", "bruno@example.org"]
    key = _witness_key(world)
    folders = {}
    for mail in released:
        url = re.findall(r"http://witness.test(/d/\S+)", stored_links.expand(key, mail.body_text))[0]
        got = wait_for("the package", lambda url=url: (lambda r: r if r.status_code == 200 else None)(
            httpx.post(f"{world.witness.url}{url}", timeout=30)), 30)
        folders[mail.recipient.split("@")[0]] = unzip(got.content, world.tmp / "downloads" / mail.recipient)
    assert open_with_terminal(folders, world.life.identities) == PASSWORD
    engine = create_engine(world.witness.db)
    try:
        with engine.connect() as conn:
            dump = "\n".join(repr(r) for t in tables() for r in conn.execute(select(t)))
    finally:
        engine.dispose()
    assert holds_none(world.life.secrets, dump, world.witness.folder) == []


def test_primary_killed_owner_checks_in_at_the_witness_then_the_primary_shows_it(world: World) -> None:
    """The owner checks in at the witness's link: nothing fires; the primary, restarted, shows the check-in
    (at the witness's moment, via the witness) and re-arms from it: no release before that new timeline."""
    world.link("5s")
    world.policy(short(interval=15, grace=10))
    heard(world)
    world.kill_primary()
    [alert] = wait_for("the witness's alert", lambda: rows(world.witness.db, "witness"), 60)
    link = re.findall(r"http://witness.test(/l/\S+)", stored_links.expand(_witness_key(world), alert.body_text))[0]
    answer = httpx.post(f"{world.witness.url}{link}", timeout=30)
    assert answer.status_code == 200, answer.text
    checked_at = time.time()
    time.sleep(12)  # past the witness's fire moment had nobody checked in
    assert rows(world.witness.db, "release") == [] and fired_at(world.witness.db) is None
    world.start_primary()
    with world.owner() as client:
        status = client.get("/api/status").json()
        last = datetime.fromisoformat(status["last_checkin"].replace("Z", "+00:00")).timestamp()
        assert abs(last - checked_at) < 5
        timeline = client.get("/api/timeline").json()
        assert any("via witness" in t["reason"] for t in timeline if t["event"] == "checkin")
    # Re-armed from the check-in: the primary's own release, if the restart outlasted the new timeline, comes
    # no earlier than check-in + interval + grace.
    fired = fired_at(world.primary.db)
    assert fired is None or fired.timestamp() >= last + 25 - 0.01


def forge_and_replay(world: World) -> None:
    """Against the running witness: a heartbeat claiming to be the primary's but signed by another key (401),
    and a heartbeat and a sync signed by the primary's own key with a message number already used (409)."""
    from nacl.signing import SigningKey

    from baton.services.witness import wire
    from baton.store.signing import DeploymentSigner, Ed25519Signer
    from baton.store.witness_tables import witness_links
    primary = build(settings_for(world.primary.db, data_dir=world.primary.folder))
    try:
        signer, now = primary.service.signer, primary.service.clock.now()
        with primary.engine.connect() as conn:
            owner_id = conn.execute(select(witness_links.c.owner_id)).scalar_one()
        other = DeploymentSigner(Ed25519Signer(SigningKey.generate()), primary.service.key)
    finally:
        primary.engine.dispose()
    body = {"version": 10**6, "state": {}}
    forged = wire.seal(other, "heartbeat", owner_id, 10**6, now, body)
    forged["from"] = signer.public_hex  # claims to be the primary
    replays = [wire.seal(signer, "heartbeat", owner_id, 1, now, body),
               wire.seal(signer, "sync", owner_id, 1, now, {"version": 10**6, "data": {}})]
    with httpx.Client(base_url=world.witness.url, timeout=30) as client:
        answer = client.post("/witness/heartbeat", json=forged)
        assert answer.status_code == 401 and "signature does not match" in answer.json()["detail"]
        for kind, message in zip(("heartbeat", "sync"), replays, strict=True):
            answer = client.post(f"/witness/{kind}", json=message)
            assert answer.status_code == 409 and "a replay" in answer.json()["detail"], answer.text


def test_a_primary_whose_worker_stopped_but_still_beats_holds_the_witness_back(world: World) -> None:
    """``baton api`` (no worker) keeps sending heartbeats: past the switch's fire moment and the silence, the
    witness does not act; a forged heartbeat and a replayed heartbeat and sync sent to it meanwhile are refused
    and audited."""
    assert world.primary.proc is not None
    stop_process(world.primary.proc)
    world.start_primary("api")
    world.link("8s")  # heartbeats every 0.5 s; 8 s leaves room for a loaded machine's pauses
    world.policy(short(interval=3, grace=2))
    heard(world)
    fires = primary_fire_moment(world.primary.db)
    forge_and_replay(world)  # refused, and no moment the witness heard moves
    time.sleep(max(0.0, fires.timestamp() - time.time()) + 12)
    assert rows(world.witness.db, "witness") == [] and fired_at(world.witness.db) is None
    engine = create_engine(world.witness.db)
    try:
        with engine.connect() as conn:
            refused = [r.data for r in conn.execute(select(audit_entries.c.data).where(
                audit_entries.c.kind == "witness.refused").order_by(audit_entries.c.id))]
    finally:
        engine.dispose()
    assert [r["kind"] for r in refused] == ["heartbeat", "heartbeat", "sync"]
    assert "signature" in refused[0]["why"] and "replay" in refused[1]["why"] and "replay" in refused[2]["why"]
    assert fired_at(world.primary.db) is None  # the primary's own worker is stopped, too
    with world.owner() as client:
        [seen] = client.get("/api/witnesses").json()
    assert seen["problem"] is None and seen["last_heartbeat"] is not None


def test_the_primary_runs_stage_one_and_dies_the_witness_runs_two_and_three_once(world: World) -> None:
    """Stage 1 by the primary (ana, bruno), then SIGKILL: the witness runs stage 2 (carla) and 3 (the owner's
    notice) and nothing else; each holder has each stage's message once, across both deployments."""
    world.link("2s")
    stages = [LONG["stages"][0],
              {"name": "family", "after": "20s", "audience": ["carla@example.org"], "action": "release"},
              {"name": "tell", "after": "24s", "audience": ["owner"], "action": "notify"}]
    world.policy(short(interval=3, grace=1, stages=stages))
    first = wait_for("the primary's stage 1", lambda: rows(world.primary.db, "release"), 30)
    wait_for("the heartbeat that reports stage 1", lambda: reported(world.witness.db).get("stages_run") == 1, 60)
    world.kill_primary()
    wait_for("the witness's stage 3", lambda: rows(world.witness.db, "stage"), 40)
    time.sleep(1)
    assert sorted(m.recipient for m in first) == ["ana@example.org", "bruno@example.org"]
    assert [m.recipient for m in rows(world.witness.db, "release")] == ["carla@example.org"]
    assert [m.recipient for m in rows(world.witness.db, "stage")] == ["owner@example.org"]
    assert len(rows(world.primary.db, "release")) == 2
