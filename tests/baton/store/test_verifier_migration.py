"""Migration 0013: the verifiers a policy names at 0008 become People entries the policy names by their id."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from baton.store import migrate
from baton.store.engine import make_engine

POLICY = {"interval": "30d", "timezone": "Europe/Rome",
          "confirm": {"window": "3d", "quorum": 2, "verifiers": [
              {"name": "Giulia Rossi", "email": "giulia@example.org"}, "budi",
              {"name": "ana", "email": "ana@example.org"}]},
          "stages": [{"name": "tell", "after": "0d", "audience": ["owner", "Giulia Rossi"], "action": "notify"}]}


def test_a_database_at_0008_with_policy_verifiers_upgrades_and_they_are_in_people(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0008")
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO owners (email, password_hash, timezone, language, created_at, audit_seq) "
                             "VALUES ('old@example.org', 'x', 'Europe/Rome', 'it', :now, 0)"), {"now": now})
        conn.execute(sa.text("INSERT INTO switches (owner_id, policy, state, status, next_due_at, version, "
                             "updated_at) VALUES (1, :policy, '{}', 'armed', :now, 3, :now)"),
                     {"now": now, "policy": json.dumps(POLICY)})
        # ana is a heir already: the verifier ana becomes ana-verifier; a verifier budi exists without an address.
        for name, role in (("ana", "heir"), ("budi", "verifier")):
            conn.execute(sa.text("INSERT INTO people (owner_id, name, display_name, email, language, role, "
                                 "created_at) VALUES (1, :name, :name, NULL, 'en', :role, :now)"),
                         {"name": name, "role": role, "now": now})
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        policy = conn.execute(sa.text("SELECT policy FROM switches")).scalar()
        people = conn.execute(sa.text("SELECT name, display_name, email, language, role, timezone FROM people "
                                      "ORDER BY name")).all()
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert policy["confirm"] == {"window": "3d", "quorum": 2, "verifiers": ["giulia-rossi", "budi", "ana-verifier"]}
    assert policy["stages"][0]["audience"] == ["owner", "giulia-rossi"]
    assert [tuple(p) for p in people] == [
        ("ana", "ana", None, "en", "heir", None),
        ("ana-verifier", "ana", "ana@example.org", "it", "verifier", None),
        ("budi", "budi", None, "en", "verifier", None),
        ("giulia-rossi", "Giulia Rossi", "giulia@example.org", "it", "verifier", None),
    ]
    migrate.upgrade(engine)  # at head already: nothing changes
    engine.dispose()


def test_the_upgraded_policy_is_one_the_service_reads_and_asks_by(db_url: str) -> None:
    """After the upgrade the service loads the policy and finds each verifier's address in People."""
    from baton.runtime import build
    from baton.services import verifiers
    from baton.testing import FakeClock
    from switch import policy_from_dict, unaskable_verifiers
    from tests_support import settings_for

    engine = make_engine(db_url)
    migrate.upgrade(engine, "0008")
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO owners (email, password_hash, timezone, language, created_at, audit_seq) "
                             "VALUES ('old@example.org', 'x', 'Europe/Rome', 'en', :now, 0)"), {"now": now})
        conn.execute(sa.text("INSERT INTO switches (owner_id, policy, state, status, next_due_at, version, "
                             "updated_at) VALUES (1, :policy, '{}', 'armed', :now, 3, :now)"),
                     {"now": now, "policy": json.dumps(POLICY)})
    engine.dispose()
    runtime = build(settings_for(db_url), clock=FakeClock())
    stored = policy_from_dict(runtime.service.get_policy(1))
    addressed = verifiers.addressed_policy(runtime.engine, 1, stored)
    assert unaskable_verifiers(addressed) == ("budi",)
    runtime.engine.dispose()
