"""A mass wake-up: many due switches advanced in one transaction, their rows written in bulk.

``advance_batch`` claims up to ``limit`` of the most overdue switches no other worker holds
(``FOR UPDATE ... SKIP LOCKED`` on the switch and its owner's row on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` lets one writer in at a time), asks the pure core for each one's step, and
gathers what each step records (``writes.Gathered``): the switches' new states, transitions,
signed audit entries (chained per owner as they are written), links and outbox messages go in a
few multi-row statements. A switch the gathered path does not cover (a held change to settle, a
stage action other than ``notify``, a chain signed by another key) is advanced the usual way
in a savepoint of the same transaction. A switch whose step fails is deferred alone, as
``SwitchService.advance_next`` defers it; the others of its batch go on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from baton.services import switchrows
from baton.services.recorder import Recorder
from baton.services.switch import SwitchService
from baton.services.switchrows import LoadedSwitch
from baton.services.witness import hold as witness_hold
from baton.services.writes import Gathered
from baton.store.tables import owners, switches
from switch import Kind, state_to_dict
from switch import machine as core

GATHERED_ACTIONS = frozenset({"notify"})  # stage actions that only write messages through the recorder

_DUE_BATCH = (select(switches, owners.c.email, owners.c.timezone, owners.c.language, owners.c.audit_seq,
                     owners.c.audit_head, owners.c.audit_key)
              .join(owners, owners.c.id == switches.c.owner_id)
              .where(switches.c.next_due_at.isnot(None), switches.c.next_due_at <= bindparam("now"))
              .order_by(switches.c.next_due_at, switches.c.id).limit(bindparam("limit"))
              .with_for_update(of=[switches, owners], skip_locked=True))


def advance_batch(service: SwitchService, limit: int) -> tuple[int, int] | None:
    """Advance up to ``limit`` due switches no other worker holds, in one transaction: (switches
    advanced, events recorded), or None when none is due."""
    now = service.clock.now()
    with service.engine.begin() as conn:
        rows = conn.execute(_DUE_BATCH, {"now": now, "limit": limit}).all()
        if not rows:
            return None
        gathered = Gathered(conn, service.signer, (r.owner_id for r in rows))
        events = 0
        fired: set[int] = set()  # owners whose step fired or ran a stage (their witnesses hear it first)
        for row in rows:
            loaded = switchrows.loaded(row)
            if not _gatherable(service, row, loaded, now):
                events += _alone(service, conn, row, now)
                continue
            mark = gathered.mark()
            try:
                step = core.run_due(loaded.policy, loaded.state, now)
                if not _plain(loaded, step.events):
                    gathered.undo(mark)
                    events += _alone(service, conn, row, now)
                    continue
                gathered.move(loaded.id, loaded.version, _state_values(loaded, step.state, now))
                if step.events:
                    Recorder(conn, service.settings, service.signer, loaded.id, loaded.owner, None, loaded.policy,
                             step.state, now, start_cycle=loaded.state.cycle, out=gathered).record(step.events)
                events += len(step.events)
                if witness_hold.fires(step.events):
                    fired.add(loaded.owner_id)
            except Exception as exc:  # noqa: BLE001 - one broken switch must not hold back the others
                gathered.undo(mark)
                service._defer(conn, loaded.id, loaded.version, now, exc)
        gathered.flush()
        witness_hold.hold(conn, service, fired, now)
    return len(rows), events


def _gatherable(service: SwitchService, row: Row[Any], loaded: LoadedSwitch, now: datetime) -> bool:
    if loaded.change_due is not None and loaded.change_due <= now:
        return False  # settling a held change has its own path (``SwitchService._settle_changes``)
    return row.audit_key is None or row.audit_key == service.signer.public_hex


def _plain(loaded: LoadedSwitch, events: tuple[Any, ...]) -> bool:
    """Whether every stage of the step runs an action that writes only through the recorder."""
    return all(e.kind is not Kind.STAGE or loaded.policy.stages[e.data["index"]].action in GATHERED_ACTIONS
               for e in events)


def _state_values(loaded: LoadedSwitch, state: Any, now: datetime) -> dict[str, Any]:
    return dict(state=state_to_dict(state), status=str(state.status),
                next_due_at=switchrows.next_due(loaded.policy, state, loaded.change_due), version=loaded.version + 1,
                updated_at=now)


def _alone(service: SwitchService, conn: Connection, row: Row[Any], now: datetime) -> int:
    """One switch the usual way, in a savepoint (deferred if its step fails)."""
    try:
        with conn.begin_nested():
            return service._advance_row(conn, row, now)
    except Exception as exc:  # noqa: BLE001 - one broken switch must not hold back the others
        service._defer(conn, row.id, row.version, now, exc)
        return 0
