"""The check-in policy: interval or calendar schedule, reminders, grace, confirmation, stages.

``policy_from_dict`` validates a policy as people write it (JSON or YAML) and raises a
``PolicyError`` naming the first bad field; ``policy_to_dict`` writes it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switch.durations import format_duration, kind, parse_duration, shown
from switch.errors import PolicyError
from switch.schedule import WEEKDAYS, CalendarSchedule

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_MAX_PAUSE = timedelta(days=90)
DEFAULT_REQUEST_WAIT = timedelta(days=7)
# Every duration field is at most ten years. The longest chain of them a switch can follow —
# a pause of max_pause, then the interval (or a schedule's month), grace, the confirmation
# window and the last stage — is then about fifty years (``LONGEST_CHAIN``), so from any moment
# the machine takes as input (before ``switch.machine.LATEST``) no moment it computes reaches
# the year 9999, where ``datetime`` ends.
MAX_DURATION = timedelta(days=3650)
SCHEDULE_SPAN = timedelta(days=64)  # a schedule's next moment after a check-in: lead < gap <= a month, twice
LONGEST_CHAIN = 5 * MAX_DURATION + SCHEDULE_SPAN


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted contact asked, during the confirmation window, if the owner is unreachable."""

    name: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Confirm:
    """The confirmation window: verifiers asked at its start; ``quorum`` may fire early."""

    window: timedelta
    verifiers: tuple[Verifier, ...]
    quorum: int


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the release: runs ``after`` the switch fired, for its ``audience``."""

    name: str
    after: timedelta
    audience: tuple[str, ...] = ()
    action: str = "notify"


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated switch policy. Exactly one of ``interval`` and ``schedule`` is set."""

    timezone: str
    interval: timedelta | None = None
    schedule: CalendarSchedule | None = None
    reminders: tuple[timedelta, ...] = ()  # offsets before the deadline, largest first
    grace: timedelta = timedelta()
    grace_reminder_every: timedelta | None = None
    confirm: Confirm | None = None
    stages: tuple[Stage, ...] = ()  # in running order (by ``after``, stable)
    max_pause: timedelta = DEFAULT_MAX_PAUSE
    request_wait: timedelta = DEFAULT_REQUEST_WAIT

    @property
    def lead(self) -> timedelta:
        """How long before a scheduled moment a check-in already counts for it."""
        return self.reminders[0] if self.reminders else timedelta()


_KEYS = {"interval", "schedule", "timezone", "reminders", "grace", "grace_reminder_every",
         "confirm", "stages", "max_pause", "release_request"}


def _duration(value: Any, name: str, *, allow_zero: bool = True) -> timedelta:
    try:
        delta = parse_duration(value, maximum=MAX_DURATION, minimum=timedelta())
    except ValueError as exc:
        raise PolicyError(name, str(exc)) from None
    if not allow_zero and delta == timedelta():
        raise PolicyError(name, f"expected a duration longer than zero, got {shown(value)}")
    return delta


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise PolicyError("timezone", f"expected an IANA time zone like Europe/Rome, got {shown(value)}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError("timezone",
                          f"expected an IANA time zone like Europe/Rome, got {shown(value)}") from None
    return value


