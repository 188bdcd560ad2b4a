"""Security headers on every response: a content security policy and the usual companions.

Pages are server-rendered and carry no script of their own, so the policy allows no script
at all; styles are inline in the pages (``<style>`` and ``style=""``), forms post only to
this origin, and no other site may frame a page. The interactive API documentation
(``/docs``, ``/redoc``) loads its script from a CDN, so it gets its own, looser policy;
no secret is ever shown there. ``Strict-Transport-Security`` is sent when the service's
public address is https.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGES_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
             "frame-ancestors 'none'; base-uri 'none'")
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
            "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'")
DOCS_PATHS = ("/docs", "/redoc")
COMMON = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
          (b"referrer-policy", b"no-referrer"), (b"cross-origin-opener-policy", b"same-origin"),
          (b"cross-origin-resource-policy", b"same-origin"),
          (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"))
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """ASGI middleware: adds the headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(DOCS_PATHS)
        extra = [*COMMON, (b"content-security-policy", (DOCS_CSP if docs else PAGES_CSP).encode())]
        if self.https:
            extra.append(HSTS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
