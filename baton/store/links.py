"""Links in messages: check-in links in reminders, verifier questions, release requests, holders'
enrolment, key checks and downloads, customers' notices, cancelling a held change.

A link's token is never stored, not even until its message is sent: it is the link's id with a
MAC under a key derived from the deployment's key file (``store.keyfile``). A message is written
to the outbox with a placeholder (``[[link:<id>]]``) that delivery turns into the token as it
sends (``expand``), so the database, its WAL and its backups hold no usable link. Opening a link
(GET) only looks; acting (POST) consumes it with a conditional update, so it works once (or, for
downloads, a few times). Links made before migration 0006 have a stored hash and still resolve.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from nacl.encoding import RawEncoder
from nacl.hash import blake2b
from sqlalchemy import Connection, case, insert, select, update

from baton.errors import LinkError
from baton.store.keyfile import DeploymentKey
from baton.store.tables import links
from switch import hash_token, iso


class Purpose(StrEnum):
    CHECKIN = "checkin"  # single use, expires
    VERIFY = "verify"  # single use, closes with the confirmation window or a new cycle
    REQUEST = "request"  # standing link for a release request; revocable
    ENROL = "enrol"  # a holder sends their public key; single use
    KEYCHECK = "keycheck"  # a holder proves their key opens a sealed challenge; single use
    DOWNLOAD = "download"  # a holder downloads a release package; single use
    NOTICE = "notice"  # a customer reads their notice and answers it; reusable until it expires
    CANCEL = "cancel"  # the owner cancels a change held for a cooling-off; single use, until it takes effect
    COLLECT = "collect"  # a compartment's collector gathers the shares holders forwarded; reusable until it expires


REUSABLE = frozenset({Purpose.REQUEST, Purpose.NOTICE, Purpose.COLLECT})  # links that stay usable after use


PATHS = {Purpose.CHECKIN: "l", Purpose.VERIFY: "v", Purpose.REQUEST: "q", Purpose.ENROL: "e",
         Purpose.KEYCHECK: "k", Purpose.DOWNLOAD: "d", Purpose.NOTICE: "n", Purpose.CANCEL: "x",
         Purpose.COLLECT: "c"}


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    owner_id: int
    purpose: Purpose
    who: str | None
    email: str | None
    cycle: int | None
    expires_at: datetime | None


_MAC_BYTES = 18
_PLACEHOLDER = re.compile(r"\[\[link:(\d+)\]\]")


def create(conn: Connection, owner_id: int, purpose: Purpose, now: datetime, *, expires_at: datetime | None,
           who: str | None = None, email: str | None = None, cycle: int | None = None,
           not_before: datetime | None = None) -> int:
    """Store a new link; its id. Its token is derived from the id when needed (``token``, ``placeholder``)."""
    made = conn.execute(insert(links).values(owner_id=owner_id, purpose=str(purpose), who=who, email=email,
                                             cycle=cycle, created_at=now, expires_at=expires_at,
                                             not_before=not_before)).inserted_primary_key
    assert made is not None
    return int(made[0])


def _mac(key: DeploymentKey, link_id: int) -> bytes:
    return blake2b(str(link_id).encode(), digest_size=_MAC_BYTES, key=key.derive("links"), encoder=RawEncoder)


def token(key: DeploymentKey, link_id: int) -> str:
    """The link's token: its id and a MAC of it (144 bits), URL-safe."""
    raw = link_id.to_bytes(8, "big") + _mac(key, link_id)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def link_id(key: DeploymentKey, text: str) -> int | None:
    """The id a derived token stands for, if its MAC is right; None for anything else."""
    if len(text) != 35 or not text.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except ValueError:
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != text:
        return None  # the last character's two spare bits set: the same bytes, but not a token we made
    found = int.from_bytes(raw[:8], "big")
    return found if hmac.compare_digest(raw[8:], _mac(key, found)) else None


def url(base_url: str, purpose: Purpose, token: str) -> str:
    return f"{base_url}/{PATHS[purpose]}/{token}"


def placeholder(base_url: str, purpose: Purpose, link_id: int) -> str:
    """The link's address as written into a stored message: delivery puts the token in as it sends."""
    return f"{base_url}/{PATHS[purpose]}/[[link:{link_id}]]"


def expand(key: DeploymentKey, text: str) -> str:
    """A stored message's text with each placeholder made the link's token (for sending only)."""
    return _PLACEHOLDER.sub(lambda m: token(key, int(m.group(1))), text)


_PLACED_URL = re.compile(r"\S*\[\[link:\??\d+\]\]")
_PENDING = re.compile(r"\[\[link:\?(\d+)\]\]")


def pending_placeholder(base_url: str, purpose: Purpose, number: int) -> str:
    """The address of a link not stored yet (the ``number``-th of a batch, see ``create_many``)."""
    return f"{base_url}/{PATHS[purpose]}/[[link:?{number}]]"


