"""The witness's tables (migration 0014; DESIGN "Surviving our own server")."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, String, Table, Text, UniqueConstraint

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
    UniqueConstraint("primary_public", "remote_owner", name="uq_witnessed_primary_public"),
)
witness_codes = Table(
    "witness_codes", metadata, Column("id", Integer, primary_key=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False), Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)
