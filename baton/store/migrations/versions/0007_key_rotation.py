"""Signing-key rotation: each owner's row names the key that signs its next audit entry
(``audit_key``), so a process still holding a replaced key cannot sign after a rotation; each
rotation is kept with the old key's and the new key's signatures on it (``key_rotations``), for the
packages that carry the history to holders who know an older fingerprint.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_rotations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("old_public", sa.String(128), nullable=False),
        sa.Column("new_public", sa.String(128), nullable=False, unique=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("signed_by_old", sa.String(128), nullable=False),
        sa.Column("signed_by_new", sa.String(128), nullable=False),
    )
    with op.batch_alter_table("owners") as batch:  # a new column: rebuilding owners would cascade on SQLite
        batch.add_column(sa.Column("audit_key", sa.String(128)))
    # Every chain so far was signed by the one key the deployment has had.
    op.execute("UPDATE owners SET audit_key = (SELECT public FROM deployment_keys "
               "WHERE purpose = 'audit-ed25519')")


def downgrade() -> None:
    with op.batch_alter_table("owners") as batch:
        batch.drop_column("audit_key")
    op.drop_table("key_rotations")
