"""A policy problem in the words an owner reads on the policy page.

The switch core says precisely where and what (``reminders[1]: expected less than the interval
(30d), got '45d'``): that stays the API's and the command line's answer. On the page the same
problem is said the way a person fills in a form: the field by its label, the item by its
position counted from 1, and what to type instead.
"""

from __future__ import annotations

import re

ECHOED = 200  # at most this many characters of what was typed are shown back in a page

_LABELS = {
    "interval": "Interval", "timezone": "Time zone", "grace": "Grace after the deadline",
    "grace_reminder_every": "Remind during grace every", "max_pause": "Longest pause",
    "release_request": "A release request waits", "release_request.wait": "A release request waits",
    "confirm": "Verifiers", "confirm.window": "Ask verifiers for", "confirm.quorum": "Quorum",
    "confirm.verifiers": "Verifiers", "reminders": "Reminders before the deadline", "stages": "Stages",
    "schedule": "Schedule", "schedule.every": "Schedule: every", "schedule.at": "Schedule: at",
    "schedule.on": "Schedule: on",
}
_ITEM = re.compile(r"^(?P<list>reminders|schedule\.on|confirm\.verifiers|stages)\[(?P<index>\d+)\](?P<rest>.*)$")
_PART = {".after": "its delay", ".action": "its action", ".name": "its name", ".email": "its e-mail address"}
_DURATION_HINT = "Write a duration like 30d (days), 2w (weeks), 36h (hours) or 90m (minutes)."


def capped(text: str, limit: int = ECHOED) -> str:
    """``text`` as echoed back into a page: its first ``limit`` characters, then an ellipsis."""
    return text if len(text) <= limit else text[:limit] + "…"


def subject(path: str) -> str:
    """The field a policy path names, as the form labels it: ``reminders[1]`` → ``Reminder 2``."""
    found = _ITEM.match(path)
    if found is None:
        return _LABELS.get(path, path.replace("_", " ").capitalize())
    number = int(found["index"]) + 1
    listed = found["list"]
    rest = found["rest"]
    if listed == "reminders":
        return f"Reminder {number}"
    if listed == "schedule.on":
        return f"Schedule: day {number}"
    what = "Verifier" if listed == "confirm.verifiers" else "Stage"
    named = f"{what} on line {number}"
    audience = re.fullmatch(r"\.audience\[(\d+)\]", rest)
    if audience:
        return f"{named}, audience member {int(audience[1]) + 1}"
    return f"{named}, {_PART[rest]}" if rest in _PART else named


def owner_words(path: str, detail: str) -> str:
    """One sentence (or two) saying what is wrong with a policy field and what to type instead."""
    who = subject(path)
    detail = detail.removeprefix(f"{path}: ")
    got = _got(detail)
    if detail == "unknown field":
        return f"{who}: Baton does not know this setting; remove it."
    if detail == "expected exactly one of interval or schedule":
        return f"{who}: choose either an interval or a calendar schedule."
    found = re.fullmatch(r"expected less than the (interval|shortest gap of the schedule) \((\S+)\), got .*", detail,
                         re.S)
    if found:
        return (f"{who} ({got}) is not shorter than the {found[1]} ({found[2]}): a reminder comes that long before "
                f"the deadline, so it must be shorter than {found[2]}.")
    found = re.fullmatch(r"expected at most (\S+), got .*", detail, re.S)
    if found:
        return f"{who} ({got}) is too long: the most Baton accepts is {found[1]} (ten years)."
    if detail.startswith("expected a duration longer than zero"):
        return f"{who} cannot be zero: {_DURATION_HINT}"
    if detail.startswith("expected a duration like"):
        if got == "":
            return f"{who} is empty. {_DURATION_HINT}"
        return f"{who}: “{got}” is not a duration. {_DURATION_HINT}"
    found = re.fullmatch(r"(line \d+: )?expected (?P<what>.+?), got (?P<got>.*)", detail, re.S)
    if found:
        line = "" if _ITEM.match(path) else (found.group(1) or "")
        what = found["what"]
        if got == "":
            return f"{who} is empty: it should be {what}."
        shown = got if got else found["got"]
        return f"{who}: {line}it should be {what}, not “{shown}”."
    return f"{who}: {detail}"


def _got(detail: str) -> str:
    """What was typed, as the core quoted it (``got '45d'``), without the quotes; capped."""
    found = re.search(r", got (?P<quote>['\"])(?P<text>.*)(?P=quote)$", detail, re.S)
    return capped(found["text"]) if found else ""
