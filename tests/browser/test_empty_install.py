"""A newcomer's first page: an install with no owner yet says that ``baton init`` comes first."""

from __future__ import annotations

from pathlib import Path

from browser_support import Visit, heading

from baton.http.app import create_app
from baton.runtime import build
from baton.testing import FakeClock
from tests_support import free_port, live_server, settings_for


def test_an_empty_install_says_baton_init_comes_first(visit: Visit, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = build(settings_for(f"sqlite:///{tmp_path}/baton.db", data_dir=tmp_path / "server", base_url=url),
                    clock=FakeClock())
    try:
        with live_server(create_app(runtime.service), port=port):
            visit.page.goto(f"{url}/")
            assert visit.page.url.startswith(f"{url}/signin")
            hint = visit.page.get_by_text("baton init --email you@example.com --timezone Europe/Rome")
            assert hint.is_visible()
            assert heading(visit.page)
            visit.shot("empty-install-sign-in")
            visit.shot("empty-install-sign-in", phone=True)
    finally:
        runtime.engine.dispose()
