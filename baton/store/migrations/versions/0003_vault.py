"""The vault: the owner's vault key, compartments, people, splits and sealed shares, key checks, releases.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _owner(table: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                           name=f"fk_{table}_owner_id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "vault_keys",
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                         name="fk_vault_keys_owner_id"), primary_key=True),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "compartments",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("compartments"),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("release_recipient", sa.Text, nullable=False),
        sa.Column("release_key_owner", sa.LargeBinary, nullable=False),
        sa.Column("blob_sha256", sa.String(64)),
        sa.Column("blob_size", sa.Integer),
        sa.Column("split_id", sa.Integer),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("owner_id", "name", name="uq_compartments_owner_name"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("people"),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("language", sa.String(16), nullable=False, server_default="en"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("recipient", sa.Text),
        sa.Column("recipient_kind", sa.String(16)),
        sa.Column("key_source", sa.String(16)),
        sa.Column("enrolled_at", UTCDateTime),
        sa.Column("verified_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("removed_at", UTCDateTime),
        sa.UniqueConstraint("owner_id", "name", name="uq_people_owner_name"),
    )
    op.create_table(
        "splits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("compartment_id", sa.Integer, sa.ForeignKey("compartments.id", ondelete="CASCADE",
                                                               name="fk_splits_compartment_id"), nullable=False),
        sa.Column("slip39_id", sa.Integer, nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("protected_release_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_splits_compartment_id", "splits", ["compartment_id"])
    op.create_table(
        "sealed_shares",
        sa.Column("split_id", sa.Integer, sa.ForeignKey("splits.id", ondelete="CASCADE",
                                                         name="fk_sealed_shares_split_id"), primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE",
                                                          name="fk_sealed_shares_person_id"), primary_key=True),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "key_checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE",
                                                          name="fk_key_checks_person_id"), nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("proven_at", UTCDateTime),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_key_checks_person_id", "key_checks", ["person_id"])
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("releases"),
        sa.Column("drill", sa.Boolean, nullable=False),
        sa.Column("stage", sa.String(100), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("audit_seq", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("owner_id", "drill", "cycle", "stage", name="uq_releases_owner_drill_cycle_stage"),
    )
    op.create_index("ix_releases_owner_id", "releases", ["owner_id"])
    op.create_table(
        "packages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id", ondelete="CASCADE",
                                                           name="fk_packages_release_id"), nullable=False),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE",
                                                          name="fk_packages_person_id"), nullable=False),
        sa.Column("compartment_id", sa.Integer, sa.ForeignKey("compartments.id", ondelete="CASCADE",
                                                               name="fk_packages_compartment_id"), nullable=False),
        sa.Column("split_id", sa.Integer, sa.ForeignKey("splits.id", name="fk_packages_split_id"), nullable=False),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.Column("folder", sa.String(200), nullable=False),
        sa.Column("built_at", UTCDateTime),
        sa.Column("downloaded_at", UTCDateTime),
        sa.UniqueConstraint("release_id", "person_id", "compartment_id",
                            name="uq_packages_release_person_compartment"),
    )
    op.create_index("ix_packages_release_id", "packages", ["release_id"])


def downgrade() -> None:
    for table in ("packages", "releases", "key_checks", "sealed_shares", "splits", "people", "compartments",
                  "vault_keys"):
        op.drop_table(table)
