"""The switch's events as the owner reads them: kinds in words, moments in the owner's time zone.

The timeline stores the core's vocabulary (``grace_reminder``) and reasons with UTC moments in
ISO 8601 (``deadline 2027-01-01T17:34:07.243284Z in 7d``): exact for the API and the audit, but
a page shows ``Reminder`` and ``deadline 2027-01-01 18:34 CET in 7d``.
"""

from __future__ import annotations

import re
from datetime import datetime

from baton.timeutil import local

KINDS = {
    "checkin": "Checked in", "reminder": "Reminder", "deadline": "Deadline missed",
    "grace_reminder": "Reminder during grace", "confirm_requested": "Verifiers asked", "vote": "A verifier answered",
    "fired": "Switch fired", "stage": "Stage ran", "cancelled": "Release stopped", "paused": "Paused",
    "resumed": "Resumed", "release_requested": "Release requested", "refused": "Release request refused",
}
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})")


def kind_words(kind: str) -> str:
    """``grace_reminder`` → ``Reminder during grace``; a kind not listed reads with its underscores as spaces."""
    return KINDS.get(kind, kind.replace("_", " ").replace(".", ": ").capitalize())


def in_zone(text: str, timezone: str) -> str:
    """``text`` with every ISO 8601 moment in it written in ``timezone`` (2027-01-01 18:34 CET)."""
    def shown(found: re.Match[str]) -> str:
        try:
            moment = datetime.fromisoformat(found.group(0).replace("Z", "+00:00"))
        except ValueError:
            return found.group(0)
        return local(moment, timezone) or found.group(0)
    return _MOMENT.sub(shown, text)
