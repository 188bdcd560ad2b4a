"""A switch state as a JSON-ready mapping, and back (for storage; no secrets inside)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switch.errors import SwitchError
from switch.machine import Answer, Status, SwitchState


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def state_to_dict(state: SwitchState) -> dict[str, Any]:
    """Every field of the state; moments as ISO 8601 strings."""
    return {
        "status": str(state.status),
        "armed_at": state.armed_at.isoformat(),
        "deadline": state.deadline.isoformat(),
        "cycle": state.cycle,
        "reminders_sent": state.reminders_sent,
        "grace_sent": state.grace_sent,
        "fired_at": state.fired_at.isoformat() if state.fired_at else None,
        "stages_run": state.stages_run,
        "paused_until": state.paused_until.isoformat() if state.paused_until else None,
        "votes": [[who, str(answer)] for who, answer in state.votes],
        "request_by": state.request_by,
        "request_at": state.request_at.isoformat() if state.request_at else None,
    }


def state_from_dict(data: dict[str, Any]) -> SwitchState:
    """The state ``state_to_dict`` wrote; a damaged record raises ``SwitchError``."""
    try:
        armed_at = _moment(data["armed_at"])
        deadline = _moment(data["deadline"])
        assert armed_at is not None and deadline is not None
        return SwitchState(
            status=Status(data["status"]), armed_at=armed_at, deadline=deadline,
            cycle=int(data["cycle"]), reminders_sent=int(data["reminders_sent"]),
            grace_sent=int(data["grace_sent"]), fired_at=_moment(data["fired_at"]),
            stages_run=int(data["stages_run"]), paused_until=_moment(data["paused_until"]),
            votes=tuple((str(w), Answer(a)) for w, a in data["votes"]),
            request_by=data["request_by"], request_at=_moment(data["request_at"]),
        )
    except (KeyError, ValueError, TypeError, AssertionError) as exc:
        raise SwitchError(f"stored switch state is damaged: {type(exc).__name__}: {exc}") from None
