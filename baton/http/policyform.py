"""The policy as a web form: fields people can type, to and from the policy mapping, and a preview.

A form field holds text: durations as ``7d``, lists as ``7d, 1d``, verifiers and stages one
per line. ``read_form`` builds the mapping, validates it with the switch core, and names the
form field a problem belongs to, so the page can show it next to that field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton.http import policywords
from switch import Event, Policy, PolicyError, Scenario, policy_from_dict, simulate

FIELDS = ("timezone", "mode", "interval", "schedule_every", "schedule_on", "schedule_at", "reminders", "grace",
          "grace_reminder_every", "confirm_window", "verifiers", "quorum", "stages", "max_pause", "request_wait")
PREVIEW_LIMIT = 60  # events shown; grace reminders every hour would otherwise fill the page

# A policy field's dotted path → the form field that edits it (longest prefix first).
_FIELD_OF = (("schedule.every", "schedule_every"), ("schedule.on", "schedule_on"), ("schedule.at", "schedule_at"),
             ("schedule", "schedule_every"), ("reminders", "reminders"),
             ("grace_reminder_every", "grace_reminder_every"),
             ("grace", "grace"), ("confirm.window", "confirm_window"), ("confirm.verifiers", "verifiers"),
             ("confirm.quorum", "quorum"), ("confirm", "confirm_window"), ("stages", "stages"),
             ("max_pause", "max_pause"), ("release_request", "request_wait"), ("timezone", "timezone"),
             ("interval", "interval"))


@dataclass
class PolicyForm:
    """What the form shows: the typed values, and a message per field that is wrong."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    policy: dict[str, Any] | None = None  # the valid mapping, when there are no errors


def form_values(policy: Mapping[str, Any]) -> dict[str, str]:
    """The form's fields for a stored policy (``policy_to_dict``'s shape)."""
    schedule = policy.get("schedule") or {}
    confirm = policy.get("confirm") or {}
    verifiers = []
    for item in confirm.get("verifiers", []):
        verifiers.append(f"{item['name']} <{item['email']}>" if isinstance(item, Mapping) else str(item))
    stages = []
    for stage in policy.get("stages", []):
        stages.append(", ".join([stage["name"], stage.get("after", "0d"), stage.get("action", "notify"),
                                 " ".join(stage.get("audience", []))]).rstrip(", "))
    return {
        "timezone": policy.get("timezone", "UTC"),
        "mode": "schedule" if schedule else "interval",
        "interval": policy.get("interval", ""),
        "schedule_every": schedule.get("every", ""),
        "schedule_on": ", ".join(str(d) for d in schedule.get("on", [])),
        "schedule_at": schedule.get("at", ""),
        "reminders": ", ".join(policy.get("reminders", [])),
        "grace": policy.get("grace", "0d"),
        "grace_reminder_every": policy.get("grace_reminder_every", ""),
        "confirm_window": confirm.get("window", ""),
        "verifiers": "\n".join(verifiers),
        "quorum": str(confirm.get("quorum", "")),
        "stages": "\n".join(stages),
        "max_pause": policy.get("max_pause", "90d"),
        "request_wait": (policy.get("release_request") or {}).get("wait", "7d"),
    }


def read_form(form: Mapping[str, str], check: Callable[[dict[str, Any]], Policy] = policy_from_dict) -> PolicyForm:
    """Validate a submitted form with ``check`` (the core's checks by default; the service adds its
    own); either ``policy`` is set, or ``errors`` names every field to fix, in the owner's words.

    The core stops at its first problem, so each problem found is set aside (its field given a
    neutral value, or its item of a list left out) and the rest checked again, until none is left:
    the owner sees every mistake at once, each next to its field."""
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    found: dict[str, list[str]] = {}
    trial = dict(values)
    for name, value in values.items():
        if len(value) > _limit(name):
            found[name] = [f"{_LABELS[name]}: at most {_limit(name):,} characters fit here; "
                           f"what was typed has {len(value):,}."]
            trial.update(_neutral(name))
    skipped: dict[str, set[int]] = {name: set() for name in _LISTS}
    data: dict[str, Any] | None = None
    for _round in range(200):  # each round sets a field or an item aside: bounded by what was typed
        listed = {name: [(i, item) for i, item in enumerate(_split(name, trial[name])) if i not in skipped[name]]
                  for name in _LISTS}
        try:
            data = _mapping(trial, listed)
            check(data)
            break
        except PolicyError as exc:
            data = None
            where, path = form_field(exc.field), exc.field
            item = _INDEXED.match(path)
            stuck = False
            if where in _LISTS and item is not None and item["list"] == _LISTS[where] \
                    and int(item["index"]) < len(listed[where]):
                original = listed[where][int(item["index"])][0]
                path = f"{item['list']}[{original}]{item['rest']}"
                skipped[where].add(original)
            else:
                stuck = all(trial.get(k) == v for k, v in _neutral(where).items())
                trial.update(_neutral(where))
            found.setdefault(where, []).append(policywords.owner_words(path, exc.detail))
            if stuck:
                break  # a neutral value still refused: nothing more can be told apart
    if found or data is None:
        shown = {name: policywords.capped(value, _limit(name)) for name, value in values.items()}
        return PolicyForm(shown, {name: "\n".join(lines) for name, lines in found.items()})
    return PolicyForm(values, policy=data)


def form_field(policy_field: str) -> str:
    for prefix, name in _FIELD_OF:
        if policy_field == prefix or policy_field.startswith((prefix + ".", prefix + "[")):
            return name
    return "interval"


