"""Helpers shared by test modules (importable because pytest puts ``tests/`` on the path)."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from baton.settings import Settings

PG_ADMIN = os.environ.get("BATON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@cache
def pg_skip_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here (None: they can)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        return f"no PostgreSQL at {PG_ADMIN} ({type(exc).__name__}); set BATON_TEST_PG to run these tests"
    return None


@contextmanager
def scratch_database(kind: str, folder: Path) -> Iterator[str]:
    """SQLite in ``folder``, or a fresh PostgreSQL database dropped afterwards (a skip when there is none)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/baton.db"
        return
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    import uuid

    import psycopg
    name = f"baton_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_ADMIN.rsplit('/', 1)[0].split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(url: str, **overrides: object) -> Settings:
    """Settings for tests: the given database, links under http://baton.test, fast retries, and no
    cooling-off for changes that hasten a release (the tests of the cooling-off turn it on)."""
    base: dict[str, object] = dict(database_url=url, base_url="http://baton.test", smtp_host="127.0.0.1",
                                   smtp_port=1, retry_base_seconds=1.0, retry_max_seconds=5.0,
                                   claim_seconds=30.0, cooling_off_hours=0)
    base.update(overrides)
    base.setdefault("data_dir", data_dir_for(url))
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


def data_dir_for(url: str) -> Path:
    """The data folder (key file, blobs, packages) beside a test's database: the SQLite file's folder, or
    one per PostgreSQL database; the same for every runtime and process a test starts on that database."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent
    return Path(tempfile.gettempdir()) / f"baton-data-{url.rsplit('/', 1)[-1]}"


def key_file_for(url: str) -> Path:
    """The key file a test's runtime made, for a worker or server process started on the same database."""
    return data_dir_for(url) / "deployment.key"


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


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(app: Any, port: int | None = None, log_level: str = "warning",
                configured: Callable[[], None] | None = None) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 in a thread (on ``port``, or a free one); yields its URL.
    ``configured`` runs once uvicorn has set up its loggers (to attach handlers or filters to them)."""
    import uvicorn
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    if configured is not None:
        configured()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start within 10 s"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def baton_serve(folder: Path, *, port_on_command_line: bool = False,
                **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real ``baton serve`` in a child process, on a free loopback port, its settings from ``env``
    (``BATON_DATABASE_URL``, ``TMPDIR``…) and run from ``folder`` (its output in ``folder/serve.log``);
    yields its URL and the process, once it answers. ``port_on_command_line``: the address is given as
    ``--host``/``--port`` and ``BATON_HOST``/``BATON_PORT`` are left unset."""
    import httpx
    port = free_port()
    environment = {**os.environ, "BATON_HOST": "127.0.0.1", "BATON_PORT": str(port),
                   "BATON_DATA_DIR": str(folder / "data"), **env}
    command = [sys.executable, "-m", "baton.cli", "serve"]
    if port_on_command_line:
        del environment["BATON_HOST"], environment["BATON_PORT"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
    log = folder / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=environment, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"baton serve exited ({proc.returncode}): {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"baton serve did not answer within 30 s: {log.read_text()[-2000:]}"
            time.sleep(0.1)
        yield url, proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """End a child process still running: SIGTERM, then SIGKILL after 15 s; it is reaped either way."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def proc_status(pid: int, field: str) -> int:
    """A size from ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def bytes_written(pid: int) -> int:
    """What the process has passed to write(2) and its kin so far (``wchar`` of ``/proc/<pid>/io``)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise KeyError("wchar")


def run_cli(*args: str | Path, input: str | None = None) -> Any:
    """Run ``baton`` in this process (typer's runner); a connection it left open would fail the test."""
    from typer.testing import CliRunner

    from baton.cli.app import app
    result = CliRunner().invoke(app, [str(a) for a in args], input=input)
    if result.exc_info is not None:  # a kept traceback (sys.exit) would keep the client alive
        traceback.clear_frames(result.exc_info[2])
    gc.collect()
    return result


def ok(result: Any) -> Any:
    """``result`` of ``run_cli``, which must have succeeded."""
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result


@cache
def epp_schema() -> Any:
    """The official EPP schemas (RFC 5730–5733) loaded with lxml, apart from the code under test."""
    from lxml import etree
    folder = Path(__file__).resolve().parents[1] / "handover" / "schemas" / "epp"
    imports = "".join(f'<xs:import namespace="urn:ietf:params:xml:ns:{name}" schemaLocation="{name}.xsd"/>'
                      for name in ("eppcom-1.0", "epp-1.0", "host-1.0", "domain-1.0", "contact-1.0"))
    source = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.fromstring(source, parser, base_url=(folder / "test-wrapper.xsd").as_uri()))
