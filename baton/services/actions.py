"""Stage actions: what a release stage does, registered by name.

The switch only says "stage X ran"; the composition looks up the stage's action here
and runs it inside the transaction that records the stage, so the messages it writes
to the outbox stand or fall with the transition. This module ships ``notify``; the
vault release and the customer notices register themselves the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from baton.settings import Settings
from baton.store.signing import DeploymentSigner
from switch import Event, Policy, Stage


class Notifier(Protocol):
    """What an action may use: the transaction, the settings and signer, the outbox, people's addresses."""

    conn: Connection
    settings: Settings
    signer: DeploymentSigner

    def email(self, recipient: str, key: str, purpose: str, template: str, **context: Any) -> None: ...

    def address_of(self, audience_member: str) -> str | None: ...


@dataclass(frozen=True)
class StageRun:
    """Everything a stage action is given."""

    owner_id: int
    owner_email: str
    timezone: str
    policy: Policy
    stage: Stage
    event: Event
    fired_reason: str
    cycle: int
    now: datetime
    notifier: Notifier
    fired_cause: dict[str, Any] | None = None  # the fired event's data: its reason as data (switch.machine._fire)


StageAction = Callable[[StageRun], None]
_REGISTRY: dict[str, StageAction] = {}


def register(name: str) -> Callable[[StageAction], StageAction]:
    def wrap(action: StageAction) -> StageAction:
        _REGISTRY[name] = action
        return action
    return wrap


def get(name: str) -> StageAction | None:
    return _REGISTRY.get(name)


def names() -> list[str]:
    return sorted(_REGISTRY)


@register("notify")
def notify_audience(run: StageRun) -> None:
    """Tell each member of the stage's audience, by e-mail, that the stage ran and why."""
    from baton.timeutil import local

    index = run.event.data["index"]
    later = [s.name for s in run.policy.stages[index + 1:]]
    for member in run.stage.audience:
        address = run.notifier.address_of(member)
        if address is None:
            continue
        run.notifier.email(address, key=f"c{run.cycle}/stage/{index}", purpose="stage", template="stage_notify",
                           owner_email=run.owner_email, stage=run.stage.name,
                           reason=run.fired_reason, at_local=local(run.event.at, run.timezone),
                           more_stages=later)
