"""Helpers shared by test modules (importable because pytest puts ``tests/`` on the path)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from baton.settings import Settings


def settings_for(url: str, **overrides: object) -> Settings:
    """Settings for tests: the given database, links under http://baton.test, fast retries."""
    base: dict[str, object] = dict(database_url=url, base_url="http://baton.test", smtp_host="127.0.0.1",
                                   smtp_port=1, retry_base_seconds=1.0, retry_max_seconds=5.0,
                                   claim_seconds=30.0)
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


def needs_tools(*names: str) -> pytest.MarkDecorator:
    """Skip tests whose command-line tools are missing, with the reason; under ``BATON_REQUIRE_TOOLS``
    (set by ``.ci/run``, which installs them) a missing tool is an error instead."""
    missing = [name for name in names if shutil.which(name) is None
               and shutil.which(name, path=str(Path(sys.executable).parent)) is None]
    if missing and os.environ.get("BATON_REQUIRE_TOOLS"):
        raise RuntimeError(f"BATON_REQUIRE_TOOLS is set but {', '.join(missing)} is not installed")
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed (Debian: apt-get install "
                                                    "age openssl openssh-client); .ci/run installs them")


def tool(name: str) -> str:
    """The path of a command-line tool; a skip where it is missing (a failure under ``BATON_REQUIRE_TOOLS``)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("BATON_REQUIRE_TOOLS"):
            pytest.fail(f"BATON_REQUIRE_TOOLS is set but {name} is not installed")
        pytest.skip(f"{name} is not installed")
    return path
