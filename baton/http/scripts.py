"""The few scripts a holder's page runs, served by Baton itself and pinned by hash in that page's policy.

A holder's browser does its own cryptography (a key made on the enrolment page, a key check or a
share opened with the holder's key): the key never leaves it. Each such page names one bundle of
``templates/static/`` (built from ``web/src/<name>.entry.js`` by ``node web/build.mjs``); its
response carries a content security policy that allows exactly that file's SHA-256, and the
``<script>`` tag carries the same hash as ``integrity``. Every other page keeps the script-free
policy of ``headers``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from baton.http.headers import PAGES_CSP
from templates import TEMPLATE_DIR

STATIC = TEMPLATE_DIR / "static"
NAMES = frozenset({"enrol", "keycheck", "forward", "collector"})  # the bundles a page may name
FETCHES = frozenset({"collector"})  # it fetches the released compartment's ciphertext from Baton itself


@dataclass(frozen=True, slots=True)
class Script:
    """One bundle: its name, its bytes, and the hash its page's policy and tag pin."""

    name: str
    body: bytes

    @property
    def integrity(self) -> str:
        return "sha256-" + base64.b64encode(hashlib.sha256(self.body).digest()).decode()

    @property
    def src(self) -> str:
        return f"/static/{self.name}.js"

    @property
    def csp(self) -> str:
        """The pages' policy with this one script allowed; still no other script, no frame, and no connection
        but the collector's to this origin."""
        allowed = f"script-src '{self.integrity}';" + (" connect-src 'self';" if self.name in FETCHES else "")
        return PAGES_CSP.replace("default-src 'none';", f"default-src 'none'; {allowed}", 1)


@cache
def script(name: str) -> Script:
    """The bundle ``name`` as built and committed (read once per process)."""
    if name not in NAMES:
        raise ValueError(f"no script {name!r}: expected one of {', '.join(sorted(NAMES))}")
    return Script(name, (STATIC / f"{name}.js").read_bytes())


def with_script(response: HTMLResponse, name: str) -> HTMLResponse:
    """``response`` (a page rendered with ``script=script(name)``) allowed to run that script alone."""
    response.headers["Content-Security-Policy"] = script(name).csp
    return response


def install(app: FastAPI) -> None:
    """One route per bundle (a fixed address each: nothing else under /static/ answers)."""
    def serve(name: str) -> Callable[[], Response]:
        def static_script() -> Response:
            return Response(script(name).body, media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "public, max-age=3600"})
        return static_script
    for name in sorted(NAMES):
        app.add_api_route(f"/static/{name}.js", serve(name), methods=["GET"], include_in_schema=False)
