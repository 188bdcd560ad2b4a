"""The offline page of every release package (``open.html``): the built bundle and its style inlined, pinned by hash.

The page is one file that must work from ``file://`` with no network: its script (``templates/static/open.js``,
built from ``web/src/open.entry.js`` by ``web/build.mjs``) and its style are inline, and its content security
policy allows exactly those two by their SHA-256 and no connection of any kind.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from baton.services.messages import render_file
from templates import TEMPLATE_DIR

SCRIPT = TEMPLATE_DIR / "static" / "open.js"
STYLE = TEMPLATE_DIR / "package" / "_open.css"


def csp_hash(text: str) -> str:
    """The CSP source for an inline script or style: ``sha256-`` and the base64 of its UTF-8 bytes."""
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    script = SCRIPT.read_text(encoding="utf-8")
    if "</script" in script.lower():
        raise ValueError(f"{SCRIPT}: the bundle holds '</script', which would end the inline script early")
    return script, STYLE.read_text(encoding="utf-8")


def render_offline_page(language: str) -> bytes:
    """``open.html`` in ``language`` (English where the language has no page)."""
    script, style = _assets()
    return render_file("package/open.html.j2", language, script=script, script_hash=csp_hash(script),
                       style=style, style_hash=csp_hash(style)).encode()