# Lists typed in one field: the form field → the policy's path of its items.
_LISTS = {"reminders": "reminders", "schedule_on": "schedule.on", "verifiers": "confirm.verifiers",
          "stages": "stages"}
_INDEXED = re.compile(r"^(?P<list>reminders|schedule\.on|confirm\.verifiers|stages)\[(?P<index>\d+)\](?P<rest>.*)$")
_LABELS = {"timezone": "Time zone", "mode": "Check in", "interval": "Interval", "schedule_every": "Schedule: every",
           "schedule_on": "Schedule: on", "schedule_at": "Schedule: at", "reminders": "Reminders before the deadline",
           "grace": "Grace after the deadline", "grace_reminder_every": "Remind during grace every",
           "confirm_window": "Ask verifiers for", "verifiers": "Verifiers", "quorum": "Quorum", "stages": "Stages",
           "max_pause": "Longest pause", "request_wait": "A release request waits"}
_LONG = ("verifiers", "stages")  # text areas, one item a line


def _limit(name: str) -> int:
    return 5000 if name in _LONG else policywords.ECHOED


def _neutral(name: str) -> dict[str, str]:
    """Values that set a wrong field aside, so the other fields can still be checked."""
    if name in ("mode", "interval", "schedule_every", "schedule_on", "schedule_at"):
        return {"mode": "interval", "interval": "3650d"}  # the longest: no reminder is refused because of it
    if name == "verifiers":
        return {"confirm_window": "", "verifiers": "", "quorum": ""}
    return {name: {"timezone": "UTC", "grace": "0d", "confirm_window": "1d", "max_pause": "90d",
                   "request_wait": "7d"}.get(name, "")}


def _split(name: str, text: str) -> list[str]:
    return _lines(text) if name in _LONG else _items(text)


def _mapping(values: dict[str, str], listed: dict[str, list[tuple[int, str]]]) -> dict[str, Any]:
    data: dict[str, Any] = {"timezone": values["timezone"] or "UTC"}
    if values["mode"] == "schedule":
        schedule: dict[str, Any] = {"every": values["schedule_every"], "at": values["schedule_at"] or "09:00"}
        days = [day for _, day in listed["schedule_on"]]
        if days:
            schedule["on"] = [int(d) if d.isdigit() else d for d in days]
        data["schedule"] = schedule
    elif values["mode"] == "interval":
        data["interval"] = values["interval"]
    else:
        raise PolicyError("interval", f"expected a check-in every interval or on a schedule, got {values['mode']!r}")
    data["reminders"] = [item for _, item in listed["reminders"]]
    data["grace"] = values["grace"] or "0d"
    if values["grace_reminder_every"]:
        data["grace_reminder_every"] = values["grace_reminder_every"]
    if values["confirm_window"] or values["verifiers"]:
        confirm: dict[str, Any] = {"window": values["confirm_window"], "verifiers": _verifiers(listed["verifiers"])}
        if values["quorum"]:
            if not values["quorum"].isdigit():
                raise PolicyError("confirm.quorum", f"expected a whole number of 1 or more, got {values['quorum']!r}")
            confirm["quorum"] = int(values["quorum"])
        data["confirm"] = confirm
    data["stages"] = _stages(listed["stages"])
    data["max_pause"] = values["max_pause"] or "90d"
    data["release_request"] = {"wait": values["request_wait"] or "7d"}
    return data


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _verifiers(lines: list[tuple[int, str]]) -> list[Any]:
    """One verifier per line: ``Ana <ana@example.org>``, ``Ana, ana@example.org`` or just ``Ana``."""
    found: list[Any] = []
    for position, (_, line) in enumerate(lines):
        if "<" in line and line.endswith(">"):
            name, _, email = line[:-1].partition("<")
        elif "," in line:
            name, _, email = line.partition(",")
        else:
            name, email = line, ""
        name, email = name.strip(), email.strip()
        if not name:
            raise PolicyError(f"confirm.verifiers[{position}]", f"expected a name first, like "
                              f"'Ana <ana@example.org>', got {line!r}")
        found.append({"name": name, "email": email} if email else name)
    return found


def _stages(lines: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """One stage per line: ``name, after, action, audience`` — audience names separated by spaces."""
    stages = []
    for position, (_, line) in enumerate(lines):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 or len(parts) > 4 or not parts[0]:
            raise PolicyError(f"stages[{position}]", "expected 'name, after, action, audience' like "
                              f"'heirs, 0d, release', got {line!r}")
        stage: dict[str, Any] = {"name": parts[0], "after": parts[1]}
        if len(parts) > 2 and parts[2]:
            stage["action"] = parts[2]
        if len(parts) > 3 and parts[3]:
            stage["audience"] = parts[3].split()
        stages.append(stage)
    return stages


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True, slots=True)
class PreviewLine:
    at: datetime
    after: timedelta  # from now
    event: Event


def preview(policy: Policy, now: datetime) -> tuple[list[PreviewLine], bool]:
    """What happens if the owner never checks in again, from ``now`` to the last stage; and
    whether the list was cut at ``PREVIEW_LIMIT``."""
    # A schedule's first deadline may be up to a month away (its shortest gap says less).
    period = policy.interval or timedelta(days=32)
    confirm = policy.confirm.window if policy.confirm else timedelta()
    last_stage = max((s.after for s in policy.stages), default=timedelta())
    until = now + 2 * period + policy.grace + confirm + last_stage + timedelta(days=1)
    lines = []
    for event in simulate(Scenario(start=now, until=until, policy=policy, inputs=())):
        lines.append(PreviewLine(event.at, event.at - now, event))
        if len(lines) > PREVIEW_LIMIT:
            return lines[:PREVIEW_LIMIT], True
    return lines, False
