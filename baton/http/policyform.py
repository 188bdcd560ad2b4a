"""The policy as a web form: fields people can type, to and from the policy mapping, and a preview.

A form field holds text: durations as ``7d``, lists as ``7d, 1d``, verifiers and stages one
per line. ``read_form`` builds the mapping, validates it with the switch core, and names the
form field a problem belongs to, so the page can show it next to that field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
        "grace": policy.get("grace", "0s"),
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
    own); either ``policy`` is set, or ``errors`` names the fields to fix."""
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    try:
        data = _mapping(values)
        check(data)
    except PolicyError as exc:
        return PolicyForm(values, {form_field(exc.field): f"{exc.field}: {exc.detail}"})
    return PolicyForm(values, policy=data)


def form_field(policy_field: str) -> str:
    for prefix, name in _FIELD_OF:
        if policy_field == prefix or policy_field.startswith((prefix + ".", prefix + "[")):
            return name
    return "interval"


def _mapping(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"timezone": values["timezone"] or "UTC"}
    if values["mode"] == "schedule":
        schedule: dict[str, Any] = {"every": values["schedule_every"], "at": values["schedule_at"] or "09:00"}
        days = _items(values["schedule_on"])
        if days:
            schedule["on"] = [int(d) if d.isdigit() else d for d in days]
        data["schedule"] = schedule
    elif values["mode"] == "interval":
        data["interval"] = values["interval"]
    else:
        raise PolicyError("interval", f"expected a check-in every interval or on a schedule, got {values['mode']!r}")
    data["reminders"] = _items(values["reminders"])
    data["grace"] = values["grace"] or "0s"
    if values["grace_reminder_every"]:
        data["grace_reminder_every"] = values["grace_reminder_every"]
    if values["confirm_window"] or values["verifiers"]:
        confirm: dict[str, Any] = {"window": values["confirm_window"], "verifiers": _verifiers(values["verifiers"])}
        if values["quorum"]:
            if not values["quorum"].isdigit():
                raise PolicyError("confirm.quorum", f"expected a whole number of 1 or more, got {values['quorum']!r}")
            confirm["quorum"] = int(values["quorum"])
        data["confirm"] = confirm
    data["stages"] = _stages(values["stages"])
    data["max_pause"] = values["max_pause"] or "90d"
    data["release_request"] = {"wait": values["request_wait"] or "7d"}
    return data


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _verifiers(text: str) -> list[Any]:
    """One verifier per line: ``Ana <ana@example.org>``, ``Ana, ana@example.org`` or just ``Ana``."""
    found: list[Any] = []
    for number, line in enumerate(_lines(text), start=1):
        if "<" in line and line.endswith(">"):
            name, _, email = line[:-1].partition("<")
        elif "," in line:
            name, _, email = line.partition(",")
        else:
            name, email = line, ""
        name, email = name.strip(), email.strip()
        if not name:
            raise PolicyError("confirm.verifiers", f"line {number}: expected a name first, like "
                              f"'Ana <ana@example.org>', got {line!r}")
        found.append({"name": name, "email": email} if email else name)
    return found


def _stages(text: str) -> list[dict[str, Any]]:
    """One stage per line: ``name, after, action, audience`` — audience names separated by spaces."""
    stages = []
    for number, line in enumerate(_lines(text), start=1):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 or len(parts) > 4 or not parts[0]:
            raise PolicyError("stages", f"line {number}: expected 'name, after, action, audience' like "
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
