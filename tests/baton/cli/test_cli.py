"""The ``baton`` command line against a real database and a live server on loopback."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from typer.testing import CliRunner

from baton.cli.app import app
from baton.http.app import create_app
from baton.runtime import Runtime, build
from baton.settings import get_settings
from tests_support import settings_for

SCENARIO = {
    "start": "2026-01-01T09:00:00Z", "until": "2026-03-01T00:00:00Z",
    "policy": {"interval": "30d", "reminders": ["1d"], "grace": "1d", "stages": [{"name": "s", "after": "0d"}]},
    "events": [{"at": "2026-01-10T09:00:00Z", "type": "checkin"}],
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private database and client file for the CLI under test."""
    monkeypatch.setenv("BATON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BATON_CLIENT_CONFIG", str(tmp_path / "client.json"))
    monkeypatch.delenv("BATON_DATABASE_URL", raising=False)
    monkeypatch.delenv("BATON_TOKEN", raising=False)
    monkeypatch.delenv("BATON_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _init(runner: CliRunner, email: str = "owner@example.org") -> str:
    result = runner.invoke(app, ["init", "--email", email, "--timezone", "Europe/Rome",
                                 "--password", "correct horse battery", "--no-totp"])
    assert result.exit_code == 0, result.output
    return result.output.split("API token (shown once; keep it safe):\n")[1].split()[0]


def test_init_prints_the_token_once_and_saves_it_privately(env: Path) -> None:
    """``baton init`` creates the owner, prints a token and saves it in a file only the owner can read."""
    runner = CliRunner()
    token = _init(runner)
    assert token.startswith("bt_")
    saved = json.loads((env / "client.json").read_text())
    assert saved["token"] == token
    assert stat.S_IMODE(os.stat(env / "client.json").st_mode) == 0o600
    engine = sa.create_engine(f"sqlite:///{env}/baton.db")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM api_tokens")).scalar()
    assert token not in stored


def test_totp_enable_needs_the_password_and_a_code_from_the_app_and_signs_out_the_web(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``baton totp enable`` shows the secret's URI once, keeps it only when the app's code matches,
    and ends every web session (they were opened with the password alone)."""
    import pyotp

    from baton.services import accounts
    from baton.store import keyfile

    runner = CliRunner()
    _init(runner)
    secret = pyotp.random_base32()
    monkeypatch.setattr(accounts, "new_totp_secret", lambda: secret)  # what the person's app would scan
    engine = sa.create_engine(f"sqlite:///{env}/baton.db")
    args = ["totp", "enable", "--email", "owner@example.org", "--password"]
    wrong = runner.invoke(app, [*args, "wrong horse battery"], input="123456\n")
    assert wrong.exit_code == 3 and "the email or the password is not right" in wrong.output
    refused = runner.invoke(app, [*args, "correct horse battery"], input="nonsense\n")
    assert refused.exit_code == 2
    assert "code: expected the 6 digits your app shows now, got 'nonsense'; nothing was changed" in refused.output
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT totp_sealed FROM owners")).scalar() is None
        conn.execute(sa.text("INSERT INTO web_sessions (token_hash, owner_id, created_at, seen_at, expires_at) "
                             "VALUES ('x', 1, '2026-01-01', '2026-01-01', '2099-01-01')"))
    done = runner.invoke(app, [*args, "correct horse battery"], input=f"{pyotp.TOTP(secret).now()}\n")
    assert done.exit_code == 0, done.output
    assert f"otpauth://totp/Baton:owner%40example.org?secret={secret}" in done.output
    assert "Two-step sign-in is on for owner@example.org; 1 web session(s) signed out." in done.output
    with engine.connect() as conn:  # kept sealed under the key file, never in clear
        plain, sealed = conn.execute(sa.text("SELECT totp_secret, totp_sealed FROM owners")).one()
        assert conn.execute(sa.text("SELECT count(*) FROM web_sessions")).scalar() == 0
    key = keyfile.DeploymentKey(bytes.fromhex((env / "deployment.key").read_text()))
    assert plain is None and secret not in sealed and key.open(sealed).decode() == secret
    engine.dispose()


def test_init_refuses_a_short_password_and_creates_nothing(env: Path) -> None:
    """A bad password: exit code 2, the field named, no owner."""
    result = CliRunner().invoke(app, ["init", "--email", "o@example.org", "--timezone", "Europe/Rome",
                                      "--password", "short", "--no-totp"])
    assert result.exit_code == 2
    assert "error: password: expected at least 10 characters, got 5" in result.output
    engine = sa.create_engine(f"sqlite:///{env}/baton.db")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM owners")).scalar() == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(env: Path) -> Iterator[tuple[str, Runtime]]:
    """The API served by uvicorn on 127.0.0.1, in a thread."""
    yield from _serve(env)


@pytest.fixture
def cooling_server(env: Path) -> Iterator[tuple[str, Runtime]]:
    """The same, with the 72-hour cooling-off of changes that could hasten a release."""
    yield from _serve(env, cooling_off_hours=72)


def _serve(env: Path, **settings: object) -> Iterator[tuple[str, Runtime]]:
    runtime = build(settings_for(f"sqlite:///{env}/baton.db", **settings))
    port = _free_port()
    config = uvicorn.Config(create_app(runtime.service), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started
    yield f"http://127.0.0.1:{port}", runtime
    srv.should_exit = True
    thread.join(timeout=10)


def test_status_and_checkin_talk_to_the_server(server: tuple[str, Runtime],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``baton status`` shows the deadline in the owner's time zone; ``baton checkin`` checks in."""
    url, runtime = server
    runner = CliRunner()
    token = _init(runner)
    monkeypatch.setenv("BATON_URL", url)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "status:         armed" in result.output and "time zone:      Europe/Rome" in result.output
    assert "CET" in result.output or "CEST" in result.output
    done = runner.invoke(app, ["checkin", "--json"])
    assert done.exit_code == 0 and json.loads(done.output)["status"] == "armed"
    owner = runtime.service.authenticate(token)
    assert owner is not None
    assert [e["event"] for e in runtime.service.timeline(owner)] == ["checkin"]


def test_checkin_says_what_it_did_before_the_status(server: tuple[str, Runtime],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """``baton checkin`` opens with one line: when it checked in (local time) and the next deadline."""
    url, _runtime = server
    runner = CliRunner()
    _init(runner)
    monkeypatch.setenv("BATON_URL", url)
    done = runner.invoke(app, ["checkin"])
    assert done.exit_code == 0, done.output
    first, second = done.output.splitlines()[:2]
    view = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert first == f"Checked in at {view['last_checkin_local']}; next deadline {view['deadline_local']}."
    assert second == "status:         armed"


def test_policy_set_says_saved_or_held_before_the_status(cooling_server: tuple[str, Runtime], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy that cannot hasten a release: "Policy saved" with the next deadline; one that could: held until
    when and why; a `0d` stage reads back as `0d`."""
    url, _runtime = cooling_server
    runner = CliRunner()
    _init(runner)
    monkeypatch.setenv("BATON_URL", url)
    current = json.loads(runner.invoke(app, ["policy", "show"]).output)
    assert current["stages"][0]["after"] == "0d"  # the default's stage, shown back as it was written
    slower = tmp_path / "slower.json"
    slower.write_text(json.dumps({**current, "interval": "40d"}))
    saved = runner.invoke(app, ["policy", "set", str(slower)])
    assert saved.exit_code == 0, saved.output
    view = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert saved.output.splitlines()[0] == (f"Policy saved; it counts as a check-in, so the next deadline is "
                                            f"{view['deadline_local']}.")
    sooner = tmp_path / "sooner.json"
    sooner.write_text(json.dumps({**current, "interval": "10d"}))
    held = runner.invoke(app, ["policy", "set", str(sooner)])
    assert held.exit_code == 0, held.output
    change = json.loads(runner.invoke(app, ["status", "--json"]).output)["pending_changes"][0]
    assert held.output.splitlines()[0] == (
        f"Policy change held until {change['takes_effect_local']} (it could bring your release earlier: "
        f"{'; '.join(change['reasons'])}); you were told on every channel. Cancel it with "
        f"`baton changes cancel {change['id']}`. Until then:")
    again = runner.invoke(app, ["policy", "set", str(slower)])
    assert again.output.splitlines()[0].startswith("Policy saved; it counts as a check-in"), again.output


def test_a_wrong_token_fails_with_a_clear_error(server: tuple[str, Runtime],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong token: exit code 3 and the server's reason."""
    url, _ = server
    monkeypatch.setenv("BATON_URL", url)
    monkeypatch.setenv("BATON_TOKEN", "bt_not-a-token")
    result = CliRunner().invoke(app, ["checkin"])
    assert result.exit_code == 3
    assert "error: the token is not valid (HTTP 401)" in result.output


def test_simulate_prints_the_timeline_as_json_lines(tmp_path: Path) -> None:
    """``baton simulate`` prints one JSON object per event, in time order, without a database."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    result = CliRunner().invoke(app, ["simulate", str(path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["at"], e["event"]) for e in lines] == [
        ("2026-01-10T09:00:00Z", "checkin"), ("2026-02-08T09:00:00Z", "reminder"),
        ("2026-02-09T09:00:00Z", "deadline"), ("2026-02-10T09:00:00Z", "fired"),
        ("2026-02-10T09:00:00Z", "stage")]
    assert lines[-1]["stage"] == "s"


def test_simulate_reads_yaml_and_names_the_bad_event(tmp_path: Path) -> None:
    """A scenario with a bad event: exit code 2 and the event's index in the message."""
    path = tmp_path / "scenario.yaml"
    bad = dict(SCENARIO, events=[{"at": "2026-01-10T09:00:00Z", "type": "checkin"},
                                 {"at": "yesterday", "type": "checkin"}])
    path.write_text(json.dumps(bad))  # JSON is YAML
    result = CliRunner().invoke(app, ["simulate", str(path)])
    assert result.exit_code == 2
    assert ("error: " + str(path) + ": scenario `events[1].at`: expected a moment like 2026-01-01T09:00:00Z, "
            "got 'yesterday'") in result.output


def test_channels_are_added_listed_and_removed(server: tuple[str, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    """``baton channel add|list|remove``: the listing shows the scheme and the server, never the URL's secret
    (here the topic); a channel removed is gone, and removing it again is a 404 (exit code 4)."""
    url, _runtime = server
    runner = CliRunner()
    _init(runner)
    monkeypatch.setenv("BATON_URL", url)
    assert runner.invoke(app, ["channel", "list"]).output == "no channels: alerts go by e-mail only\n"
    added = runner.invoke(app, ["channel", "add", "ntfys://ntfy.example.org/secret-topic-93f1", "--label", "phone"])
    assert added.exit_code == 0 and added.output == "channel 1 added\n", added.output
    refused = runner.invoke(app, ["channel", "add", "json://hooks.example.org/hook?method=DELETE"])
    assert refused.exit_code == 2
    assert "error: url: expected no parameter that sets the HTTP method, got 'method' (HTTP 422)" in refused.output
    inside = runner.invoke(app, ["channel", "add", "json://127.0.0.1:9/hook"])
    assert inside.exit_code == 2
    assert "error: url: 127.0.0.1 is loopback (outbound connections reach public addresses only)" in inside.output
    listed = runner.invoke(app, ["channel", "list"])
    assert listed.exit_code == 0 and listed.output.split() == ["1", "phone", "ntfys", "ntfy.example.org"]
    as_json = json.loads(runner.invoke(app, ["channel", "list", "--json"]).output)
    assert as_json == [{"id": 1, "label": "phone", "scheme": "ntfys", "host": "ntfy.example.org"}]
    assert "secret-topic" not in listed.output
    removed = runner.invoke(app, ["channel", "remove", "1"])
    assert removed.exit_code == 0 and removed.output == "channel 1 removed\n"
    again = runner.invoke(app, ["channel", "remove", "1"])
    assert again.exit_code == 4 and "error: no channel 1 (HTTP 404)" in again.output
    assert runner.invoke(app, ["channel", "list"]).output == "no channels: alerts go by e-mail only\n"


def test_policy_set_warns_of_a_verifier_nobody_can_ask(server: tuple[str, Runtime], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy is saved (exit 0), and standard error says which verifier has no address."""
    url, _runtime = server
    runner = CliRunner()
    _init(runner)
    monkeypatch.setenv("BATON_URL", url)
    policy = tmp_path / "policy.yaml"
    policy.write_text("interval: 30d\nconfirm: {window: 3d, quorum: 1, verifiers: [{name: ana, email: "
                      "ana@example.org}, budi]}\nstages: [{name: staff, after: 0d, audience: [owner]}]\n")
    saved = runner.invoke(app, ["policy", "set", str(policy)])
    assert saved.exit_code == 0, saved.output
    assert saved.stderr == (
        "note: verifier ana was added to People (ana, ana@example.org, language en); edit them on the People page "
        "or with `baton people edit ana`\n"
        "note: verifier budi was added to People (budi, no e-mail address, language en); edit them on the People "
        "page or with `baton people edit budi`\n"
        "warning: verifier budi has no e-mail address: nobody can ask them, so they can never answer (give one: "
        "{name: budi, email: …})\n")
    assert saved.stdout.startswith("Policy saved;")
