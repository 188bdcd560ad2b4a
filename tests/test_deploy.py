"""The deployment files (issue 15): the systemd units pass ``systemd-analyze verify`` (where it is
installed) with no warning, run the commands Baton has, and are hardened; the reverse-proxy examples
limit bodies as the settings do and keep /metrics to the scraper."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from baton.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = ("baton-api.service", "baton-worker.service")
HARDENING = ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/baton", "Restart=on-failure",
             "EnvironmentFile=/etc/baton/baton.env", "User=baton", "ProtectHome=yes", "PrivateTmp=yes",
             "CapabilityBoundingSet=\n")


def test_the_units_pass_systemd_analyze_verify_without_a_warning(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    baton = Path(sys.executable).parent / "baton"  # where this checkout installed the command
    for name in UNITS:  # verify checks that ExecStart's program exists: point it at this one
        text = (DEPLOY / name).read_text().replace("/opt/baton/venv/bin/baton", str(baton))
        (tmp_path / name).write_text(text)
    done = subprocess.run([tool, "verify", *(str(tmp_path / n) for n in UNITS)], capture_output=True, text=True,
                          timeout=60)
    said = [line for line in (done.stdout + done.stderr).splitlines() if "baton-" in line]
    assert done.returncode == 0 and said == [], done.stdout + done.stderr


@pytest.mark.parametrize("name", UNITS)
def test_each_unit_is_hardened_and_runs_a_command_baton_has(name: str) -> None:
    text = (DEPLOY / name).read_text()
    for line in HARDENING:
        assert line in text, line
    command = re.search(r"^ExecStart=/opt/baton/venv/bin/baton (\w+)", text, re.MULTILINE)
    assert command is not None
    from typer.main import get_command

    from baton.cli.app import app
    assert command.group(1) in get_command(app).commands  # type: ignore[attr-defined]
    assert command.group(1) == {"baton-api.service": "api", "baton-worker.service": "worker"}[name]


def test_the_proxy_examples_limit_bodies_as_the_settings_do() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    mib = 1024**2
    caddy = re.findall(r"max_size (\d+)(MiB|GiB)", (DEPLOY / "Caddyfile").read_text())
    sizes = sorted(int(n) * (mib if unit == "MiB" else 1024 * mib) for n, unit in caddy)
    nginx = re.findall(r"client_max_body_size (\d+)([mg]);", (DEPLOY / "nginx.conf").read_text())
    assert sorted(int(n) * (mib if unit == "m" else 1024 * mib) for n, unit in nginx) == sizes
    assert sizes == sorted([settings.max_body_bytes, settings.max_import_bytes, settings.max_compartment_bytes])


@pytest.mark.parametrize(("name", "rule"), [("Caddyfile", "respond /metrics 404"),
                                             ("nginx.conf", "location = /metrics { return 404; }")])
def test_the_proxy_examples_keep_metrics_to_the_scraper(name: str, rule: str) -> None:
    assert rule in (DEPLOY / name).read_text()
