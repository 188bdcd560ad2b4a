"""The tables (their metadata and UTC moments: ``store.schema``; the witness's: ``store.witness_tables``)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from baton.store.schema import UTCDateTime, metadata

owners = Table(
    "owners", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("language", String(16), nullable=False, server_default="en"),
    Column("totp_secret", String(64)),  # before 0006 only: moved into totp_sealed at start-up
    Column("totp_sealed", String(200)),  # the TOTP secret sealed under the deployment key file
    Column("totp_last_step", Integer),  # the last TOTP time step accepted: a code works once
    Column("created_at", UTCDateTime, nullable=False),
    Column("audit_seq", Integer, nullable=False, server_default="0"),
    Column("audit_head", String(64)),
    Column("audit_key", String(128)),  # 0007: the public key that signs this owner's next entry
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(100), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
)

switches = Table(
    "switches", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("policy", JSON, nullable=False),
    Column("state", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("next_due_at", UTCDateTime),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("change_due_at", UTCDateTime),  # the earliest pending change's moment (migration 0006)
)
# The worker's due-query reads only this partial index, whatever the number of idle switches.
Index("ix_switches_due", switches.c.next_due_at,
      sqlite_where=switches.c.next_due_at.isnot(None),
      postgresql_where=switches.c.next_due_at.isnot(None))

transitions = Table(
    "transitions", metadata,
    Column("id", Integer, primary_key=True),
    Column("switch_id", ForeignKey("switches.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", Integer, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("stage", String(100)),
    Column("who", String(100)),
    Column("reason", Text, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),  # when the policy made it happen
    Column("recorded_at", UTCDateTime, nullable=False),  # when the service recorded it
    Column("data", JSON, nullable=False),
)
Index("ix_transitions_switch", transitions.c.switch_id, transitions.c.id)
Index("ix_transitions_owner", transitions.c.owner_id, transitions.c.id)  # the owner's timeline, newest first

audit_entries = Table(
    "audit_entries", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    UniqueConstraint("owner_id", "seq", name="uq_audit_entries_owner_seq"),
)

deployment_keys = Table(
    "deployment_keys", metadata,
    Column("id", Integer, primary_key=True),
    Column("purpose", String(32), nullable=False, unique=True),
    Column("secret", String(300), nullable=False),  # sealed under the deployment key file
    Column("public", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Added by migration 0007: each replacement of a deployment key, signed by the old key and the new.
key_rotations = Table(
    "key_rotations", metadata,
    Column("id", Integer, primary_key=True),
    Column("purpose", String(32), nullable=False),
    Column("old_public", String(128), nullable=False),
    Column("new_public", String(128), nullable=False, unique=True),
    Column("at", UTCDateTime, nullable=False),
    Column("signed_by_old", String(128), nullable=False),
    Column("signed_by_new", String(128), nullable=False),
)

# Added by migration 0002.
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("dedup_key", String(200), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),  # email | apprise
    Column("recipient", Text, nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_by", String(64)),
    Column("claimed_until", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("failed", Boolean, nullable=False, server_default=false()),
    Column("last_error", Text),
)
Index("ix_outbox_pending", outbox.c.next_attempt_at,
      sqlite_where=outbox.c.sent_at.is_(None), postgresql_where=outbox.c.sent_at.is_(None))

links = Table(
    "links", metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), unique=True),  # links made before 0006; newer tokens are derived
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),  # store.links.Purpose
    Column("who", String(100)),
    Column("email", String(320)),
    Column("cycle", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("not_before", UTCDateTime),  # a link held by a cooling-off works from then (0006)
    Column("uses", Integer, nullable=False, server_default="0"),  # downloads count their uses (0006)
)

channels = Table(
    "channels", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("url", Text, nullable=False),  # an Apprise URL; may hold a webhook secret
    Column("label", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


# Added by migration 0003: the vault. The server keeps only ciphertext and public keys.
vault_keys = Table(
    "vault_keys", metadata,
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), primary_key=True),
    Column("recipient", Text, nullable=False),  # the owner's age public key
    Column("created_at", UTCDateTime, nullable=False),
)

compartments = Table(
    "compartments", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("release_recipient", Text, nullable=False),
    Column("release_key_owner", LargeBinary, nullable=False),  # the release key, age-encrypted to the owner
    Column("blob_sha256", String(64)),  # the compartment file in the blob store
    Column("blob_size", BigInteger().with_variant(Integer, "sqlite")),  # up to 2 GiB and more (0006)
    Column("split_id", Integer),  # the current split (splits.id)
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("collector_id", Integer),  # people.id: whom holders may forward their opened shares to (0010)
    UniqueConstraint("owner_id", "name", name="uq_compartments_owner_name"),
)

people = Table(
    "people", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(63), nullable=False),  # a short id: ana, notary-rossi
    Column("display_name", String(200), nullable=False),
    Column("email", String(320)),
    Column("language", String(16), nullable=False, server_default="en"),
    Column("timezone", String(64)),  # 0013: the zone their messages' dates are shown in (else the owner's)
    Column("role", String(16), nullable=False),  # heir | staff | notary | verifier
    Column("recipient", Text),  # age or SSH public key, once enrolled
    Column("recipient_kind", String(16)),
    Column("key_source", String(16)),  # enrolled | keycard | owner
    Column("enrolled_at", UTCDateTime),
    Column("verified_at", UTCDateTime),  # last proof that the key still opens what is sealed to it
    Column("created_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
    # 0011: the other holders of a compartment see this person's e-mail in their package (else the name only)
    Column("share_contact", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("owner_id", "name", name="uq_people_owner_name"),
)

splits = Table(
    "splits", metadata,
    Column("id", Integer, primary_key=True),
    Column("compartment_id", ForeignKey("compartments.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("slip39_id", Integer, nullable=False),
    Column("policy", JSON, nullable=False),
    Column("protected_release_key", LargeBinary, nullable=False),  # age, passphrase = master secret
    Column("created_at", UTCDateTime, nullable=False),
)

sealed_shares = Table(
    "sealed_shares", metadata,
    Column("split_id", ForeignKey("splits.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Column("recipient", Text, nullable=False),  # what it was sealed to
    Column("sealed", LargeBinary, nullable=False),
)

key_checks = Table(
    "key_checks", metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("recipient", Text, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("reason", String(16), nullable=False),  # enrol | drill | owner
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("proven_at", UTCDateTime),
    Column("failures", Integer, nullable=False, server_default="0"),
)

releases = Table(
    "releases", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("drill", Boolean, nullable=False),
    Column("stage", String(100), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("cause", JSON),  # 0011: the reason as data (switch.machine._fire), said in each holder's language
    Column("audit_seq", Integer, nullable=False),  # the excerpt ends here
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner_id", "drill", "cycle", "stage", name="uq_releases_owner_drill_cycle_stage"),
)

packages = Table(
    "packages", metadata,
    Column("id", Integer, primary_key=True),
    Column("release_id", ForeignKey("releases.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    Column("compartment_id", ForeignKey("compartments.id", ondelete="CASCADE"), nullable=False),
    Column("split_id", ForeignKey("splits.id"), nullable=False),
    Column("blob_sha256", String(64), nullable=False),
    Column("folder", String(200), nullable=False),  # under data_dir/packages
    Column("built_at", UTCDateTime),
    Column("downloaded_at", UTCDateTime),
    UniqueConstraint("release_id", "person_id", "compartment_id", name="uq_packages_release_person_compartment"),
)

forwarded_shares = Table(
    "forwarded_shares", metadata,  # a holder's share, sealed in their browser to the compartment's collector (0010)
    Column("id", Integer, primary_key=True),
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("collector_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("recipient", Text, nullable=False),  # the collector's key it was sealed to
    Column("sealed", LargeBinary, nullable=False),  # age ciphertext only: the server cannot open it
    Column("created_at", UTCDateTime, nullable=False),
)


# -- the handover's register (one row per record; re-imports update in place by id) ------------
registrars = Table(
    "registrars", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("rid", String(100), nullable=False),
    Column("name", Text, nullable=False),
    Column("ticket_email", String(320)),
    Column("reseller_move", Boolean, nullable=False, server_default=false()),
    Column("epp", Boolean, nullable=False, server_default=false()),
    Column("reseller_account", Text),
    Column("documents", JSON, nullable=False),
    Column("website", Text),
    Column("import_seq", Integer, nullable=False),  # the import that wrote it last
    Column("import_row", Integer, nullable=False),  # its row there (to name a duplicate's first row)
    UniqueConstraint("owner_id", "rid", name="uq_registrars_owner_rid"),
)

customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("cid", String(100), nullable=False),
    Column("name", Text, nullable=False),
    Column("email", String(320)),
    Column("language", String(16)),
    Column("country", String(2)),
    Column("company", Text),
    Column("import_seq", Integer, nullable=False),
    Column("import_row", Integer, nullable=False),
    UniqueConstraint("owner_id", "cid", name="uq_customers_owner_cid"),
)

domains = Table(
    "domains", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("ascii", String(253), nullable=False),
    Column("unicode", Text, nullable=False),
    Column("customer", String(100), nullable=False),
    Column("registrar", String(100), nullable=False),
    Column("registrar_account", Text),
    Column("expires", Date, nullable=False),
    Column("created", Date),
    Column("last_transfer", Date),
    Column("last_owner_change", Date),
    Column("owner_change_opt_out", Boolean, nullable=False, server_default=false()),
    Column("statuses", JSON, nullable=False),
    Column("auto_renew", Boolean, nullable=False, server_default=false()),
    Column("registrant", String(16), nullable=False),
    Column("checked_at", UTCDateTime),  # last refreshed over RDAP
    Column("import_seq", Integer, nullable=False),
    Column("import_row", Integer, nullable=False),
    UniqueConstraint("owner_id", "ascii", name="uq_domains_owner_ascii"),
)
Index("ix_domains_owner_customer", domains.c.owner_id, domains.c.customer)

hosting = Table(
    "hosting", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("hid", String(100), nullable=False),
    Column("customer", String(100), nullable=False),
    Column("provider", Text, nullable=False),
    Column("paid_until", Date, nullable=False),
    Column("panel", Text),
    Column("plan", Text),
    Column("server", Text),
    Column("price", String(40)),  # a decimal, kept exact as text
    Column("currency", String(3)),
    Column("cycle", String(16)),
    Column("packaging", String(16), nullable=False),
    Column("account", Text),
    Column("domain", Text),
    Column("import_seq", Integer, nullable=False),
    Column("import_row", Integer, nullable=False),
    UniqueConstraint("owner_id", "hid", name="uq_hosting_owner_hid"),
)
Index("ix_hosting_owner_customer", hosting.c.owner_id, hosting.c.customer)

register_imports = Table(
    "register_imports", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("report", JSON, nullable=False),
)

handover_profiles = Table(
    "handover_profiles", metadata,
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

notices = Table(
    "notices", metadata,
    Column("id", Integer, primary_key=True),
    Column("release_id", ForeignKey("releases.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", Integer, nullable=False, index=True),
    Column("customer", String(100), nullable=False),
    Column("language", String(16), nullable=False),
    Column("email", String(320)),
    Column("context", JSON, nullable=False),  # what the notice said (for the page and the printable copy)
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime),
    Column("answered_at", UTCDateTime),
    Column("answer", JSON),
    UniqueConstraint("release_id", "customer", name="uq_notices_release_customer"),
)


web_sessions = Table(
    "web_sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # the cookie's value is never stored
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # absolute end; idle end is seen_at + idle
    Column("address", String(64), nullable=False, server_default=""),
    Column("user_agent", String(200), nullable=False, server_default=""),
)


# Added by migration 0006: changes that would hasten a release, held for a cooling-off.
pending_changes = Table(
    "pending_changes", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # policy | requester | channel | verifier
    Column("payload", JSON, nullable=False),  # the new policy, or the link or channel it concerns
    Column("reasons", JSON, nullable=False),  # why it could hasten a release, in plain words
    Column("via", String(32), nullable=False),  # api | web
    Column("created_at", UTCDateTime, nullable=False),
    Column("takes_effect_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime),
    Column("outcome", String(16)),  # applied | cancelled | dropped
)


# Added by migration 0008: each worker's last sign of life (store.heartbeats), for /healthz and the dashboard.
worker_heartbeats = Table(
    "worker_heartbeats", metadata,
    Column("worker", String(64), primary_key=True),  # Worker.name: host:pid:random
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("beat_at", UTCDateTime, nullable=False, index=True),
    Column("events", Integer, nullable=False, server_default="0"),  # switch events recorded since the last beat
    Column("sent", Integer, nullable=False, server_default="0"),  # messages sent since the last beat
    Column("failures", Integer, nullable=False, server_default="0"),  # runs that failed since the last beat
)


# The witness's tables live in their own module; importing it here puts them in ``metadata`` (Alembic, backups).
from baton.store.witness_tables import witness_claims, witness_codes, witness_links, witnessed  # noqa: E402

__all__ = ["UTCDateTime", "metadata", "witness_claims", "witness_codes", "witness_links", "witnessed"]
