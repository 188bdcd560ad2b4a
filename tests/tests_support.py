"""Helpers shared by test modules (importable because pytest puts ``tests/`` on the path)."""

from __future__ import annotations

from baton.settings import Settings


def settings_for(url: str, **overrides: object) -> Settings:
    """Settings for tests: the given database, links under http://baton.test, fast retries."""
    base: dict[str, object] = dict(database_url=url, base_url="http://baton.test", smtp_host="127.0.0.1",
                                   smtp_port=1, retry_base_seconds=1.0, retry_max_seconds=5.0,
                                   claim_seconds=30.0)
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]
