"""The transactional outbox, one-time links and the owner's alert channels.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                         name="fk_outbox_owner_id"), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_until", UTCDateTime),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("failed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("dedup_key", name="uq_outbox_dedup_key"),
    )
    op.create_index("ix_outbox_pending", "outbox", ["next_attempt_at"],
                    sqlite_where=sa.text("sent_at IS NULL"), postgresql_where=sa.text("sent_at IS NULL"))
    op.create_table(
        "links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                         name="fk_links_owner_id"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("who", sa.String(100)),
        sa.Column("email", sa.String(320)),
        sa.Column("cycle", sa.Integer),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("used_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
        sa.UniqueConstraint("token_hash", name="uq_links_token_hash"),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                         name="fk_channels_owner_id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_channels_owner_id", "channels", ["owner_id"])


def downgrade() -> None:
    for table in ("channels", "links", "outbox"):
        op.drop_table(table)
