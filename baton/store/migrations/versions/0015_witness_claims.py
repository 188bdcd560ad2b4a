"""Witness claims: the sibling witnesses a primary names to each witness, the version a witness last yielded
at, and the signed "I take over" records witnesses exchange before acting.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("witnessed") as batch:
        batch.add_column(sa.Column("siblings", sa.JSON))
        batch.add_column(sa.Column("yielded_version", sa.Integer))
    op.create_table(
        "witness_claims",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("witnessed_id", sa.Integer, sa.ForeignKey("witnessed.id", ondelete="CASCADE",
                                                            name="fk_witness_claims_witnessed_id"), nullable=False),
        sa.Column("witness_public", sa.String(128), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Column("held", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("message", sa.JSON, nullable=False),
        sa.Column("learned_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("witnessed_id", "witness_public", "version", name="uq_witness_claims_version"),
    )
    op.create_index("ix_witness_claims_witnessed_id", "witness_claims", ["witnessed_id"])


def downgrade() -> None:
    op.drop_index("ix_witness_claims_witnessed_id", "witness_claims")
    op.drop_table("witness_claims")
    with op.batch_alter_table("witnessed") as batch:
        batch.drop_column("yielded_version")
        batch.drop_column("siblings")
