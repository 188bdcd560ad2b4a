"""Secrets stay out of logs and reprs: link tokens, API tokens, SMTP passwords, Apprise URLs."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from baton import links, logging_setup
from baton.accounts import NewOwner, Owner
from baton.api import create_app
from baton.links import Purpose
from baton.outbox import Channel, Message
from baton.runtime import build
from tests_support import settings_for


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
        token = links.create(conn, made.owner.id, Purpose.CHECKIN, runtime.service.clock.now(), expires_at=None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime.service), host="127.0.0.1", port=port,
                                           log_level="info"))
    logging_setup.install()
    collect = _Collect()
    logging.getLogger("uvicorn.access").addHandler(collect)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert httpx.get(f"http://127.0.0.1:{port}/l/{token}").status_code == 200
        assert httpx.post(f"http://127.0.0.1:{port}/l/{token}").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
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
