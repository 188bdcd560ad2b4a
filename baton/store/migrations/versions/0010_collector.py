"""A compartment's collector, and the shares holders forward to them sealed in their own browsers.

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("compartments", sa.Column("collector_id", sa.Integer))
    op.create_table(
        "forwarded_shares",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id", ondelete="CASCADE",
                                                          name="fk_forwarded_shares_package_id"), nullable=False),
        sa.Column("collector_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE",
                                                            name="fk_forwarded_shares_collector_id"), nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_forwarded_shares"),
        sa.UniqueConstraint("package_id", name="uq_forwarded_shares_package_id"),
    )
    op.create_index("ix_forwarded_shares_collector_id", "forwarded_shares", ["collector_id"])


def downgrade() -> None:
    op.drop_index("ix_forwarded_shares_collector_id", "forwarded_shares")
    op.drop_table("forwarded_shares")
    with op.batch_alter_table("compartments") as batch:
        batch.drop_column("collector_id")
