"""Fixtures for the browser tests: Debian's headless Chromium driven by Playwright, the service under
uvicorn on the loopback with a fake clock, and a camera that keeps a screenshot of every page visited.

Chromium is the system's (``chromium`` on the PATH, or ``BATON_CHROMIUM``); Playwright's own browser
downloads are never used. Where Chromium or Playwright is missing the tests skip with the reason;
under ``BATON_REQUIRE_TOOLS`` (set by ``.ci/run``, which installs Chromium) they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from browser_support import ARTIFACTS, DESKTOP, OWNER_EMAIL, OWNER_PASSWORD, Camera, Site, Visit

from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import build
from baton.testing import FakeClock, RecordingSender
from tests_support import free_port, live_server, settings_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def _missing(reason: str) -> None:
    if os.environ.get("BATON_REQUIRE_TOOLS"):
        pytest.fail(f"BATON_REQUIRE_TOOLS is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session (each test gets a context of its own)."""
    executable = os.environ.get("BATON_CHROMIUM") or shutil.which("chromium")
    if executable is None:
        _missing("chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def visit(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """A fresh browser context (no cookies, downloads accepted), its tab, and the test's screenshot folder.

    The pages must log no error (a script or style the content security policy refused) and
    load every resource they ask for: checked when the test ends.
    """
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True, locale="en-US")
    context.set_default_timeout(5_000)  # the pages are on the loopback: at once or never
    page = context.new_page()
    seen = Visit(page, Camera(page, ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)))
    page.on("console", seen.console)
    page.on("pageerror", lambda e: seen.problems.append(f"page error: {e}"))
    page.on("response", seen.response)
    try:
        yield seen
    finally:
        context.close()
    assert seen.problems == [], "the browser reported problems on the pages"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    """``serve(policy, timezone=…)``: the app under uvicorn on a free port, its links pointing there
    (``policy`` None: the service's default). The owner has TOTP set up: ``site.totp_code()``.

    SQLite only: ``tests/baton`` runs the pages' logic on PostgreSQL too; here the browser is
    what is under test.
    """
    with ExitStack() as stack:

        def start(policy: dict[str, Any] | None = None, timezone: str = "Europe/Rome") -> Site:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            clock = FakeClock()
            runtime = build(settings_for(f"sqlite:///{tmp_path}/baton.db", data_dir=tmp_path / "server",
                                         base_url=url), clock=clock)
            stack.callback(runtime.engine.dispose)
            made = runtime.service.create_owner(OWNER_EMAIL, OWNER_PASSWORD, timezone, totp=True, policy=policy)
            stack.enter_context(live_server(create_app(runtime.service), port=port))
            api = stack.enter_context(httpx.Client(base_url=url, timeout=30,
                                                   headers={"Authorization": f"Bearer {made.api_token}"}))
            sender = RecordingSender()
            worker = runtime.worker({Channel.EMAIL: sender, Channel.APPRISE: sender})
            return Site(url, runtime, clock, made.owner.id, made.api_token, made.totp_secret, sender, worker, api)

        yield start


@pytest.fixture
def owner_site(serve: Callable[..., Site]) -> Site:
    """A site with the default policy for the owner's own pages: ``/signin`` with ``site.owner_email``,
    ``site.password`` and ``site.totp_code()``, then the dashboard."""
    return serve()
