"""Durations as people write them: ``30d``, ``12h``, ``1w2d``, ``90m``, ``45s``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
          "m": timedelta(minutes=1), "s": timedelta(seconds=1)}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"-?(?:\d+[wdhms])+")


def parse_duration(text: str) -> timedelta:
    """Parse ``30d``/``1w2d``/``12h``; a leading ``-`` gives a negative duration.

    Raises ``ValueError`` whose message says what was expected and what arrived.
    """
    if not isinstance(text, str) or not _WHOLE.fullmatch(text.strip()):
        raise ValueError(f"expected a duration like 30d, 12h, 1w2d or 90m, got {text!r}")
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    total = sum((int(n) * _UNITS[u] for n, u in _PART.findall(text)), timedelta())
    return sign * total


def format_duration(delta: timedelta) -> str:
    """A duration as people write it, in days and smaller units: ``30d``, ``1d12h`` (``0s`` for zero)."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
