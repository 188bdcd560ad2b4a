"""Owners' credentials: argon2id passwords and the TOTP secret ``baton init`` offers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pyotp
import pytest

from baton.runtime import Runtime, build
from baton.services import accounts
from baton.testing import FakeClock
from tests_support import settings_for


def test_a_password_and_a_totp_code_check_out(runtime: Runtime, clock: FakeClock) -> None:
    """The right password and the current TOTP code pass; wrong ones do not; the hash is argon2id."""
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", totp=True)
    assert made.totp_secret is not None and made.totp_uri() is not None
    key = runtime.service.key
    with runtime.engine.begin() as conn:
        assert accounts.verify_password(conn, "Owner@Example.org", "correct horse battery") == made.owner.id
        assert accounts.verify_password(conn, "owner@example.org", "wrong horse battery") is None
        assert accounts.verify_password(conn, "nobody@example.org", "correct horse battery") is None
        code = pyotp.TOTP(made.totp_secret).at(clock.now())
        assert accounts.verify_totp(conn, key, made.owner.id, code, clock.now())
        wrong = "000000" if code != "000000" else "111111"
        assert not accounts.verify_totp(conn, key, made.owner.id, wrong, clock.now())
        stored = conn.execute(accounts.select(accounts.owners.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")


def test_a_totp_code_works_once_and_drift_of_one_step_is_allowed(runtime: Runtime, clock: FakeClock) -> None:
    """A code seen over a shoulder cannot be replayed; last step's code still works once; older ones never."""
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", totp=True)
    assert made.totp_secret is not None
    totp = pyotp.TOTP(made.totp_secret)
    key = runtime.service.key
    with runtime.engine.begin() as conn:
        previous = totp.at(clock.now() - timedelta(seconds=30))
        assert accounts.verify_totp(conn, key, made.owner.id, previous, clock.now())
        assert not accounts.verify_totp(conn, key, made.owner.id, previous, clock.now())  # replayed
        current = totp.at(clock.now())
        assert accounts.verify_totp(conn, key, made.owner.id, f" {current[:3]} {current[3:]} ", clock.now())
        assert not accounts.verify_totp(conn, key, made.owner.id, current, clock.now())
        clock.advance(minutes=5)
        assert not accounts.verify_totp(conn, key, made.owner.id, current, clock.now())  # too old
        assert accounts.verify_totp(conn, key, made.owner.id, totp.at(clock.now()), clock.now())


@pytest.mark.postgres
def test_a_totp_code_raced_by_two_transactions_is_accepted_once(pg_url: str, clock: FakeClock) -> None:
    """Two sign-ins with the same code at the same moment, in overlapping transactions on PostgreSQL: both
    read the code as unused, but only one conditional update takes it; the other is refused."""
    runtime = build(settings_for(pg_url), clock=clock)
    try:
        made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", totp=True)
        assert made.totp_secret is not None
        code = pyotp.TOTP(made.totp_secret).at(clock.now())
        key = runtime.service.key
        first = runtime.engine.connect()
        first.begin()
        assert accounts.verify_totp(first, key, made.owner.id, code, clock.now())  # not committed yet
        second: list[bool] = []

        def racing() -> None:
            with runtime.engine.begin() as conn:  # reads the step as unused; its update waits for the first
                second.append(accounts.verify_totp(conn, key, made.owner.id, code, clock.now()))

        thread = threading.Thread(target=racing)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second transaction should wait on the first one's row lock"
        first.commit()
        first.close()
        thread.join(timeout=10)
        assert second == [False]
    finally:
        runtime.engine.dispose()
