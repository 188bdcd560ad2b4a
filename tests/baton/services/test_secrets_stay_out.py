"""Secrets stay out of logs and reprs: link tokens, API tokens, SMTP passwords, Apprise URLs."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from baton import logging_setup
from baton.http.app import create_app
from baton.jobs.outbox import Channel, Message
from baton.runtime import build
from baton.services.accounts import NewOwner, Owner
from baton.store import links
from baton.store.links import Purpose
from tests_support import live_server, settings_for


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_link_tokens_never_reach_the_access_log(tmp_path: Path) -> None:
    """Opening and using a check-in link through uvicorn logs the path with the token redacted."""
    runtime = build(settings_for(f"sqlite:///{tmp_path}/b.db"))
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    with runtime.engine.begin() as conn:
        token = links.token(runtime.service.key, links.create(conn, made.owner.id, Purpose.CHECKIN,
                                                              runtime.service.clock.now(), expires_at=None))
    collect = _Collect()

    def configured() -> None:
        logging_setup.install()
        logging.getLogger("uvicorn.access").addHandler(collect)

    try:
        with live_server(create_app(runtime.service), log_level="info", configured=configured) as url:
            assert httpx.get(f"{url}/l/{token}").status_code == 200
            assert httpx.post(f"{url}/l/{token}").status_code == 200
    finally:
        logging.getLogger("uvicorn.access").removeHandler(collect)
    assert any("/l/***" in line for line in collect.lines)
    assert not any(token in line for line in collect.lines)


def test_reprs_hide_tokens_passwords_and_alert_urls() -> None:
    """The new owner's token, the SMTP password and an Apprise URL never show in a repr."""
    made = NewOwner(Owner(1, "o@example.org", "UTC", "en"), "bt_secret-token", "TOTPSECRET")
    assert "bt_secret-token" not in repr(made) and "TOTPSECRET" not in repr(made)
    settings = settings_for("sqlite://", smtp_password="hunter2-smtp")
    assert "hunter2-smtp" not in repr(settings) and "hunter2-smtp" not in str(settings.model_dump())
    message = Message(1, 1, Channel.APPRISE, "tgram://bot-secret/chat", "deadline", "s", "t", None, "k", 0)
    assert "bot-secret" not in repr(message)
