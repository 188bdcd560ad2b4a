"""Owners' credentials: argon2id passwords and the TOTP secret ``baton init`` offers."""

from __future__ import annotations

from datetime import timedelta

import pyotp

from baton.runtime import Runtime
from baton.services import accounts
from baton.testing import FakeClock


def test_a_password_and_a_totp_code_check_out(runtime: Runtime, clock: FakeClock) -> None:
    """The right password and the current TOTP code pass; wrong ones do not; the hash is argon2id."""
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", totp=True)
    assert made.totp_secret is not None and made.totp_uri() is not None
    with runtime.engine.begin() as conn:
        assert accounts.verify_password(conn, "Owner@Example.org", "correct horse battery") == made.owner.id
        assert accounts.verify_password(conn, "owner@example.org", "wrong horse battery") is None
        assert accounts.verify_password(conn, "nobody@example.org", "correct horse battery") is None
        code = pyotp.TOTP(made.totp_secret).at(clock.now())
        assert accounts.verify_totp(conn, made.owner.id, code, clock.now())
        assert not accounts.verify_totp(conn, made.owner.id, "000000" if code != "000000" else "111111", clock.now())
        stored = conn.execute(accounts.select(accounts.owners.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")


def test_a_totp_code_works_once_and_drift_of_one_step_is_allowed(runtime: Runtime, clock: FakeClock) -> None:
    """A code seen over a shoulder cannot be replayed; last step's code still works once; older ones never."""
    made = runtime.service.create_owner("owner@example.org", "correct horse battery", "Europe/Rome", totp=True)
    assert made.totp_secret is not None
    totp = pyotp.TOTP(made.totp_secret)
    with runtime.engine.begin() as conn:
        previous = totp.at(clock.now() - timedelta(seconds=30))
        assert accounts.verify_totp(conn, made.owner.id, previous, clock.now())
        assert not accounts.verify_totp(conn, made.owner.id, previous, clock.now())  # replayed
        current = totp.at(clock.now())
        assert accounts.verify_totp(conn, made.owner.id, f" {current[:3]} {current[3:]} ", clock.now())
        assert not accounts.verify_totp(conn, made.owner.id, current, clock.now())
        clock.advance(minutes=5)
        assert not accounts.verify_totp(conn, made.owner.id, current, clock.now())  # too old
        assert accounts.verify_totp(conn, made.owner.id, totp.at(clock.now()), clock.now())
