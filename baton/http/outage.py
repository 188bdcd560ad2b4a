"""When the database cannot be reached: 503, saying plainly whether the request was recorded.

A connection refused, a server gone, a connection cut in the middle of a transaction: SQLAlchemy
raises ``OperationalError`` or ``InterfaceError`` (and its ``TimeoutError`` when every pooled
connection is taken), and the transaction the request was in never committed, so nothing of it
was recorded: the answer says so (a check-in by name), and to try again. The one case where
that is not known is a connection lost while committing (the server may have committed just
before it went): the engine's events mark such an error, and the answer says it may not have
been recorded. Every change is one transaction, and a vault upload removes its file when its
transaction fails, so nothing is left half-written either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from baton.http.pagelanguage import (
    CHECKIN_MAYBE_RECORDED,
    CHECKIN_NOT_RECORDED,
    MAYBE_RECORDED,
    NOT_RECORDED,
    NOT_SHOWN,
)

log = logging.getLogger("baton.http")
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
RETRY_AFTER = "120"  # seconds; "a few minutes" in the messages
API_NOT_READ = "the database cannot be reached right now, so nothing could be read; try again in a few minutes"
CHECKINS = frozenset({"/api/checkin", "/checkin"})  # and every check-in link (/l/…)

_COMMITTING = "baton_committing"  # on a connection's info: its COMMIT was sent
_UNKNOWN = "baton_outcome_unknown"  # on an error: raised by a COMMIT, whose outcome is not known


def watch(engine: Engine) -> None:
    """Mark the errors raised while committing (engine events; once per engine)."""
    if event.contains(engine, "handle_error", _on_error):
        return
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "handle_error", _on_error)


def _on_begin(conn: Connection) -> None:
    conn.info.pop(_COMMITTING, None)


def _on_commit(conn: Connection) -> None:
    conn.info[_COMMITTING] = True


def _on_error(context: ExceptionContext) -> None:
    # A COMMIT that fails has no statement of its own; BEGIN, SELECT, INSERT… always have one.
    if context.statement is None and context.connection is not None and context.sqlalchemy_exception is not None:
        try:
            committing = bool(context.connection.info.get(_COMMITTING))
        except Exception:  # noqa: BLE001 - a connection already closed: then it did not commit here either
            committing = False
        if committing:
            setattr(context.sqlalchemy_exception, _UNKNOWN, True)


def message(request: Request, exc: Exception) -> str:
    """What the person is told: whether what they did was recorded (a check-in by name)."""
    path = request.url.path
    if request.method in ("GET", "HEAD"):
        return API_NOT_READ if path.startswith("/api/") else NOT_SHOWN
    checkin = request.method == "POST" and (path in CHECKINS or path.startswith("/l/"))
    if getattr(exc, _UNKNOWN, False):
        return CHECKIN_MAYBE_RECORDED if checkin else MAYBE_RECORDED
    return CHECKIN_NOT_RECORDED if checkin else NOT_RECORDED


def install(app: FastAPI, engine: Engine, answer: Callable[..., Response]) -> None:
    """Answer 503 (problem JSON on the API, a page elsewhere: ``answer``) to a database out of reach."""
    watch(engine)

    async def unavailable(request: Request, exc: Exception) -> Response:
        route: Any = request.scope.get("route")
        cause = getattr(exc, "orig", None) or exc
        said = (str(cause).strip().splitlines() or [""])[0][:200]
        # The route's template, never the path: a link's path is its token.
        log.warning("database unreachable during %s %s: %s: %s%s", request.method, getattr(route, "path", "?"),
                    type(cause).__name__, said, " (while committing)" if getattr(exc, _UNKNOWN, False) else "")
        return answer(request, 503, message(request, exc), headers={"Retry-After": RETRY_AFTER})

    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, unavailable)
