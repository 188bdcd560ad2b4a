"""Request bodies have a size limit, enforced before they are read.

Every route has one (settings): ``max_body_bytes`` for forms and JSON, ``max_import_bytes``
for a register import, ``max_compartment_bytes`` for a vault upload. A request whose
``Content-Length`` is over it is answered 413 before the application sees it; a body sent
without one (chunked) is counted as it streams and refused the moment it passes the limit,
so a form parser never spools more than the limit to a temporary file, and never anything
for a route that does not read its body.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baton.settings import Settings

VAULT_FILE = re.compile(r"/api/vault/compartments/[^/]+/file")
IMPORTS = frozenset({("POST", "/api/register/import"), ("POST", "/register"),
                     ("POST", "/api/register/domains/observed")})  # the last: RDAP's view of every domain


class BodyTooLarge(HTTPException):
    """A request body over its route's limit; ``size`` is its Content-Length, None while it streams."""

    def __init__(self, limit: int, size: int | None) -> None:
        self.limit, self.size = limit, size
        got = f"{size}" if size is not None else "more (the body was cut off there)"
        super().__init__(413, f"body: expected at most {limit} bytes ({size_text(limit)}) here, got {got}")


def limits(settings: Settings) -> Callable[[str, str], int]:
    """The body limit of a request, from its method and path."""
    def limit(method: str, path: str) -> int:
        if method == "PUT" and VAULT_FILE.fullmatch(path):
            return settings.max_compartment_bytes
        if (method, path) in IMPORTS or (method, path) == ("POST", "/witness/sync"):
            return settings.max_import_bytes
        return settings.max_body_bytes
    return limit


def size_text(size: int) -> str:
    """A size as people read it: 1 MiB, 64 MiB, 2 GiB (bytes when it is no whole number of KiB)."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


class BodyLimit:
    """ASGI middleware: refuses a body over its limit (``refuse`` makes the answer) before reading it."""

    def __init__(self, app: ASGIApp, limit: Callable[[str, str], int],
                 refuse: Callable[[Scope, BodyTooLarge], Awaitable[Response]]) -> None:
        self.app = app
        self.limit = limit
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            # Answered unread; the server discards what the client still sends.
            response = await self.refuse(scope, BodyTooLarge(limit, int(declared)))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: FastAPI lets it through its body parsing, and the application's
                    # handler answers it (``refuse`` again) before any response has started.
                    raise BodyTooLarge(limit, None)
            return message

        await self.app(scope, counted, send)
