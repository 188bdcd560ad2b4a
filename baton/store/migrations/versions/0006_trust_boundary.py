"""The trust boundary: changes that would hasten a release wait in ``pending_changes`` (and the
switch knows when the next one is due); links derived from a key outside the database need no
stored hash, may start later (``not_before``) and count their uses; secrets are kept sealed
(``totp_sealed``; the signing key's column grows).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                        name="fk_pending_changes_owner_id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("takes_effect_at", UTCDateTime, nullable=False),
        sa.Column("settled_at", UTCDateTime),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("ix_pending_changes_owner_id", "pending_changes", ["owner_id"])
    with op.batch_alter_table("switches") as batch:
        batch.add_column(sa.Column("change_due_at", UTCDateTime))
    with op.batch_alter_table("links") as batch:
        batch.alter_column("token_hash", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("not_before", UTCDateTime))
        batch.add_column(sa.Column("uses", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("owners") as batch:  # a new column: rebuilding owners would cascade on SQLite
        batch.add_column(sa.Column("totp_sealed", sa.String(200)))
    with op.batch_alter_table("deployment_keys") as batch:
        batch.alter_column("secret", existing_type=sa.String(128), type_=sa.String(300))
    if op.get_bind().dialect.name != "sqlite":  # a 2 GiB compartment (the upload limit) passes 32 bits;
        # SQLite's INTEGER has 64 already, and rebuilding compartments there would cascade to its shares
        op.alter_column("compartments", "blob_size", existing_type=sa.Integer, type_=sa.BigInteger)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("compartments", "blob_size", existing_type=sa.BigInteger, type_=sa.Integer)
    with op.batch_alter_table("deployment_keys") as batch:
        batch.alter_column("secret", existing_type=sa.String(300), type_=sa.String(128))
    with op.batch_alter_table("owners") as batch:
        batch.drop_column("totp_sealed")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("uses")
        batch.drop_column("not_before")
        batch.alter_column("token_hash", existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("switches") as batch:
        batch.drop_column("change_due_at")
    op.drop_index("ix_pending_changes_owner_id", table_name="pending_changes")
    op.drop_table("pending_changes")
