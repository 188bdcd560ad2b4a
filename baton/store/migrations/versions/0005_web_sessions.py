"""The owner's web sign-in: sessions (only a hash of the cookie is kept) and one use per TOTP code;
an index for the owner's timeline (the dashboard reads its newest entries).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("owners") as batch:
        batch.add_column(sa.Column("totp_last_step", sa.Integer))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                        name="fk_web_sessions_owner_id"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("address", sa.String(64), nullable=False, server_default=""),
        sa.Column("user_agent", sa.String(200), nullable=False, server_default=""),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
    )
    op.create_index("ix_web_sessions_owner_id", "web_sessions", ["owner_id"])
    op.create_index("ix_transitions_owner", "transitions", ["owner_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_transitions_owner", table_name="transitions")
    op.drop_index("ix_web_sessions_owner_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("owners") as batch:
        batch.drop_column("totp_last_step")
