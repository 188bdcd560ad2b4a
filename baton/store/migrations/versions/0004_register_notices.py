"""The handover: the business register (registrars, customers, domains, hosting), imports,
the owner's handover profile, and customer notices with their answers.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from baton.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _owner(table: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                           name=f"fk_{table}_owner_id"), nullable=False)


def _imported() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("import_seq", sa.Integer, nullable=False), sa.Column("import_row", sa.Integer, nullable=False)]


def upgrade() -> None:
    no = sa.false()
    op.create_table(
        "registrars",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("registrars"),
        sa.Column("rid", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("ticket_email", sa.String(320)),
        sa.Column("reseller_move", sa.Boolean, nullable=False, server_default=no),
        sa.Column("epp", sa.Boolean, nullable=False, server_default=no),
        sa.Column("reseller_account", sa.Text),
        sa.Column("documents", sa.JSON, nullable=False),
        sa.Column("website", sa.Text),
        *_imported(),
        sa.UniqueConstraint("owner_id", "rid", name="uq_registrars_owner_rid"),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("customers"),
        sa.Column("cid", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("language", sa.String(16)),
        sa.Column("country", sa.String(2)),
        sa.Column("company", sa.Text),
        *_imported(),
        sa.UniqueConstraint("owner_id", "cid", name="uq_customers_owner_cid"),
    )
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("domains"),
        sa.Column("ascii", sa.String(253), nullable=False),
        sa.Column("unicode", sa.Text, nullable=False),
        sa.Column("customer", sa.String(100), nullable=False),
        sa.Column("registrar", sa.String(100), nullable=False),
        sa.Column("registrar_account", sa.Text),
        sa.Column("expires", sa.Date, nullable=False),
        sa.Column("created", sa.Date),
        sa.Column("last_transfer", sa.Date),
        sa.Column("last_owner_change", sa.Date),
        sa.Column("owner_change_opt_out", sa.Boolean, nullable=False, server_default=no),
        sa.Column("statuses", sa.JSON, nullable=False),
        sa.Column("auto_renew", sa.Boolean, nullable=False, server_default=no),
        sa.Column("registrant", sa.String(16), nullable=False),
        sa.Column("checked_at", UTCDateTime),
        *_imported(),
        sa.UniqueConstraint("owner_id", "ascii", name="uq_domains_owner_ascii"),
    )
    op.create_index("ix_domains_owner_customer", "domains", ["owner_id", "customer"])
    op.create_table(
        "hosting",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("hosting"),
        sa.Column("hid", sa.String(100), nullable=False),
        sa.Column("customer", sa.String(100), nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("paid_until", sa.Date, nullable=False),
        sa.Column("panel", sa.Text),
        sa.Column("plan", sa.Text),
        sa.Column("server", sa.Text),
        sa.Column("price", sa.String(40)),
        sa.Column("currency", sa.String(3)),
        sa.Column("cycle", sa.String(16)),
        sa.Column("packaging", sa.String(16), nullable=False),
        sa.Column("account", sa.Text),
        sa.Column("domain", sa.Text),
        *_imported(),
        sa.UniqueConstraint("owner_id", "hid", name="uq_hosting_owner_hid"),
    )
    op.create_index("ix_hosting_owner_customer", "hosting", ["owner_id", "customer"])
    op.create_table(
        "register_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("register_imports"),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
    )
    op.create_index("ix_register_imports_owner_id", "register_imports", ["owner_id"])
    op.create_table(
        "handover_profiles",
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id", ondelete="CASCADE",
                                                         name="fk_handover_profiles_owner_id"), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id", ondelete="CASCADE",
                                                           name="fk_notices_release_id"), nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("customer", sa.String(100), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("read_at", UTCDateTime),
        sa.Column("answered_at", UTCDateTime),
        sa.Column("answer", sa.JSON),
        sa.UniqueConstraint("release_id", "customer", name="uq_notices_release_customer"),
    )
    op.create_index("ix_notices_owner_id", "notices", ["owner_id"])


def downgrade() -> None:
    for table in ("notices", "handover_profiles", "register_imports", "hosting", "domains", "customers",
                  "registrars"):
        op.drop_table(table)
