"""Where a recorded step's rows go: at once (``Direct``: one switch in its own transaction, as every
owner's act is recorded), or gathered for a batch of due switches and written together (``Gathered``:
multi-row inserts of the transitions, audit entries, links and outbox messages, one head move per
owner's audit chain). Both write the same rows in the same order per switch; ``Gathered`` only
saves the round trips. Its links are given their ids when the batch is written: a message refers to
a link not stored yet by a pending placeholder, which ``flush`` makes the stored link's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from baton.jobs import outbox
from baton.store import auditlog, links
from baton.store.links import Purpose
from baton.store.signing import DeploymentSigner
from baton.store.tables import channels, switches, transitions

INSERT_TRANSITION = insert(transitions)
_CHANNELS = select(channels.c.owner_id, channels.c.url).where(
    channels.c.owner_id.in_(bindparam("ids", expanding=True))).order_by(channels.c.id)
_MOVE_SWITCH = update(switches).where(switches.c.id == bindparam("switch_id"), switches.c.version == bindparam("seen"))
Head = tuple[int, str | None]


class Direct:
    """Each row written as it comes, in the caller's transaction."""

    def __init__(self, conn: Connection, signer: DeploymentSigner) -> None:
        self.conn, self.signer = conn, signer

    def transition(self, values: dict[str, Any]) -> None:
        self.conn.execute(INSERT_TRANSITION, values)

    def audit(self, owner_id: int, at: datetime, kind: str, data: dict[str, Any], head: Head | None) -> Head | None:
        entry = auditlog.append(self.conn, self.signer, owner_id, at, kind, data, head=head)
        return entry.seq, entry.hash

    def message(self, **values: Any) -> None:
        outbox.enqueue(self.conn, **values)

    def link_url(self, base_url: str, purpose: Purpose, owner_id: int, now: datetime, *,
                 expires_at: datetime | None, who: str | None = None, cycle: int | None = None) -> str:
        link_id = links.create(self.conn, owner_id, purpose, now, expires_at=expires_at, who=who, cycle=cycle)
        return links.placeholder(base_url, purpose, link_id)

    def channel_urls(self, owner_id: int) -> list[str]:
        return [r.url for r in self.conn.execute(
            select(channels.c.url).where(channels.c.owner_id == owner_id).order_by(channels.c.id))]

    @property
    def direct(self) -> bool:
        return True


class Gathered:
    """The rows of a batch of switches, written by ``flush``; ``mark`` and ``undo`` drop one switch's."""

    def __init__(self, conn: Connection, signer: DeploymentSigner, owner_ids: Iterable[int]) -> None:
        self.conn, self.signer = conn, signer
        self._channels: dict[int, list[str]] = {}
        ids = sorted(set(owner_ids))
        if ids:
            for r in conn.execute(_CHANNELS, {"ids": ids}):
                self._channels.setdefault(r.owner_id, []).append(r.url)
        self.moves: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []
        self.audits: list[auditlog.Item] = []
        self.messages: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []

    # -- one switch -----------------------------------------------------------------------------
    def mark(self) -> tuple[int, ...]:
        return (len(self.moves), len(self.transitions), len(self.audits), len(self.messages), len(self.links))

    def undo(self, mark: tuple[int, ...]) -> None:
        """Forget what was gathered since ``mark`` (a switch whose step failed)."""
        lists: tuple[list[Any], ...] = (self.moves, self.transitions, self.audits, self.messages, self.links)
        for rows, length in zip(lists, mark, strict=True):
            del rows[length:]

    def move(self, switch_id: int, seen: int, values: dict[str, Any]) -> None:
        """Store a switch's new state (conditional on the version read, as ``SwitchService._store``)."""
        self.moves.append({**values, "switch_id": switch_id, "seen": seen})

    def transition(self, values: dict[str, Any]) -> None:
        self.transitions.append(values)

    def audit(self, owner_id: int, at: datetime, kind: str, data: dict[str, Any], head: Head | None) -> Head | None:
        self.audits.append((owner_id, at, kind, data))
        return None  # chained when written

    def message(self, **values: Any) -> None:
        self.messages.append(outbox.row(**values))

    def link_url(self, base_url: str, purpose: Purpose, owner_id: int, now: datetime, *,
                 expires_at: datetime | None, who: str | None = None, cycle: int | None = None) -> str:
        self.links.append(dict(owner_id=owner_id, purpose=str(purpose), who=who, email=None, cycle=cycle,
                               created_at=now, expires_at=expires_at, not_before=None))
        return links.pending_placeholder(base_url, purpose, len(self.links) - 1)

    def channel_urls(self, owner_id: int) -> list[str]:
        return list(self._channels.get(owner_id, ()))

    @property
    def direct(self) -> bool:
        return False

    # -- the batch ------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything gathered: a few multi-row statements, whatever the batch's size."""
        conn = self.conn
        if self.moves:
            moved = conn.execute(_MOVE_SWITCH, self.moves)
            if conn.dialect.supports_sane_multi_rowcount and moved.rowcount != len(self.moves):
                raise RuntimeError("a switch of the batch changed under its lock")
        ids = links.create_many(conn, self.links)
        if ids:
            for row in self.messages:
                row["body_text"] = links.settle(row["body_text"], ids)
                if row["body_html"]:
                    row["body_html"] = links.settle(row["body_html"], ids)
        if self.transitions:
            conn.execute(INSERT_TRANSITION, self.transitions)
        auditlog.append_many(conn, self.signer, self.audits)
        outbox.enqueue_many(conn, self.messages)
