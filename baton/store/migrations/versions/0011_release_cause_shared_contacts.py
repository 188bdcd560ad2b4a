"""A release keeps why the switch fired as data (so each holder reads it in their language), and each
person may let the other holders of their compartments see their contact (default: only the name).

Revision ID: 0011
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("cause", sa.JSON))
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("share_contact", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("share_contact")
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("cause")
