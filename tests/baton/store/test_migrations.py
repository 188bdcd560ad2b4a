"""Alembic migrations: a database made by an older revision upgrades without losing rows."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from baton.store import migrate
from baton.store.engine import make_engine


def test_the_schema_is_created_from_nothing(db_url: str) -> None:
    """Upgrading an empty database reaches the newest revision with every table."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision() == "0015"
    tables = set(sa.inspect(engine).get_table_names())
    assert {"owners", "api_tokens", "switches", "transitions", "audit_entries", "deployment_keys", "outbox",
            "links", "channels"} <= tables
    engine.dispose()


def test_a_database_from_revision_0001_upgrades_without_losing_rows(db_url: str) -> None:
    """Rows written under 0001 are all there, unchanged, after the upgrade to head."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0001")
    assert "outbox" not in sa.inspect(engine).get_table_names()
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO owners (email, password_hash, timezone, language, created_at, audit_seq) "
                             "VALUES ('old@example.org', 'x', 'Europe/Rome', 'it', :now, 0)"), {"now": now})
        conn.execute(sa.text("INSERT INTO switches (owner_id, policy, state, status, next_due_at, version, "
                             "updated_at) VALUES (1, '{\"interval\": \"30d\"}', '{}', 'armed', :now, 3, :now)"),
                     {"now": now})
        conn.execute(sa.text("INSERT INTO transitions (switch_id, owner_id, cycle, kind, reason, due_at, "
                             "recorded_at, data) VALUES (1, 1, 0, 'checkin', 'kept', :now, :now, '{}')"),
                     {"now": now})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        owner = conn.execute(sa.text("SELECT email, timezone, language FROM owners")).one()
        switch = conn.execute(sa.text("SELECT status, version FROM switches")).one()
        reason = conn.execute(sa.text("SELECT reason FROM transitions")).scalar()
    assert tuple(owner) == ("old@example.org", "Europe/Rome", "it")
    assert tuple(switch) == ("armed", 3) and reason == "kept"
    assert migrate.current_revision(engine) == "0015"
    engine.dispose()


def test_0007_names_the_one_key_every_earlier_chain_was_signed_with(db_url: str) -> None:
    """Owners from before key rotation existed get the deployment's key as the key of their chain."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0006")
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO owners (email, password_hash, timezone, language, created_at, audit_seq) "
                             "VALUES ('old@example.org', 'x', 'Europe/Rome', 'it', :now, 0)"), {"now": now})
        conn.execute(sa.text("INSERT INTO deployment_keys (purpose, secret, public, created_at) "
                             "VALUES ('audit-ed25519', 'sealed:v1:x', :public, :now)"),
                     {"public": "ab" * 32, "now": now})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT audit_key FROM owners")).scalar() == "ab" * 32
        assert conn.execute(sa.text("SELECT count(*) FROM key_rotations")).scalar() == 0
    engine.dispose()
