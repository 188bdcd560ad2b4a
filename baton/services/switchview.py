"""What the owner reads of a switch: its status (in UTC and the owner's time zone) and its timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from baton.store.tables import transitions
from baton.timeutil import local
from switch import Kind, Policy, Status, SwitchState, fire_moment, iso, next_timer
from switch import machine as core

_REMINDING = (Kind.REMINDER, Kind.GRACE_REMINDER, Kind.DEADLINE)


@dataclass(frozen=True)
class SwitchView:
    """What ``status`` shows: state, deadline, next reminder, in UTC and the owner's time zone."""

    status: str
    timezone: str
    deadline: datetime
    next_reminder: datetime | None
    fires_at: datetime | None
    paused_until: datetime | None
    last_checkin: datetime
    pending_stages: list[str]
    release_request: dict[str, str] | None
    next_due: datetime | None
    changes: list[dict[str, Any]] = field(default_factory=list)  # held for a cooling-off (services.changes)
    notes: list[str] = field(default_factory=list)  # what saving a policy did besides (verifiers added to People)
    warnings: list[str] = field(default_factory=list)  # what a saved policy still gets wrong (switch.advice)

    def to_dict(self) -> dict[str, Any]:
        tz = self.timezone

        def both(name: str, moment: datetime | None) -> dict[str, Any]:
            return {name: iso(moment) if moment else None, f"{name}_local": local(moment, tz)}

        out: dict[str, Any] = {"status": self.status, "timezone": tz}
        for name in ("deadline", "next_reminder", "fires_at", "paused_until", "last_checkin"):
            out.update(both(name, getattr(self, name)))
        out["pending_stages"] = self.pending_stages
        out["release_request"] = self.release_request
        out["pending_changes"] = self.changes
        if self.notes or self.warnings:
            out["notes"], out["warnings"] = self.notes, self.warnings
        return out


def timeline(conn: Connection, owner_id: int, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(transitions).where(transitions.c.owner_id == owner_id)
                        .order_by(transitions.c.id.desc()).limit(limit)).all()
    return [{"at": iso(r.due_at), "recorded_at": iso(r.recorded_at), "event": r.kind, "stage": r.stage,
             "who": r.who, "reason": r.reason} for r in reversed(rows)]


def view(policy: Policy, state: SwitchState, changes: list[dict[str, Any]] | None = None) -> SwitchView:
    """The status of ``state`` under ``policy``, with the changes waiting for their cooling-off."""
    timer = next_timer(policy, state)
    reminder = None
    probe = state
    # The next reminder is the first reminding timer ahead (the clock alone, no inputs).
    for _ in range(len(policy.reminders) + 2):
        t = next_timer(policy, probe)
        if t is None or probe.status not in (Status.ARMED, Status.GRACE):
            break
        if t.kind in _REMINDING:
            reminder = t.due
            break
        probe = core.run_due(policy, probe, t.due).state
    fires = None if state.status in (Status.FIRED, Status.RELEASED) else fire_moment(policy, state)
    if state.status is Status.PAUSED:
        fires = None
    pending = [s.name for s in policy.stages[state.stages_run:]] if state.status is Status.FIRED else []
    request = None
    if state.request_at is not None and state.request_by is not None:
        request = {"by": state.request_by, "at": iso(state.request_at),
                   "completes": iso(state.request_at + policy.request_wait)}
    return SwitchView(str(state.status), policy.timezone, state.deadline, reminder, fires, state.paused_until,
                      state.armed_at, pending, request, timer.due if timer else None, changes or [])
