"""Logging that never shows a link token: access-log lines have link paths redacted."""

from __future__ import annotations

import logging
import re

_LINK = re.compile(r"/(l|v|q|e|k|d|n)/[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    """``/l/<token>`` becomes ``/l/***`` (and so for every kind of link: verifier, request, enrolment,
    key check, download, customer notice)."""
    return _LINK.sub(lambda m: f"/{m.group(1)}/***", text)


class RedactLinks(logging.Filter):
    """Rewrites a record's arguments so link tokens never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "baton"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactLinks) for f in logger.filters):
            logger.addFilter(RedactLinks())
