"""Every file the service reads from ``templates/`` is installed with it (``pip install .``): a file the
package data leaves out works from a checkout and fails on a user's machine."""

from __future__ import annotations

import tomllib
from pathlib import Path

from templates import TEMPLATE_DIR

ROOT = Path(__file__).resolve().parents[1]
NOT_READ = {".pot", ".py", ".pyc"}  # the catalogue template (for translators) and the package's own code


def test_the_package_data_covers_every_template_file() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["templates"]
    folder = Path(TEMPLATE_DIR)
    installed = {path for pattern in patterns for path in folder.glob(pattern) if path.is_file()}
    present = {path for path in folder.rglob("*") if path.is_file() and path.suffix not in NOT_READ}
    assert sorted(str(p.relative_to(folder)) for p in present - installed) == []