def create_many(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Store many links in one multi-row insert (``rows`` as ``create`` takes them, ``purpose`` a string);
    their ids, in order: the ``n``-th is the one ``pending_placeholder(..., n)`` stands for."""
    if not rows:
        return []
    return [int(i) for i in conn.execute(insert(links).returning(links.c.id, sort_by_parameter_order=True),
                                         rows).scalars()]


def settle(text: str, ids: list[int]) -> str:
    """``text`` with each pending placeholder made the stored link's placeholder."""
    return _PENDING.sub(lambda m: f"[[link:{ids[int(m.group(1))]}]]", text) if "[[link:?" in text else text


def without_links(text: str, note: str) -> str:
    """``text`` with every placeholder's address made ``note`` (chat and push channels get no link)."""
    return _PLACED_URL.sub(note, text)


def _row(conn: Connection, key: DeploymentKey, text: str) -> object | None:
    found = link_id(key, text)
    if found is not None:
        return conn.execute(select(links).where(links.c.id == found, links.c.token_hash.is_(None))).first()
    return conn.execute(select(links).where(links.c.token_hash == hash_token(text))).first()  # before 0006


def resolve(conn: Connection, key: DeploymentKey, token: str, purpose: Purpose, now: datetime) -> Link:
    """The usable link behind ``token``, or a ``LinkError`` that explains itself."""
    row: Any = _row(conn, key, token)
    if row is None or row.purpose != purpose:
        raise LinkError("unknown", "This link is not known. Check that it was copied whole.")
    if row.revoked_at is not None:
        raise LinkError("revoked", "This link was withdrawn by the owner.")
    if row.used_at is not None and purpose not in REUSABLE:
        raise LinkError("used", f"This link was already used, at {iso(row.used_at)}. Each link works once.")
    if row.expires_at is not None and row.expires_at <= now:
        raise LinkError("expired", f"This link expired at {iso(row.expires_at)}.")
    if row.not_before is not None and now < row.not_before:
        raise LinkError("waiting", f"This link works from {iso(row.not_before)}: the owner was told about it "
                                   f"and may withdraw it before then.")
    return Link(row.id, row.owner_id, Purpose(row.purpose), row.who, row.email, row.cycle, row.expires_at)


def made_for(conn: Connection, key: DeploymentKey, token: str, purpose: Purpose) -> tuple[int, str | None] | None:
    """(owner id, who) of the link behind ``token``, used, expired or withdrawn alike; None if unknown.

    Only for explaining a refusal (in its person's language): it never says the link is usable.
    """
    row: Any = _row(conn, key, token)
    return None if row is None or row.purpose != purpose else (row.owner_id, row.who)


def revoke_for(conn: Connection, owner_id: int, who: str, purposes: tuple[Purpose, ...], now: datetime) -> int:
    """Withdraw every unused link of these purposes made for ``who`` (a person removed: a link sent to
    their old address must not act for someone added later under the same name)."""
    mine = (links.c.who == who) | links.c.who.startswith(f"{who}#", autoescape=True)  # key checks: name#check
    return conn.execute(update(links).where(
        links.c.owner_id == owner_id, mine, links.c.purpose.in_([str(p) for p in purposes]),
        links.c.used_at.is_(None), links.c.revoked_at.is_(None)).values(revoked_at=now)).rowcount


def withdraw(conn: Connection, link_id: int, now: datetime) -> None:
    """Withdraw one link (a requester the owner removed, a held change cancelled)."""
    conn.execute(update(links).where(links.c.id == link_id, links.c.revoked_at.is_(None)).values(revoked_at=now))


def withdraw_for(conn: Connection, owner_id: int, purpose: Purpose, who: str, now: datetime) -> None:
    """Withdraw the unused links of one purpose made for ``who`` (a settled change's cancel link)."""
    conn.execute(update(links).where(links.c.owner_id == owner_id, links.c.purpose == str(purpose),
                                     links.c.who == who, links.c.used_at.is_(None), links.c.revoked_at.is_(None))
                 .values(revoked_at=now))


def consume(conn: Connection, link: Link, now: datetime, uses: int = 1) -> None:
    """Count a use of a link; a link of ``uses`` uses is spent at its last one (a download may be tried again
    after a broken transfer). A use beyond the last, even a concurrent one, fails with ``LinkError``."""
    if link.purpose in REUSABLE:
        conn.execute(update(links).where(links.c.id == link.id).values(used_at=now))
        return
    if uses > 1:
        counted = conn.execute(update(links).where(links.c.id == link.id, links.c.used_at.is_(None),
                                                   links.c.uses < uses)
                               .values(uses=links.c.uses + 1,
                                       used_at=case((links.c.uses + 1 >= uses, now), else_=None)))
        if counted.rowcount != 1:
            raise LinkError("used", f"This link was already used {uses} times, as many as it may be.")
        return
    done = conn.execute(update(links).where(links.c.id == link.id, links.c.used_at.is_(None))
                        .values(used_at=now))
    if done.rowcount != 1:
        raise LinkError("used", "This link was already used. Each link works once.")
