"""The vault's migration (0003): a database made under 0002 upgrades to it without losing rows."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from baton.store import migrate
from baton.store.engine import make_engine

VAULT_TABLES = {"vault_keys", "compartments", "people", "splits", "sealed_shares", "key_checks", "releases",
                "packages"}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None)


def _at_0002(db_url: str) -> Engine:
    """A database at revision 0002 with an owner, a switch, a transition, an outbox message and a link."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO owners (email, password_hash, timezone, language, created_at, audit_seq) "
                             "VALUES ('old@example.org', 'x', 'Europe/Rome', 'it', :now, 0)"), {"now": NOW})
        conn.execute(sa.text("INSERT INTO switches (owner_id, policy, state, status, next_due_at, version, "
                             "updated_at) VALUES (1, '{\"interval\": \"30d\"}', '{}', 'armed', :now, 3, :now)"),
                     {"now": NOW})
        conn.execute(sa.text("INSERT INTO transitions (switch_id, owner_id, cycle, kind, reason, due_at, "
                             "recorded_at, data) VALUES (1, 1, 0, 'checkin', 'kept', :now, :now, '{}')"),
                     {"now": NOW})
        conn.execute(sa.text("INSERT INTO outbox (owner_id, dedup_key, channel, recipient, purpose, subject, "
                             "body_text, created_at, next_attempt_at) VALUES (1, 'c0/reminder', 'email', "
                             "'old@example.org', 'reminder', 'Check in', 'Please check in.', :now, :now)"),
                     {"now": NOW})
        conn.execute(sa.text("INSERT INTO links (token_hash, owner_id, purpose, created_at) "
                             "VALUES ('ab12', 1, 'checkin', :now)"), {"now": NOW})
    return engine


def test_a_database_from_revision_0002_upgrades_to_the_vault_without_losing_rows(db_url: str) -> None:
    """Every row written under 0002 is there, unchanged, at head."""
    engine = _at_0002(db_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        owner = conn.execute(sa.text("SELECT email, timezone, language FROM owners")).one()
        switch = conn.execute(sa.text("SELECT owner_id, status, version FROM switches")).one()
        reason = conn.execute(sa.text("SELECT reason FROM transitions")).scalar_one()
        message = conn.execute(sa.text("SELECT recipient, subject, body_text, attempts FROM outbox")).one()
        link = conn.execute(sa.text("SELECT token_hash, purpose FROM links")).one()
    assert migrate.current_revision(engine) == migrate.head_revision() == "0015"
    assert tuple(owner) == ("old@example.org", "Europe/Rome", "it")
    assert tuple(switch) == (1, "armed", 3) and reason == "kept"
    assert tuple(message) == ("old@example.org", "Check in", "Please check in.", 0)
    assert tuple(link) == ("ab12", "checkin")
    engine.dispose()


def test_the_upgrade_from_0002_creates_the_vault_tables(db_url: str) -> None:
    """The vault's tables are missing at 0002 and all there after the upgrade, empty."""
    engine = _at_0002(db_url)
    assert not VAULT_TABLES & set(sa.inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= VAULT_TABLES
    with engine.connect() as conn:
        assert {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in VAULT_TABLES} == \
            dict.fromkeys(VAULT_TABLES, 0)
    engine.dispose()


def test_the_vault_tables_take_rows_for_an_owner_made_before_them(db_url: str) -> None:
    """After the upgrade the old owner gets a vault key, a compartment and a holder (keys and defaults work)."""
    engine = _at_0002(db_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO vault_keys (owner_id, recipient, created_at) VALUES (1, 'age1x', :now)"),
                     {"now": NOW})
        conn.execute(sa.text("INSERT INTO compartments (owner_id, name, release_recipient, release_key_owner, "
                             "created_at, updated_at) VALUES (1, 'operations', 'age1y', :kept, :now, :now)"),
                     {"now": NOW, "kept": b"age-encryption.org/v1\n"})
        conn.execute(sa.text("INSERT INTO people (owner_id, name, display_name, role, created_at) "
                             "VALUES (1, 'ana', 'Ana', 'heir', :now)"), {"now": NOW})
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM compartments")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT language FROM people")).scalar_one() == "en"
    engine.dispose()
