"""A switch waking from a backup: time it could not see never hastens a release.

A backup may lie on the shelf for weeks, and the owner may have checked in on the deployment that was
lost; those check-ins are not in the backup. So when a restored switch wakes at ``now``, what the clock
alone would have done during the shelf does not happen at once: a deadline that passed counts as reached
at ``now`` (the owner gets the whole grace with its reminders, then the verifiers their whole window,
before the switch can fire), a pause that ended re-arms at its end and its deadline is treated the same,
and a release request whose waiting period ended restarts it at ``now``. A switch still before its
deadline, or in a grace or confirmation window that has not ended, is left as it was. A switch that had
already fired (after its grace and verifiers, before the backup) keeps its stages' schedule.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from switch.machine import Status, SwitchState, arm, fire_moment, iso
from switch.policy import Policy

_BEFORE_FIRING = (Status.ARMED, Status.GRACE, Status.CONFIRMING)


def wake_after_shelf(policy: Policy, state: SwitchState, now: datetime) -> tuple[SwitchState, str | None]:
    """The state a switch restored at ``now`` continues from, and why it changed (None: unchanged)."""
    changed = state
    notes = []
    if changed.status is Status.PAUSED and changed.paused_until is not None and changed.paused_until <= now:
        changed = arm(policy, changed.paused_until, cycle=changed.cycle)
        notes.append(f"the pause ended at {iso(state.paused_until or now)}")
    if changed.status not in _BEFORE_FIRING:
        return state, None
    if changed.request_at is not None and changed.request_at + policy.request_wait <= now:
        notes.append(f"the release request's waiting period restarts at {iso(now)}")
        changed = replace(changed, request_at=now)
    ends = {Status.ARMED: changed.deadline, Status.GRACE: changed.deadline + policy.grace,
            Status.CONFIRMING: fire_moment(policy, changed)}[changed.status]
    overdue = ends <= now  # the next step toward firing came due on the shelf
    if overdue:
        notes.append(f"the deadline {iso(changed.deadline)} passed while the backup lay on the shelf; it counts "
                     f"as reached at {iso(now)}, with the whole grace and confirmation after it")
        changed = replace(changed, status=Status.ARMED, deadline=now, reminders_sent=len(policy.reminders),
                          grace_sent=0, votes=())
    if changed == state:
        return state, None
    return changed, "; ".join(notes)
