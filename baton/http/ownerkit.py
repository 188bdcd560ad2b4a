"""What every owner page shares: the signed-in session, the CSRF check, the page frame and the owner's clock.

``owner_pages`` builds one ``OwnerKit`` and hands it to the modules of each concept (policy, people,
readiness and drills), so each adds its routes without knowing how sessions or forms are checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from baton.services import accounts
from baton.services.switch import SwitchService
from baton.timeutil import local

Page = Callable[..., HTMLResponse]


@dataclass(frozen=True)
class Session:
    owner: accounts.Owner
    cookie: str
    totp: bool

    def __repr__(self) -> str:
        return f"Session(owner={self.owner.email!r}, cookie='***')"


class SignInFirst(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


class FormRefused(Exception):
    """A POST without a valid CSRF token or from another origin."""


@dataclass(frozen=True)
class OwnerKit:
    """``signed_in`` is the dependency that gives a route its ``Session``; ``checked`` refuses a form
    without the session's CSRF token; ``view`` renders ``pages/owner/<name>.html`` in the frame."""

    service: SwitchService
    signed_in: Callable[[Request], Session]
    checked: Callable[[Request, Session, str | None], None]
    view: Callable[..., HTMLResponse]
    page: Page

    def local_time(self, moment: datetime | str | None, session: Session) -> str:
        """A moment in the owner's time zone: 2026-02-19 11:00 CET ('' for none)."""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        return local(moment, session.owner.timezone) or ""


def countdown(until: datetime | None, now: datetime) -> str:
    """How long until a moment, as people say it: 'in 6 days, 4 hours', '3 hours ago'."""
    if until is None:
        return ""
    seconds = int((until - now).total_seconds())
    ahead = seconds >= 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in
             ((days, "day"), (hours, "hour"), (minutes, "minute")) if n][:2] or ["less than a minute"]
    text = ", ".join(parts)
    return f"in {text}" if ahead else f"{text} ago"


def field_errors(exc: Exception, fields: tuple[str, ...], default: str) -> dict[str, str]:
    """A service error's message placed next to the field it names ('email: expected …')."""
    message = str(exc)
    name = message.split(":", 1)[0].strip().replace("person name", "name")
    return {name if name in fields else default: message}


def text_of(value: Any) -> str:
    """A submitted form value as text ('' for a file or nothing)."""
    return value if isinstance(value, str) else ""
