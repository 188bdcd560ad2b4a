"""Fixtures for the adapter tests: a real SMTP server on the loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from smtp_server import SmtpServer, running_smtp_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 that records each message; ``stop()``/``start()`` keep its port."""
    with running_smtp_server() as server:
        yield server