def _schedule(value: Any, timezone: str) -> CalendarSchedule:
    if not isinstance(value, Mapping):
        raise PolicyError("schedule", f"expected an object like {{\"every\": \"week\", "
                          f"\"on\": [\"mon\"], \"at\": \"09:00\"}}, got {shown(value)}")
    unknown = set(value) - {"every", "on", "at"}
    if unknown:
        raise PolicyError(f"schedule.{sorted(unknown)[0]}", "unknown field")
    every = value.get("every")
    if every not in ("day", "week", "month"):
        raise PolicyError("schedule.every", f"expected day, week or month, got {shown(every)}")
    at_text = value.get("at", "09:00")
    try:
        at: time | None = time.fromisoformat(at_text)
    except (TypeError, ValueError):
        at = None
    # Hours and minutes of the owner's wall clock only: the policy's time zone would silently
    # override an offset, and policy_to_dict writes HH:MM, so seconds would not survive it.
    if at is None or at.tzinfo is not None or at.second or at.microsecond:
        raise PolicyError("schedule.at", f"expected a time like 09:00, got {shown(at_text)}")
    on_raw = value.get("on", [])
    if not isinstance(on_raw, list):
        on_raw = [on_raw]
    on: list[int] = []
    for i, item in enumerate(on_raw):
        if every == "week":
            day = item.strip().lower() if isinstance(item, str) else ""
            if day not in WEEKDAYS and day not in WEEKDAY_NAMES:
                raise PolicyError(f"schedule.on[{i}]",
                                  f"expected a weekday like mon or thursday, got {shown(item)}")
            on.append(WEEKDAYS.index(day[:3]))
        elif every == "month":
            if not isinstance(item, int) or isinstance(item, bool) or not 1 <= item <= 31:
                raise PolicyError(f"schedule.on[{i}]", f"expected a day of month 1..31, got {shown(item)}")
            on.append(item)
        else:
            raise PolicyError("schedule.on", "a daily schedule takes no days")
    if every != "day" and not on:
        raise PolicyError("schedule.on", f"expected at least one day for every {every}, got none")
    return CalendarSchedule(every=every, at=at, timezone=timezone, on=tuple(sorted(set(on))))


def _confirm(value: Any) -> Confirm:
    if not isinstance(value, Mapping):
        raise PolicyError("confirm", f"expected an object with window, verifiers and quorum, got {shown(value)}")
    unknown = set(value) - {"window", "verifiers", "quorum"}
    if unknown:
        raise PolicyError(f"confirm.{sorted(unknown)[0]}", "unknown field")
    window = _duration(value.get("window"), "confirm.window")
    raw = value.get("verifiers")
    if not isinstance(raw, list) or not raw:
        raise PolicyError("confirm.verifiers", f"expected a list of at least one verifier, got {shown(raw)}")
    verifiers: list[Verifier] = []
    for i, item in enumerate(raw):
        if isinstance(item, str) and item.strip():
            verifiers.append(Verifier(item.strip()))
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str) and item["name"].strip():
            email = item.get("email")
            if email is not None and (not isinstance(email, str) or "@" not in email):
                raise PolicyError(f"confirm.verifiers[{i}].email",
                                  f"expected an e-mail address, got {shown(email)}")
            verifiers.append(Verifier(item["name"].strip(), email))
        else:
            raise PolicyError(f"confirm.verifiers[{i}]",
                              f"expected a name or {{\"name\": ..., \"email\": ...}}, got {shown(item)}")
    names = [v.name for v in verifiers]
    if len(set(names)) != len(names):
        raise PolicyError("confirm.verifiers", f"expected distinct names, got {_twice(names)}")
    quorum = value.get("quorum", len(verifiers))
    if not isinstance(quorum, int) or isinstance(quorum, bool) or quorum < 1:
        raise PolicyError("confirm.quorum", f"expected a whole number of 1 or more, got {shown(quorum)}")
    if quorum > len(verifiers):
        raise PolicyError("confirm.quorum",
                          f"expected at most {len(verifiers)} (the number of verifiers), got {quorum}")
    return Confirm(window=window, verifiers=tuple(verifiers), quorum=quorum)


def _stages(value: Any) -> tuple[Stage, ...]:
    if not isinstance(value, list):
        raise PolicyError("stages", f"expected a list of stages, got {shown(value)}")
    stages: list[Stage] = []
    for i, item in enumerate(value):
        where = f"stages[{i}]"
        if not isinstance(item, Mapping):
            raise PolicyError(where, f"expected an object with name and after, got {shown(item)}")
        unknown = set(item) - {"name", "after", "audience", "action"}
        if unknown:
            raise PolicyError(f"{where}.{sorted(unknown)[0]}", "unknown field")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(f"{where}.name", f"expected a stage name, got {shown(name)}")
        audience = item.get("audience", [])
        if not isinstance(audience, list) or not all(isinstance(a, str) and a for a in audience):
            raise PolicyError(f"{where}.audience",
                              f"expected a list of names or e-mail addresses, got {shown(audience)}")
        action = item.get("action", "notify")
        if not isinstance(action, str) or not action:
            raise PolicyError(f"{where}.action", f"expected an action name like notify, got {shown(action)}")
        stages.append(Stage(name.strip(), _duration(item.get("after", "0d"), f"{where}.after"),
                            tuple(audience), action))
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise PolicyError("stages", f"expected distinct stage names, got {_twice(names)}")
    return tuple(sorted(stages, key=lambda s: s.after))


