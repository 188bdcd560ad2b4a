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
from dataclasses import dataclass
from functools import cache

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from baton.errors import NotFound
from baton.http.headers import PAGES_CSP
from templates import TEMPLATE_DIR

STATIC = TEMPLATE_DIR / "static"
NAMES = frozenset({"enrol", "keycheck"})  # the bundles a page may name


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
        """The pages' policy with this one script allowed; still no other script, no connection, no frame."""
        return PAGES_CSP.replace("default-src 'none';", f"default-src 'none'; script-src '{self.integrity}';", 1)


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
    @app.get("/static/{name}.js", include_in_schema=False)
    def static_script(name: str) -> Response:
        if name not in NAMES:
            raise NotFound(f"no script {name!r}")
        found = script(name)
        return Response(found.body, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})
