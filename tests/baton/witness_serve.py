"""``baton serve`` deployments in child processes for the witness tests (issue 14): start one on a database and
a data folder with the witness loop and the sweep made fast (stopped with ``tests_support.stop_process``), wait
for a condition, and read what its database says (when it fired; when its own timeline says it fires)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from baton.store.tables import switches, transitions
from switch import state_from_dict
from tests_support import free_port, stop_process

FAST = {"beat": "0.5", "watch": "0.3", "sweep": "0.3"}
ROOT = str(Path(__file__).resolve().parents[2])  # the children import this checkout's code


@dataclass
class Deployment:
    url: str
    db: str
    folder: Path
    proc: subprocess.Popen[bytes] | None = None


def serve(folder: Path, db: str, *args: str, base_url: str | None = None, port: int | None = None,
          **env: str) -> tuple[str, subprocess.Popen[bytes]]:
    """``baton serve`` (or ``args``) in a child process; its URL and process once /healthz answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "BATON_HOST": "127.0.0.1", "BATON_PORT": str(port), "BATON_DATABASE_URL": db,
                   "BATON_DATA_DIR": str(folder), "BATON_BASE_URL": base_url or url, "BATON_SMTP_PORT": "1",
                   "BATON_OUTBOUND_ALLOW": "127.0.0.0/8", "BATON_COOLING_OFF_HOURS": "0",
                   "BATON_WITNESS_HEARTBEAT_SECONDS": FAST["beat"], "BATON_WITNESS_WATCH_SECONDS": FAST["watch"],
                   "BATON_SWEEP_SECONDS": FAST["sweep"], "BATON_WITNESS_MIN_FREE_BYTES": "0",
                   "BATON_RETRY_BASE_SECONDS": "1", "PYTHONPATH": ROOT, **env}
    log = folder.parent / f"{folder.name}-{args[0] if args else 'serve'}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "baton.cli", *(args or ("serve",))], env=environment,
                                cwd=folder.parent, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120  # on a loaded machine (other jobs on 2 cores) a start took 30 s
    try:
        while True:
            assert proc.poll() is None, f"baton exited ({proc.returncode}): {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code in (200, 503):
                    return url, proc
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"baton did not answer in 120 s: {log.read_text()[-3000:]}"
            time.sleep(0.1)
    except BaseException:
        stop_process(proc)
        raise


def wait_for(what: str, check: Callable[[], Any], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds} s")


def fired_at(db: str) -> datetime | None:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return conn.execute(select(transitions.c.due_at).where(transitions.c.kind == "fired")
                                .order_by(transitions.c.id.desc())).scalar()
    finally:
        engine.dispose()


def primary_fire_moment(db: str) -> datetime:
    """What the primary's own timeline says: the deadline plus grace, from its stored state."""
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(switches.c.state, switches.c.policy)).one()
    finally:
        engine.dispose()
    from switch import fire_moment, policy_from_dict
    return fire_moment(policy_from_dict(row.policy), state_from_dict(row.state))
