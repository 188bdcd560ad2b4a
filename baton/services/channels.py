"""The owner's alert channels (Apprise URLs): added when they keep the rules, listed without their
secrets, removed.

A URL may carry a secret (a webhook token, a password), so nothing here returns or audits one: a
listing shows the id, the label, the scheme and the server named (``baton.channelrules``). Removing
a channel stops alerts to it at once: the worker sends an Apprise message only while its URL is
still one of the owner's channels (``baton.jobs.delivery``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from baton import channelrules
from baton.errors import BadRequest, NotFound
from baton.netguard import Guard, parse_networks
from baton.settings import Settings
from baton.store import auditlog
from baton.store.engine import reading
from baton.store.signing import DeploymentSigner
from baton.store.tables import channels

MAX_LABEL = 100  # channels.label is VARCHAR(100)


def guard_of(settings: Settings) -> Guard:
    """The outbound guard as the settings describe it."""
    return Guard(parse_networks(settings.outbound_allow), settings.outbound_connect_timeout,
                 settings.outbound_read_timeout)


def add(engine: Engine, settings: Settings, signer: DeploymentSigner, owner_id: int, url: str, label: str,
        now: datetime) -> int:
    """Store ``url`` for the owner's alerts if it keeps every rule; BadRequest naming the rule otherwise."""
    try:
        described = channelrules.check(url, settings.apprise_schemes, guard_of(settings))
    except channelrules.ChannelRefused as exc:
        raise BadRequest(f"url: {exc}") from None
    label = label.strip()
    if len(label) > MAX_LABEL:
        raise BadRequest(f"label: expected at most {MAX_LABEL} characters, got {len(label)}")
    with engine.begin() as conn:
        channel_id = conn.execute(insert(channels).values(owner_id=owner_id, url=url.strip(),
                                                          label=label or described.scheme,
                                                          created_at=now)).inserted_primary_key[0]  # type: ignore[index]
        auditlog.append(conn, signer, owner_id, now, "channel.added",
                        {"channel": channel_id, "label": label, "scheme": described.scheme})
    return int(channel_id)


def listed(engine: Engine, owner_id: int) -> list[dict[str, Any]]:
    """The owner's channels, oldest first: id, label, scheme and host — never the URL."""
    with reading(engine) as conn:
        rows = conn.execute(select(channels.c.id, channels.c.label, channels.c.url)
                            .where(channels.c.owner_id == owner_id).order_by(channels.c.id)).all()
    shown = []
    for row in rows:
        described = channelrules.describe(row.url)
        shown.append({"id": row.id, "label": row.label, "scheme": described.scheme, "host": described.host})
    return shown


def remove(engine: Engine, signer: DeploymentSigner, owner_id: int, channel_id: int, now: datetime) -> None:
    """Remove one of the owner's channels; NotFound for an id that is not the owner's (or none at all)."""
    with engine.begin() as conn:
        row = conn.execute(delete(channels).where(channels.c.id == channel_id, channels.c.owner_id == owner_id)
                           .returning(channels.c.label, channels.c.url)).first()
        if row is None:
            raise NotFound(f"no channel {channel_id}")
        auditlog.append(conn, signer, owner_id, now, "channel.removed",
                        {"channel": channel_id, "label": row.label, "scheme": channelrules.scheme_of(row.url)})


def still_listed(conn: Connection, owner_id: int, url: str) -> bool:
    """Whether ``url`` is still one of the owner's channels (an alert to a removed one is not sent)."""
    return conn.execute(select(channels.c.id).where(channels.c.owner_id == owner_id, channels.c.url == url)
                        .limit(1)).first() is not None
