"""Wiring: settings to engine, signer, service and worker, for the CLI and the tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from baton import logging_setup
from baton.jobs.channels import Sender
from baton.jobs.outbox import Channel
from baton.jobs.worker import Worker
from baton.services import accounts
from baton.services.switch import SwitchService
from baton.settings import Settings
from baton.store import keyfile, migrate
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


def private_folder(folder: Path) -> None:
    """The data folder (SQLite, blobs, packages, the key file) readable by the service's user alone."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_mode & 0o077 and folder.stat().st_uid == os.getuid():
        os.chmod(folder, 0o700)


def build(settings: Settings, *, clock: Clock | None = None, upgrade: bool = True) -> Runtime:
    """Connect (and migrate, unless told not to) and assemble the service."""
    logging_setup.install()  # before the first query: no secret in any log, however loud the loggers are set
    private_folder(settings.data_dir)
    engine = make_engine(settings.resolved_database_url())
    if upgrade:
        migrate.upgrade(engine)
    elif migrate.current_revision(engine) != migrate.head_revision():
        from baton.errors import Conflict
        raise Conflict(f"the database is at revision {migrate.current_revision(engine)}, expected "
                       f"{migrate.head_revision()}; run `baton db upgrade` first")
    key = keyfile.load(keyfile.key_path(settings.data_dir, settings.key_file), engine)
    service = SwitchService(engine, settings, clock or SystemClock(), deployment_signer(engine, key), key)
    with engine.begin() as conn:
        accounts.seal_plain_totp(conn, key)
    return Runtime(engine, service, settings)
