"""A switch as read for a change: the statements that read it with its owner (built once) and the row's
parsed form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, bindparam, select

from baton.services import accounts
from baton.store.tables import api_tokens, owners, switches
from switch import Policy, SwitchState, next_timer, policy_from_dict, state_from_dict


@dataclass(frozen=True)
class LoadedSwitch:
    """A switch as read for a change, with its owner and the owner's audit head (both locked)."""

    id: int
    owner: accounts.Owner
    version: int
    policy: Policy
    state: SwitchState
    audit_head: tuple[int, str | None]
    change_due: datetime | None = None  # the earliest change waiting for its cooling-off
    audit_key: str | None = None  # the key that signs the owner's next audit entry
    next_due: datetime | None = None  # when the worker was to look at the switch next

    @property
    def owner_id(self) -> int:
        return self.owner.id


# Built once: on the check-in path, building a statement costs more than running it.
JOINED = select(switches, owners.c.email, owners.c.timezone, owners.c.language, owners.c.audit_seq,
                owners.c.audit_head, owners.c.audit_key).join(owners, owners.c.id == switches.c.owner_id)
SWITCH = JOINED.where(switches.c.owner_id == bindparam("owner_id"))
# FOR UPDATE locks the switch and its owner's row (the audit head) on PostgreSQL; SQLite
# ignores it, its writers being serialised by BEGIN IMMEDIATE.
SWITCH_LOCKED = SWITCH.with_for_update()
# The token, its owner and the switch in one round trip; only the switch and owner rows are locked.
SWITCH_FOR_TOKEN = JOINED.add_columns(api_tokens.c.id.label("token_id"), api_tokens.c.last_used_at.label(
    "token_used_at")).join(api_tokens, api_tokens.c.owner_id == switches.c.owner_id).where(
    api_tokens.c.token_hash == bindparam("digest")).with_for_update(of=[switches, owners])
SWITCH_BY_ID = JOINED.where(switches.c.id == bindparam("switch_id"))
SWITCH_BY_ID_SKIP = SWITCH_BY_ID.with_for_update(skip_locked=True)
NEXT_DUE = JOINED.where(switches.c.next_due_at.isnot(None), switches.c.next_due_at <= bindparam("now")).order_by(
    switches.c.next_due_at).limit(1).with_for_update(of=[switches, owners], skip_locked=True)


def loaded(row: Row[Any]) -> LoadedSwitch:
    """The switch of a row read by one of the statements above."""
    owner = accounts.Owner(row.owner_id, row.email, row.timezone, row.language)
    return LoadedSwitch(row.id, owner, row.version, policy_of(row.policy), state_from_dict(row.state),
                        (row.audit_seq, row.audit_head), row.change_due_at, row.audit_key, row.next_due_at)


@lru_cache(maxsize=4096)
def _parsed(canonical: str) -> Policy:
    return policy_from_dict(json.loads(canonical))


def policy_of(data: dict[str, Any]) -> Policy:
    """A stored policy, parsed once per distinct policy (policies are immutable values)."""
    return _parsed(json.dumps(data, sort_keys=True))


def next_due(policy: Policy, state: SwitchState, change_due: datetime | None) -> datetime | None:
    """When the worker must look at a switch: its next timer, or a held change's moment if sooner."""
    timer = next_timer(policy, state)
    found = [m for m in (timer.due if timer else None, change_due) if m is not None]
    return min(found) if found else None
