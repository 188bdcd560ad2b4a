"""Accounts, switches, transitions, the audit chain and the deployment keys.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owners",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=False, server_default="en"),
        sa.Column("totp_secret", sa.String(64)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("audit_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("audit_head", sa.String(64)),
        sa.UniqueConstraint("email", name="uq_owners_email"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                         name="fk_api_tokens_owner_id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_used_at", UTCDateTime),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_owner_id", "api_tokens", ["owner_id"])
    op.create_table(
        "switches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                         name="fk_switches_owner_id"), nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_due_at", UTCDateTime),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("owner_id", name="uq_switches_owner_id"),
    )
    op.create_index("ix_switches_due", "switches", ["next_due_at"],
                    sqlite_where=sa.text("next_due_at IS NOT NULL"),
                    postgresql_where=sa.text("next_due_at IS NOT NULL"))
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("switch_id", sa.Integer, sa.ForeignKey("switches.id", ondelete="CASCADE",
                                                          name="fk_transitions_switch_id"), nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(100)),
        sa.Column("who", sa.String(100)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_transitions_switch", "transitions", ["switch_id", "id"])
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                         name="fk_audit_entries_owner_id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.UniqueConstraint("owner_id", "seq", name="uq_audit_entries_owner_seq"),
    )
    op.create_table(
        "deployment_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("public", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("purpose", name="uq_deployment_keys_purpose"),
    )


def downgrade() -> None:
    for table in ("deployment_keys", "audit_entries", "transitions", "switches", "api_tokens", "owners"):
        op.drop_table(table)
