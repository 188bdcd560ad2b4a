"""The committed browser bundles (templates/static/*.js) are what web/build.mjs makes from web/src with the locked
dependencies: ``npm ci`` where node_modules is missing or older than the lock file, then ``node build.mjs --check``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "web"


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        reason = "node and npm are not installed (Debian: apt-get install nodejs npm); .ci/run installs them"
        if os.environ.get("BATON_REQUIRE_TOOLS"):
            pytest.fail(f"BATON_REQUIRE_TOOLS is set but {reason}")
        pytest.skip(reason)
    return node, npm


def installed(npm: str) -> None:
    """``npm ci`` in web/ unless node_modules is there and newer than package-lock.json."""
    marker = WEB / "node_modules" / ".package-lock.json"  # npm writes it on every install
    if marker.exists() and marker.stat().st_mtime >= (WEB / "package-lock.json").stat().st_mtime:
        return
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_committed_bundles_match_a_fresh_build() -> None:
    node, npm = _tools()
    installed(npm)
    checked = subprocess.run([node, "build.mjs", "--check"], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip().endswith("bundles match a fresh build")
