"""Which policy changes could bring a release earlier, and why (in plain words).

A change that only delays a release applies at once; one that could hasten it waits a
cooling-off (in ``baton``), because whoever holds a stolen token or session may make the
release later but must not make it earlier. The rule is conservative: whatever could bring
any moment of a release nearer, or open a release to someone new, counts:

- the check-in period: a shorter interval, and any change of calendar schedule (or a switch
  between interval and schedule), or of the time zone a schedule is read in;
- fewer warnings: a reminder removed, grace reminders less frequent or stopped;
- a shorter grace, a shorter confirmation window or none, a lower quorum, a verifier removed
  or given another address (who answers decides when the switch fires);
- the stages: one added, run sooner, with another action, or with someone added to its audience;
- a shorter waiting period for a release request.

``hastens(old, new) == ()`` means: for every history of check-ins, every moment of the new
policy's timeline (reminder, deadline, grace end, fire, each stage) comes no earlier than the
old one's, and no stage releases anything to anyone the old policy did not.
"""

from __future__ import annotations

from switch.durations import format_duration
from switch.policy import Policy


def hastens(old: Policy, new: Policy) -> tuple[str, ...]:
    """The reasons ``new`` could make a release earlier than ``old``; empty when it cannot."""
    reasons = _period(old, new) + _warnings(old, new) + _grace(old, new) + _confirm(old, new)
    reasons += _stages(old, new)
    if new.request_wait < old.request_wait:
        reasons += (f"a release request completes after {_d(new.request_wait)} instead of "
                    f"{_d(old.request_wait)}",)
    return reasons


_d = format_duration


def _period(old: Policy, new: Policy) -> tuple[str, ...]:
    if old.interval is not None and new.interval is not None:
        if new.interval < old.interval:
            return (f"check-ins every {_d(new.interval)} instead of {_d(old.interval)}",)
        return ()
    if old.schedule == new.schedule:  # a schedule carries its time zone
        return ()
    return ("a different check-in schedule",)


def _warnings(old: Policy, new: Policy) -> tuple[str, ...]:
    out: tuple[str, ...] = ()
    removed = sorted(set(old.reminders) - set(new.reminders), reverse=True)
    if removed:
        out += ("reminder(s) removed: " + ", ".join(f"{_d(r)} before the deadline" for r in removed),)
    before, after = old.grace_reminder_every, new.grace_reminder_every
    if before is not None and (after is None or after > before):
        out += ("fewer reminders during grace" + ("" if after is None else f" (every {_d(after)})"),)
    return out


def _grace(old: Policy, new: Policy) -> tuple[str, ...]:
    if new.grace < old.grace:
        return (f"grace of {_d(new.grace)} instead of {_d(old.grace)}",)
    return ()


def _confirm(old: Policy, new: Policy) -> tuple[str, ...]:
    if old.confirm is None:
        return ()
    if new.confirm is None:
        return ("no confirmation by verifiers",)
    out: tuple[str, ...] = ()
    if new.confirm.window < old.confirm.window:
        out += (f"a confirmation window of {_d(new.confirm.window)} instead of {_d(old.confirm.window)}",)
    if new.confirm.quorum < old.confirm.quorum:
        out += (f"a quorum of {new.confirm.quorum} instead of {old.confirm.quorum}",)
    kept = set(new.confirm.verifiers)
    changed = [v.name for v in old.confirm.verifiers if v not in kept]
    if changed:
        out += ("verifier(s) removed or given another address: " + ", ".join(changed),)
    return out


def _stages(old: Policy, new: Policy) -> tuple[str, ...]:
    before = {s.name: s for s in old.stages}
    out: tuple[str, ...] = ()
    for stage in new.stages:
        was = before.get(stage.name)
        if was is None:
            out += (f"a new stage {stage.name!r} ({stage.action}, {_d(stage.after)} after firing)",)
            continue
        if stage.after < was.after:
            out += (f"stage {stage.name!r} runs {_d(stage.after)} after firing instead of {_d(was.after)}",)
        if stage.action != was.action:
            out += (f"stage {stage.name!r} does {stage.action} instead of {was.action}",)
        added = [a for a in stage.audience if a not in was.audience]
        if added or (was.audience and not stage.audience and stage.action == "release"):
            # An empty audience of a release stage means every holder.
            out += (f"stage {stage.name!r} reaches more people: {', '.join(added) or 'every holder'}",)
    return out
