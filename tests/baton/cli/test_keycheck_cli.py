"""``baton keycheck``: a holder answers a key check from the command line, against a live server on loopback."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select
from typer.testing import CliRunner

from baton.cli.app import app
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.services.releases import vault_parts
from baton.store import links as stored_links
from baton.store.tables import outbox
from tests_support import needs_tools, settings_for

pytestmark = needs_tools("age-keygen")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, int]]:
    port = _free_port()
    runtime = build(settings_for(f"sqlite:///{tmp_path}/baton.db", data_dir=tmp_path,
                                 base_url=f"http://127.0.0.1:{port}"))
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome")
    server = uvicorn.Server(uvicorn.Config(create_app(runtime.service), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield runtime, made.owner.id
    server.should_exit = True
    thread.join(timeout=10)
    runtime.engine.dispose()


def _check_link(runtime: Runtime, owner: int, key: Path) -> str:
    vault, _builder = vault_parts(runtime.service)
    vault.add_person(owner, "ana", "Ana", "ana@example.org", "pt", "heir")
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    vault.set_key(owner, "ana", re.findall(r"age1\w+", key.read_text())[0], "owner")
    vault.request_checks(owner, ["ana"], "owner", notify=True)
    with runtime.engine.connect() as conn:
        body = conn.execute(select(outbox.c.body_text).where(outbox.c.purpose == "keycheck")).scalar_one()
    return re.findall(r"http://\S+/k/\S+", stored_links.expand(runtime.service.key, body))[0]


def test_a_holder_proves_their_key_with_the_keycheck_command(served: tuple[Runtime, int], tmp_path: Path) -> None:
    """The command opens the sealed code with the holder's key and sends it; the key shows as verified."""
    runtime, owner = served
    link = _check_link(runtime, owner, tmp_path / "ana.key")
    result = CliRunner().invoke(app, ["keycheck", link, "--identity", str(tmp_path / "ana.key")])
    assert result.exit_code == 0, result.output
    assert result.output == "your key works: the key check passed\n"
    vault, _builder = vault_parts(runtime.service)
    assert vault.list_people(owner)[0]["key"] == "verified"
    again = CliRunner().invoke(app, ["keycheck", link, "--identity", str(tmp_path / "ana.key")])
    assert again.exit_code == 5  # the refusal in the holder's language (ana reads Portuguese), with the status
    assert again.output.startswith("error: the key check cannot be opened: Este link já foi usado em ")
    assert again.output.endswith(". Cada link só funciona uma vez. (HTTP 410)\n")


def test_another_key_cannot_pass_the_key_check(served: tuple[Runtime, int], tmp_path: Path) -> None:
    """A key that is not the enrolled one: exit 2, the reason, and the key stays unverified."""
    runtime, owner = served
    link = _check_link(runtime, owner, tmp_path / "ana.key")
    subprocess.run(["age-keygen", "-o", str(tmp_path / "other.key")], check=True, capture_output=True)
    result = CliRunner().invoke(app, ["keycheck", link, "--identity", str(tmp_path / "other.key")])
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == ("error: the key check: none of the identities given can open it "
                                             "(a wrong key, or a key for another file)")
    vault, _builder = vault_parts(runtime.service)
    assert vault.list_people(owner)[0]["key"] == "unverified"
