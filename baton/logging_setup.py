"""Logging that never shows a secret: access-log lines have link paths redacted, Apprise's URLs (which
carry webhook secrets and passwords) are cut to their scheme, and SQLAlchemy's row dumps (which would
show a TOTP secret or the signing key at DEBUG) are dropped."""

from __future__ import annotations

import logging
import re

_LINK = re.compile(r"/(l|v|q|e|k|d|n|x)/(?:\[\[link:\d+\]\]|[A-Za-z0-9_\-]{8,})")  # a token or its placeholder


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


_URL = re.compile(r"\b([a-z][a-z0-9+.\-]*)://[^\s'\"<>]+", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """``json://host/path?secret`` becomes ``json://***``."""
    return _URL.sub(lambda m: f"{m.group(1)}://***", text)


class RedactUrls(logging.Filter):
    """For libraries that log the URLs they were given (Apprise: a channel's URL is its secret)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_urls(record.getMessage())
        record.args = None
        return True


class DropRows(logging.Filter):
    """SQLAlchemy at DEBUG logs every row fetched: rows hold secrets (``hide_parameters`` covers only
    the bound parameters). Statements and timings still get through."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(("Row ", "Col ")))


_FILTERS: tuple[tuple[str, type[logging.Filter]], ...] = (
    ("uvicorn.access", RedactLinks), ("uvicorn.error", RedactLinks), ("baton", RedactLinks),
    ("apprise", RedactUrls), ("sqlalchemy.engine.Engine", DropRows))


def install() -> None:
    """Add the filters (once) to the loggers they guard; called by the app and the worker."""
    for name, kind in _FILTERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
