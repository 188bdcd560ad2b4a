"""The witness's tables (migrations 0014 and 0015; DESIGN "Surviving our own server")."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Integer, String, Table, Text, UniqueConstraint, false

from baton.store.schema import UTCDateTime, metadata

# Added by migration 0014 (DESIGN "Surviving our own server"). On the primary, each witness an owner linked;
# on a witness, each switch it watches (its mirror owner holds only ciphertext and the policy), and codes.
witness_links = Table(
    "witness_links", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("witness_public", String(128), nullable=False),  # the witness's Ed25519 key, as compared at pairing
    Column("remote_id", Integer, nullable=False),  # the witness's id for this switch
    Column("rank", Integer, nullable=False, server_default="0"),
    Column("silence_seconds", Float, nullable=False),
    Column("seq", Integer, nullable=False, server_default="0"),  # the last message number used (replay guard)
    Column("created_at", UTCDateTime, nullable=False),
    Column("beat_at", UTCDateTime),  # the last heartbeat the witness acknowledged
    Column("synced_version", Integer),  # the last version the witness stored
    Column("problem", Text), Column("problem_at", UTCDateTime),  # the last failure or refusal, in words
    Column("witness_report", JSON),  # what the witness did while it held the switch (merged on return)
    UniqueConstraint("owner_id", "url", name="uq_witness_links_owner_url"),
)
witnessed = Table(
    "witnessed", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), nullable=False, unique=True),  # the mirror
    Column("primary_public", String(128), nullable=False),
    Column("primary_url", Text, nullable=False, server_default=""),
    Column("remote_owner", Integer, nullable=False),  # the owner's id on the primary
    Column("rank", Integer, nullable=False, server_default="0"),
    Column("silence_seconds", Float, nullable=False),
    Column("last_seq", Integer, nullable=False, server_default="0"),  # the highest message number accepted
    Column("version", Integer, nullable=False, server_default="-1"),  # the highest sync version stored
    Column("heard_at", UTCDateTime, nullable=False),
    Column("reported", JSON),  # the last heartbeat's switch state and version
    Column("taken_over_at", UTCDateTime), Column("created_at", UTCDateTime, nullable=False),
    # Added by migration 0015: the sibling witnesses the primary named in its last heartbeat ([{url, key, rank}]),
    # and the version this witness last yielded at (another witness's claim won).
    Column("siblings", JSON), Column("yielded_version", Integer),
    UniqueConstraint("primary_public", "remote_owner", name="uq_witnessed_primary_public"),
)
# Added by migration 0015: the signed "I take over" records a witness made or learned for a switch it watches
# (its own among them): who, its rank as the primary numbered it, the version it heard, whether it is known to
# hold the switch, and the signed message itself (a witness shows it to its siblings as it was signed).
witness_claims = Table(
    "witness_claims", metadata,
    Column("id", Integer, primary_key=True),
    Column("witnessed_id", ForeignKey("witnessed.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("witness_public", String(128), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("held", Boolean, nullable=False, server_default=false()),
    Column("message", JSON, nullable=False),
    Column("learned_at", UTCDateTime, nullable=False),
    UniqueConstraint("witnessed_id", "witness_public", "version", name="uq_witness_claims_version"),
)
witness_codes = Table(
    "witness_codes", metadata, Column("id", Integer, primary_key=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False), Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)
