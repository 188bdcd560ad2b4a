"""Wiring: settings to engine, signer, service and worker, for the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from baton import logging_setup
from baton.jobs.channels import Sender
from baton.jobs.outbox import Channel
from baton.jobs.worker import Worker
from baton.services.switch import SwitchService
from baton.settings import Settings
from baton.store import migrate
from baton.store.engine import make_engine
from baton.store.signing import deployment_signer
from baton.timeutil import Clock, SystemClock


@dataclass
class Runtime:
    engine: Engine
    service: SwitchService
    settings: Settings

    def worker(self, senders: dict[Channel, Sender] | None = None) -> Worker:
        worker = Worker(self.service, senders)
        self.service.on_change = worker.poke
        return worker


def build(settings: Settings, *, clock: Clock | None = None, upgrade: bool = True) -> Runtime:
    """Connect (and migrate, unless told not to) and assemble the service."""
    logging_setup.install()  # before the first query: no secret in any log, however loud the loggers are set
    engine = make_engine(settings.resolved_database_url())
    if upgrade:
        migrate.upgrade(engine)
    elif migrate.current_revision(engine) != migrate.head_revision():
        from baton.errors import Conflict
        raise Conflict(f"the database is at revision {migrate.current_revision(engine)}, expected "
                       f"{migrate.head_revision()}; run `baton db upgrade` first")
    service = SwitchService(engine, settings, clock or SystemClock(), deployment_signer(engine))
    return Runtime(engine, service, settings)
