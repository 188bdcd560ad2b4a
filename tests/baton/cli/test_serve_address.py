"""``baton serve --host --port``: the banner and every link in messages carry the address it listens on."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from baton.runtime import build
from baton.settings import Settings
from baton.store.tables import outbox
from tests_support import baton_serve, settings_for


def _settings(**given: object) -> Settings:
    return Settings(_env_file=None, **given)  # type: ignore[call-arg]


def test_the_links_follow_the_command_lines_address_unless_a_public_one_was_set() -> None:
    """Without BATON_BASE_URL the base URL is where the server listens (a wildcard: the loopback); with it, it stays."""
    assert _settings().listening(None, 8611).base_url == "http://127.0.0.1:8611"
    assert _settings(port=8700).listening("localhost", None).base_url == "http://localhost:8700"
    assert _settings().listening("0.0.0.0", 8611).base_url == "http://127.0.0.1:8611"
    assert _settings().listening("::", 8611).base_url == "http://[::1]:8611"
    public = _settings(base_url="https://baton.example.org/").listening("0.0.0.0", 8611)
    assert (public.base_url, public.port, public.base_url_given) == ("https://baton.example.org", 8611, True)


def _owner_email_with(runtime_url: str, folder: Path, needle: str) -> str:
    """The first owner e-mail in the outbox whose text holds ``needle`` (the server's worker writes it)."""
    runtime = build(settings_for(runtime_url, data_dir=folder / "data"), upgrade=False)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with runtime.engine.connect() as conn:
                for row in conn.execute(select(outbox.c.body_text).where(outbox.c.purpose == "release_requested")):
                    if needle in row.body_text:
                        return str(row.body_text)
            time.sleep(0.2)
    finally:
        runtime.engine.dispose()
    pytest.fail(f"no release_requested e-mail holding {needle!r} within 20 s")


def test_serve_on_a_command_line_port_puts_that_port_in_its_banner_and_its_links(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``baton serve --port N`` (no BATON_PORT, no BATON_BASE_URL): banner, request link and check-in link say N."""
    for name in ("BATON_BASE_URL", "BATON_HOST", "BATON_PORT"):
        monkeypatch.delenv(name, raising=False)
    database = f"sqlite:///{tmp_path}/baton.db"
    runtime = build(settings_for(database, data_dir=tmp_path / "data"))
    token = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome").api_token
    runtime.engine.dispose()
    with baton_serve(tmp_path, port_on_command_line=True, BATON_DATABASE_URL=database,
                     BATON_COOLING_OFF_HOURS="0") as (url, _proc):
        banner = (tmp_path / "serve.log").read_text().splitlines()[0]
        assert banner == f"Baton {url} — database {database}"
        added = httpx.post(f"{url}/api/requesters", json={"name": "Ana", "email": "ana@example.org"},
                           headers={"Authorization": f"Bearer {token}"})
        assert added.status_code == 201, added.text
        request_url = added.json()["url"]
        assert request_url.startswith(f"{url}/q/")
        asked = httpx.post(request_url, data={})
        assert asked.status_code == 200, asked.text
        alert = _owner_email_with(database, tmp_path, f"{url}/l/")
    assert "http://127.0.0.1:8600" not in alert
