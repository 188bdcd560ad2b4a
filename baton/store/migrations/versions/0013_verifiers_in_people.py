"""Verifiers live in People: each policy's verifiers become People entries (role verifier) and the policy
names them by their short id; people get an optional time zone (the dates their messages show).

A verifier written in a policy as ``{"name": "Giulia Rossi", "email": …}`` becomes the People entry
``giulia-rossi`` (display name "Giulia Rossi", the policy's address, the owner's language); a stage
audience that named them names the id. A People entry of that id that is a verifier already is kept
(and given the policy's address, which is the one that was asked); one with another role makes the
verifier ``<id>-verifier``. Policies still waiting for their cooling-off are rewritten the same way.

Revision ID: 0013
Revises: 0008
"""

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")

_people = sa.table("people", sa.column("id", sa.Integer), sa.column("owner_id", sa.Integer),
                   sa.column("name", sa.String), sa.column("display_name", sa.String),
                   sa.column("email", sa.String), sa.column("language", sa.String), sa.column("role", sa.String),
                   sa.column("created_at", sa.DateTime), sa.column("removed_at", sa.DateTime))
_switches = sa.table("switches", sa.column("id", sa.Integer), sa.column("owner_id", sa.Integer),
                     sa.column("policy", sa.JSON))
_changes = sa.table("pending_changes", sa.column("id", sa.Integer), sa.column("owner_id", sa.Integer),
                    sa.column("kind", sa.String), sa.column("payload", sa.JSON), sa.column("settled_at", sa.DateTime))
_owners = sa.table("owners", sa.column("id", sa.Integer), sa.column("language", sa.String))


def _slug(name: str) -> str:
    if _ID.fullmatch(name):
        return name
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-._")[:54]
    return slug or "verifier"


def _person(conn: sa.Connection, owner_id: int, name: str, email: str | None, now: datetime) -> str:
    """The People id of the policy's verifier ``name``, made or completed as needed."""
    base = _slug(name)
    candidate, n = base, 0
    while True:
        row = conn.execute(sa.select(_people).where(_people.c.owner_id == owner_id,
                                                    _people.c.name == candidate)).first()
        if row is None:
            language = conn.execute(sa.select(_owners.c.language).where(_owners.c.id == owner_id)).scalar()
            conn.execute(sa.insert(_people).values(owner_id=owner_id, name=candidate, display_name=name[:200],
                                                   email=email, language=language or "en", role="verifier",
                                                   created_at=now))
            return candidate
        if row.role == "verifier":
            values: dict[str, Any] = {"removed_at": None}  # the policy asks them: they are in People
            if email:
                values["email"] = email
            conn.execute(sa.update(_people).where(_people.c.id == row.id).values(**values))
            return candidate
        n += 1
        candidate = f"{base}-verifier" if n == 1 else f"{base}-verifier{n}"


def _rewrite(conn: sa.Connection, owner_id: int, policy: Any, now: datetime) -> Any:
    confirm = policy.get("confirm") if isinstance(policy, dict) else None
    if not isinstance(confirm, dict) or not isinstance(confirm.get("verifiers"), list):
        return None
    renamed: dict[str, str] = {}
    names: list[str] = []
    for item in confirm["verifiers"]:
        if isinstance(item, str):
            name, email = item, None
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            name, email = item["name"], item.get("email")
        else:
            return None  # not a policy this code wrote: left as it is
        name = name.strip()
        renamed[name] = _person(conn, owner_id, name, email.strip().lower() if isinstance(email, str) else None, now)
        names.append(renamed[name])
    stages = [{**s, "audience": [renamed.get(a, a) for a in s.get("audience", [])]}
              if isinstance(s, dict) else s for s in policy.get("stages", [])]
    return {**policy, "confirm": {**confirm, "verifiers": names}, "stages": stages}


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:  # a new column: SQLite adds it in place
        batch.add_column(sa.Column("timezone", sa.String(64)))
    conn = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    for row in conn.execute(sa.select(_switches)).all():
        policy = _rewrite(conn, row.owner_id, row.policy, now)
        if policy is not None:
            conn.execute(sa.update(_switches).where(_switches.c.id == row.id).values(policy=policy))
    for row in conn.execute(sa.select(_changes).where(_changes.c.kind == "policy",
                                                      _changes.c.settled_at.is_(None))).all():
        policy = _rewrite(conn, row.owner_id, row.payload, now)
        if policy is not None:
            conn.execute(sa.update(_changes).where(_changes.c.id == row.id).values(payload=policy))


def downgrade() -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(_switches)).all():
        confirm = row.policy.get("confirm") if isinstance(row.policy, dict) else None
        if not isinstance(confirm, dict):
            continue
        written = []
        for name in confirm.get("verifiers", []):
            email = conn.execute(sa.select(_people.c.email).where(_people.c.owner_id == row.owner_id,
                                                                  _people.c.name == name)).scalar()
            written.append({"name": name, "email": email} if email else name)
        conn.execute(sa.update(_switches).where(_switches.c.id == row.id).values(
            policy={**row.policy, "confirm": {**confirm, "verifiers": written}}))
    with op.batch_alter_table("people") as batch:
        batch.drop_column("timezone")
