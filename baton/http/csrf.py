"""Tokens against cross-site request forgery, bound to what a form belongs to.

A form carries ``HMAC(key, purpose | binding)``: the binding is the session cookie for the
owner's pages, a sign-in nonce cookie for the sign-in form, and the link's own token for a
link page. Nothing is stored; a token from one session or link is worthless for another.
The key is derived from the deployment's signing key, so every worker agrees on it.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

FIELD = "csrf"


class CsrfTokens:
    def __init__(self, deployment_secret: bytes) -> None:
        self._key = hmac.new(deployment_secret, b"baton csrf v1", hashlib.sha256).digest()

    def token(self, purpose: str, binding: str) -> str:
        return hmac.new(self._key, f"{purpose}|{binding}".encode(), hashlib.sha256).hexdigest()

    def valid(self, purpose: str, binding: str, given: str | None) -> bool:
        return bool(given) and bool(binding) and hmac.compare_digest(self.token(purpose, binding), given or "")

    def __repr__(self) -> str:
        return "CsrfTokens(key='***')"


def cross_site(request: Request, base_url: str) -> bool:
    """True when the browser says a POST came from another site's page (Sec-Fetch-Site, Origin).

    Link pages need no token of their own: the link's token is the capability, and a site
    that knows it could simply follow it. This check keeps other sites' forms out anyway.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # every current browser sends it; it cannot be set by a page's script
        return fetch_site not in ("same-origin", "none")
    # Older browsers: the Origin. Our pages send no referrer, so a browser may say "null" for our own form.
    origin = request.headers.get("origin")
    return origin not in (None, "null", f"{request.url.scheme}://{request.url.netloc}", base_url)
