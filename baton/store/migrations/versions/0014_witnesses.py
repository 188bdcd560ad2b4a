"""Witnesses: on the primary, each witness an owner linked; on a witness, each switch it watches for a
primary (a mirror owner holding only ciphertext and the policy) and its operator's one-time pairing codes.

Revision ID: 0014
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "witness_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                        name="fk_witness_links_owner_id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("witness_public", sa.String(128), nullable=False),
        sa.Column("remote_id", sa.Integer, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False, server_default="0"),
        sa.Column("silence_seconds", sa.Float, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("beat_at", UTCDateTime),
        sa.Column("synced_version", sa.Integer),
        sa.Column("problem", sa.Text),
        sa.Column("problem_at", UTCDateTime),
        sa.Column("witness_report", sa.JSON),
        sa.UniqueConstraint("owner_id", "url", name="uq_witness_links_owner_url"),
    )
    op.create_index("ix_witness_links_owner_id", "witness_links", ["owner_id"])
    op.create_table(
        "witnessed",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                        name="fk_witnessed_owner_id"), nullable=False),
        sa.Column("primary_public", sa.String(128), nullable=False),
        sa.Column("primary_url", sa.Text, nullable=False, server_default=""),
        sa.Column("remote_owner", sa.Integer, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False, server_default="0"),
        sa.Column("silence_seconds", sa.Float, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("version", sa.Integer, nullable=False, server_default="-1"),
        sa.Column("heard_at", UTCDateTime, nullable=False),
        sa.Column("reported", sa.JSON),
        sa.Column("taken_over_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("owner_id", name="uq_witnessed_owner_id"),
        sa.UniqueConstraint("primary_public", "remote_owner", name="uq_witnessed_primary_public"),
    )
    op.create_table(
        "witness_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
        sa.UniqueConstraint("code_hash", name="uq_witness_codes_code_hash"),
    )


def downgrade() -> None:
    op.drop_table("witness_codes")
    op.drop_table("witnessed")
    op.drop_index("ix_witness_links_owner_id", "witness_links")
    op.drop_table("witness_links")
