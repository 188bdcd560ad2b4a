"""Durations as people write them: ``30d``, ``12h``, ``1w2d``, ``90m``, ``45s``."""

from __future__ import annotations

import re
from datetime import timedelta

_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"-?(?:\d+[wdhms])+")
# The longest duration a ``timedelta`` holds; a field's own maximum is usually far shorter.
LONGEST = timedelta(days=999_999_999)
_DIGITS = len(str(int(LONGEST.total_seconds())))  # more digits than this is longer than LONGEST in any unit


def parse_duration(text: str, maximum: timedelta = LONGEST, minimum: timedelta = -LONGEST) -> timedelta:
    """Parse ``30d``/``1w2d``/``12h``; a leading ``-`` gives a negative duration.

    Raises ``ValueError`` whose message says what was expected and what arrived, also for a
    duration outside ``minimum``..``maximum``: the sum is counted in whole seconds first, so no
    spelling of a duration, however long, can overflow.
    """
    if not isinstance(text, str) or not _WHOLE.fullmatch(text.strip()):
        raise ValueError(f"expected a duration like 30d, 12h, 1w2d or 90m, got {shown(text)}")
    stripped = text.strip()
    sign = -1 if stripped.startswith("-") else 1
    parts = _PART.findall(stripped)
    # Numbers with more digits than the longest duration has seconds are out of range in any unit;
    # they are refused before int(), which would spend time on thousands of digits.
    huge = any(len(n.lstrip("0")) > _DIGITS for n, _ in parts)
    seconds = sign * (0 if huge else sum(int(n) * _SECONDS[u] for n, u in parts))
    if (huge and sign < 0) or seconds < minimum.total_seconds():
        what = "a duration of zero or more" if minimum == timedelta() else f"at least {format_duration(minimum)}"
        raise ValueError(f"expected {what}, got {shown(text)}")
    if huge or seconds > maximum.total_seconds():
        raise ValueError(f"expected at most {format_duration(maximum)}, got {shown(text)}")
    return timedelta(seconds=seconds)


def shown(value: object, limit: int = 40) -> str:
    """What arrived, for a message, as the person wrote it rather than as Python holds it: text in quotes
    (cut after ``limit`` characters, so a line stays a line), ``nothing`` for a missing or empty value,
    ``true``/``false``, a number as itself, and anything else by its kind (``a list``, ``an object``)."""
    if isinstance(value, str):
        return repr(value[:limit] + "…") if len(value) > limit else repr(value)
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return kind(value)


def kind(value: object) -> str:
    """What sort of value arrived, in a person's words: nothing, true/false, a number, text, a list, an object."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "something else"


def format_duration(delta: timedelta) -> str:
    """A duration as people write it, in days and smaller units: ``30d``, ``1d12h``; zero is ``0d``, the
    unit policies are written in (a stage ``after: 0d`` reads back as written)."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0d"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