def _twice(names: list[str]) -> str:
    """The names given more than once, as a message shows them: ``'ana' twice``."""
    counts = {name: names.count(name) for name in names}
    return ", ".join(f"{name!r} {'twice' if n == 2 else f'{n} times'}" for name, n in counts.items() if n > 1)


def policy_from_dict(data: Any) -> Policy:
    """Validate a policy written as a mapping; raise ``PolicyError`` naming the bad field."""
    if not isinstance(data, Mapping):
        raise PolicyError("policy", f"expected an object (interval, reminders, grace, stages…), got {kind(data)}")
    unknown = set(data) - _KEYS
    if unknown:
        raise PolicyError(sorted(unknown)[0], "unknown field")
    timezone = _timezone(data.get("timezone", "UTC"))
    interval = schedule = None
    if ("interval" in data) == ("schedule" in data):
        raise PolicyError("interval", "expected exactly one of interval or schedule")
    if "interval" in data:
        interval = _duration(data["interval"], "interval", allow_zero=False)
        period = interval
    else:
        schedule = _schedule(data["schedule"], timezone)
        period = schedule.shortest_gap()
    raw_reminders = data.get("reminders", [])
    if not isinstance(raw_reminders, list):
        raise PolicyError("reminders", f"expected a list of durations, got {shown(raw_reminders)}")
    reminders = []
    for i, item in enumerate(raw_reminders):
        offset = _duration(item, f"reminders[{i}]", allow_zero=False)
        if offset >= period:
            what = "interval" if interval else "shortest gap of the schedule"
            raise PolicyError(f"reminders[{i}]", f"expected less than the {what} "
                              f"({format_duration(period)}), got {shown(item)}")
        reminders.append(offset)
    every = data.get("grace_reminder_every")
    # Absent or zero: no reminders during grace beyond the alert at the deadline.
    grace_every = None if every is None else _duration(every, "grace_reminder_every") or None
    request = data.get("release_request", {})
    if not isinstance(request, Mapping) or set(request) - {"wait"}:
        raise PolicyError("release_request", f"expected {{\"wait\": \"7d\"}}, got {shown(request)}")
    return Policy(
        timezone=timezone, interval=interval, schedule=schedule,
        reminders=tuple(sorted(set(reminders), reverse=True)),
        grace=_duration(data.get("grace", "0d"), "grace"),
        grace_reminder_every=grace_every,
        confirm=_confirm(data["confirm"]) if data.get("confirm") is not None else None,
        stages=_stages(data.get("stages", [])),
        max_pause=_duration(data.get("max_pause", "90d"), "max_pause", allow_zero=False),
        request_wait=_duration(request.get("wait", "7d"), "release_request.wait", allow_zero=False),
    )


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """The mapping ``policy_from_dict`` reads back to an equal policy."""
    out: dict[str, Any] = {"timezone": policy.timezone}
    if policy.interval is not None:
        out["interval"] = format_duration(policy.interval)
    if policy.schedule is not None:
        s = policy.schedule
        out["schedule"] = {"every": s.every, "at": s.at.strftime("%H:%M")}
        if s.every == "week":
            out["schedule"]["on"] = [WEEKDAYS[d] for d in s.on]
        elif s.every == "month":
            out["schedule"]["on"] = list(s.on)
    out["reminders"] = [format_duration(r) for r in policy.reminders]
    out["grace"] = format_duration(policy.grace)
    if policy.grace_reminder_every:
        out["grace_reminder_every"] = format_duration(policy.grace_reminder_every)
    if policy.confirm:
        out["confirm"] = {
            "window": format_duration(policy.confirm.window),
            "verifiers": [{"name": v.name, "email": v.email} if v.email else v.name
                          for v in policy.confirm.verifiers],
            "quorum": policy.confirm.quorum,
        }
    out["stages"] = [{"name": s.name, "after": format_duration(s.after),
                      "audience": list(s.audience), "action": s.action} for s in policy.stages]
    out["max_pause"] = format_duration(policy.max_pause)
    out["release_request"] = {"wait": format_duration(policy.request_wait)}
    return out
