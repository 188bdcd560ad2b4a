"""Three ``baton serve`` processes on the loopback (issue 14): a primary on SQLite, a first witness on PostgreSQL
and a second on SQLite, every one sending through one loopback SMTP server, with a policy measured in seconds
and the real clock. The primary is killed with SIGKILL and the owner stays silent: exactly one witness takes
over and fires (the other learns its claim and yields, audited), each holder receives each stage's message
exactly once, and nothing fires before the policy's moment. Bounded (well under 90 s on an idle machine)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from smtp_server import SmtpServer
from sqlalchemy import create_engine, select
from witness_serve import ROOT, Deployment, fired_at, primary_fire_moment, serve, wait_for

from baton.runtime import build
from baton.store.tables import audit_entries, switches, witnessed
from tests_support import scratch_database, settings_for, stop_process

pytestmark = pytest.mark.slow

STAGES = [{"name": "staff", "after": "0s", "audience": ["ana@example.org", "bruno@example.org"], "action": "notify"},
          {"name": "family", "after": "3s", "audience": ["carla@example.org"], "action": "notify"}]
WAITING = {"interval": "30d", "reminders": [], "grace": "1d", "timezone": "UTC", "stages": STAGES}
SHORT = {"interval": "8s", "reminders": [], "grace": "2s", "timezone": "UTC", "stages": STAGES}


def _one(db: str, query: Any) -> Any:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        engine.dispose()


def _kinds(db: str) -> list[str]:
    return [r.kind for r in _one(db, select(audit_entries.c.kind).order_by(audit_entries.c.id))]


def _heard(db: str) -> tuple[dict[str, Any], list[Any]]:
    [row] = _one(db, select(witnessed.c.reported, witnessed.c.siblings))
    return dict((row.reported or {}).get("state") or {}), list(row.siblings or [])


def _link(primary: Deployment, witness: Deployment, token: str) -> None:
    import os
    import subprocess
    import sys
    runtime = build(settings_for(witness.db, data_dir=witness.folder))
    try:
        from baton.services.witness.watching import make_code
        with runtime.engine.begin() as conn:
            code = make_code(conn, runtime.service.clock.now())
        key = runtime.service.signer.public_hex
    finally:
        runtime.engine.dispose()
    env = {**os.environ, "BATON_URL": primary.url, "BATON_TOKEN": token, "PYTHONPATH": ROOT}
    added = subprocess.run([sys.executable, "-m", "baton.cli", "witness", "add", witness.url, "--code", code, "--key",
                            key, "--silence", "2s"], env=env, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr


def test_two_witnesses_one_takes_over_the_other_yields_each_holder_gets_each_stage_once(
        tmp_path: Path, smtp: SmtpServer) -> None:
    import httpx
    mail = {"BATON_SMTP_HOST": "127.0.0.1", "BATON_SMTP_PORT": str(smtp.port)}
    (tmp_path / "primary").mkdir()
    (tmp_path / "pg").mkdir()
    primary = Deployment("", f"sqlite:///{tmp_path}/primary/baton.db", tmp_path / "primary")
    runtime = build(settings_for(primary.db, data_dir=primary.folder))
    try:
        token = runtime.service.create_owner("owner@example.org", "correct horse battery", "UTC",
                                             policy=WAITING).api_token
    finally:
        runtime.engine.dispose()
    with scratch_database("postgres", tmp_path / "pg") as pg:
        witnesses = [Deployment("", pg, tmp_path / "witness0"),
                     Deployment("", f"sqlite:///{tmp_path}/witness1/baton.db", tmp_path / "witness1")]
        try:
            primary.url, primary.proc = serve(primary.folder, primary.db, **mail)
            for i, w in enumerate(witnesses):
                w.folder.mkdir()
                w.url, w.proc = serve(w.folder, w.db, base_url=f"http://witness{i}.test", **mail)
            for w in witnesses:
                _link(primary, w, token)
            with httpx.Client(base_url=primary.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
                c.put("/api/policy", json=SHORT).raise_for_status()
            [row] = _one(primary.db, select(switches.c.state))
            for w in witnesses:  # each witness heard the new state, and its sibling from the primary
                wait_for("the witnesses hearing the state and their sibling",
                         lambda w=w: _heard(w.db)[0] == dict(_one(primary.db, select(switches.c.state))[0].state)
                         and len(_heard(w.db)[1]) == 1, 30)
            fires = primary_fire_moment(primary.db)
            assert primary.proc is not None
            primary.proc.kill()
            primary.proc.wait(timeout=10)
            assert fired_at(primary.db) is None and row is not None  # killed before its own moment

            def staged() -> list[Any]:
                return [m for m in smtp.received if m.purpose == "stage"]
            wait_for("the last stage's message", lambda: any("carla@example.org" in m.envelope_to for m in staged()),
                     60)
            time.sleep(1.5)  # room for a duplicate to show, were there one
            per_holder = Counter(to for m in staged() for to in m.envelope_to)
            assert per_holder == {"ana@example.org": 1, "bruno@example.org": 1, "carla@example.org": 1}
            assert all(m.at >= fires.timestamp() for m in staged())
            held = [w for w in witnesses if _one(w.db, select(witnessed.c.taken_over_at))[0].taken_over_at]
            assert len(held) == 1
            [other] = [w for w in witnesses if w is not held[0]]
            fired = fired_at(held[0].db)
            assert fired is not None and fired >= fires and fired_at(other.db) is None
            assert {"witness.claimed", "witness.took_over"} <= set(_kinds(held[0].db))
            assert {"witness.claim_learned", "witness.yielded"} <= set(_kinds(other.db))
            assert "witness.took_over" not in _kinds(other.db)
            alerts = [m for m in smtp.received if m.purpose == "witness"]
            assert len(alerts) == 1 and isinstance(fires, datetime)
        finally:
            for w in (primary, *witnesses):
                stop_process(w.proc)
