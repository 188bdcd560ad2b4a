"""axe-core in the browser tests: ``assert_accessible(page)`` runs axe on the page as it is now and fails
on any serious or critical violation, naming each rule, what it means and the elements it found.

axe is the npm package pinned in ``web/package-lock.json`` (``cd web && npm ci``). It is evaluated in the
page through the DevTools protocol, which the page's content security policy does not govern: the pages
under test keep their policy, and nothing is added to them.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")
# WCAG 2.1 A and AA, and axe's best practices (landmarks, one h1, …).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@cache
def axe_source() -> str:
    if not AXE.exists():
        reason = f"axe-core is not installed ({AXE} is missing): run `cd web && npm ci`"
        if os.environ.get("BATON_REQUIRE_TOOLS"):
            pytest.fail(f"BATON_REQUIRE_TOOLS is set but {reason}")
        pytest.skip(reason)
    return AXE.read_text(encoding="utf-8")


def violations(page: Page) -> list[dict[str, Any]]:
    """Every axe violation on the page as it is now (all impacts)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;true")
    found: list[dict[str, Any]] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,"
        " nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))})))", TAGS)
    return found


def described(found: list[dict[str, Any]]) -> str:
    """The violations as a person reads them: rule, impact, what it asks, and each element with why."""
    lines = []
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:5]:
            why = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}: {why}")
        if len(v["nodes"]) > 5:
            lines.append(f"    … and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def assert_accessible(page: Page, failing: tuple[str, ...] = FAILING) -> list[dict[str, Any]]:
    """Run axe on ``page``; fail on a violation of impact in ``failing``; return every violation found."""
    found = violations(page)
    bad = [v for v in found if v["impact"] in failing]
    assert not bad, f"axe found {len(bad)} serious or critical violation(s) on {page.url}:\n{described(bad)}"
    return found
