"""``baton people add|edit|remove`` manage the verifiers the policy asks, against a live server on SQLite and
PostgreSQL: one added is asked when the switch reaches its confirmation window; one removed is not, once the
cooling-off has passed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from baton.cli.app import app
from baton.http.app import create_app
from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.settings import get_settings
from baton.store.tables import outbox
from baton.testing import FakeClock, RecordingSender
from tests_support import live_server, settings_for

POLICY = {"interval": "30d", "grace": "1d", "confirm": {"window": "3d", "quorum": 1,
                                                        "verifiers": [{"name": "marco", "email": "marco@example.org"}]},
          "stages": [{"name": "tell", "after": "0d", "audience": ["owner"], "action": "notify"}]}


@dataclass
class Served:
    runtime: Runtime
    owner: int
    clock: FakeClock

    def asked_at_confirmation(self) -> list[str]:
        """Run the switch past its deadline and grace; who got the verifier's question."""
        service = self.runtime.service
        worker = self.runtime.worker(senders={Channel.EMAIL: RecordingSender(), Channel.APPRISE: RecordingSender()})
        deadline = service.status(self.owner).deadline
        self.clock.advance(seconds=(deadline - self.clock.now()).total_seconds() + 60)
        worker.run_once()
        self.clock.advance(days=1)
        worker.run_once()
        assert service.status(self.owner).status == "confirming"
        with self.runtime.engine.connect() as conn:
            return [r.recipient for r in conn.execute(select(outbox.c.recipient).where(outbox.c.purpose == "verify")
                                                      .order_by(outbox.c.id))]


@pytest.fixture
def served(db_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    runtime = build(settings_for(db_url, cooling_off_hours=72), clock=clock)
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", policy=POLICY)
    with live_server(create_app(runtime.service)) as url:
        monkeypatch.setenv("BATON_URL", url)
        monkeypatch.setenv("BATON_TOKEN", made.api_token)
        get_settings.cache_clear()
        yield Served(runtime, made.owner.id, clock)
    get_settings.cache_clear()
    runtime.engine.dispose()


def test_a_verifier_added_with_the_cli_is_asked(served: Served) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["people", "add", "giulia", "--role", "verifier", "--email", "giulia@example.org",
                                "--language", "it", "--display-name", "Giulia Rossi", "--timezone", "Europe/Rome"])
    assert added.exit_code == 0, added.output
    assert added.output == "added giulia (verifier)\nyour policy asks them from now on\n"
    edited = runner.invoke(app, ["people", "edit", "giulia", "--display-name", "Giulia R."])
    assert edited.exit_code == 0 and edited.output == "saved giulia\n"
    listed = runner.invoke(app, ["people", "list"])
    assert "giulia" in listed.output and "giulia@example.org" in listed.output
    assert served.asked_at_confirmation() == ["marco@example.org", "giulia@example.org"]


def test_a_verifier_removed_with_the_cli_is_not_asked_after_the_cooling_off(served: Served) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["people", "add", "giulia", "--role", "verifier", "--email",
                               "giulia@example.org"]).exit_code == 0
    removed = runner.invoke(app, ["people", "remove", "giulia"])
    assert removed.exit_code == 0, removed.output
    assert removed.output.startswith("removed giulia; your policy still asks them until ")
    assert removed.output.endswith(" (removing a verifier waits a cooling-off)\n")
    served.clock.advance(hours=72, seconds=1)
    served.runtime.worker(senders={Channel.EMAIL: RecordingSender()}).run_once()
    assert served.asked_at_confirmation() == ["marco@example.org"]


def test_edit_needs_something_to_change(served: Served) -> None:
    said = CliRunner().invoke(app, ["people", "edit", "giulia"])
    assert said.exit_code == 2
    assert "expected at least one of --display-name, --email, --language, --timezone, got none" in said.output
