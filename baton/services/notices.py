"""Customer notices: the ``notify_customers`` stage action, drill notices, the answer page, and
what the successors' machine fetches to build the registrar requests.

The stage action writes, in the transaction that records the stage, one notice per
customer (in the customer's language, with a personal link) and its e-mail in the
outbox, in batches. A drill writes the same notices but e-mails only the owner: one
sample per language, marked DRILL, each saying whom it would have gone to. Stored
notices keep no live link: the link's token exists only in the e-mail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from baton.errors import NotFound
from baton.jobs.outbox import Channel, recipient_tag
from baton.services import actions
from baton.settings import Settings
from baton.store import auditlog, links
from baton.store.engine import insert_id, reading
from baton.store.keyfile import DeploymentKey
from baton.store.links import Purpose
from baton.store.register import load_register, profile_to_dict, read_profile
from baton.store.signing import DeploymentSigner
from baton.store.tables import links as links_table
from baton.store.tables import notices, outbox, owners, releases
from baton.timeutil import local_date
from handover import i18n
from handover.model import Customer, HandoverProfile, RefundFrom, Register
from handover.notices import notice_context
from handover.serial import answer_from_dict, answer_to_dict, register_rows
from handover.transition import at_least
from switch import iso

BATCH = 500
ACCOUNT = re.compile(r"^[A-Za-z0-9._@+\-]{1,100}$")
NOTE_MAX = 2000


@dataclass
class NoticeRun:
    """What issuing the notices of one release did."""

    release: int
    notices: int = 0
    emailed: int = 0
    without_email: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.release, "notices": self.notices, "emailed": self.emailed,
                "without_email": self.without_email}


def default_profile(owner_email: str) -> HandoverProfile:
    """Used when the owner set no profile (readiness says so): the owner's address stands for both names."""
    return HandoverProfile(business=owner_email.split("@")[-1], owner_name=owner_email)


def release_row(conn: Connection, owner_id: int, *, drill: bool, stage: str, cycle: int, reason: str,
                now: datetime) -> int:
    head = conn.execute(select(owners.c.audit_seq).where(owners.c.id == owner_id)).scalar_one()
    return insert_id(conn, insert(releases).values(owner_id=owner_id, drill=drill, stage=stage, cycle=cycle,
                                                   reason=reason, audit_seq=head, created_at=now))


def issue_notices(conn: Connection, settings: Settings, owner_id: int, owner_email: str, release_id: int, *,
                  drill: bool, cycle: int, now: datetime) -> NoticeRun:
    """Write every customer's notice and e-mail (to the customer; in a drill, samples to the owner)."""
    register = load_register(conn, owner_id)
    profile = at_least(read_profile(conn, owner_id) or default_profile(owner_email), settings.minimum_terms())
    timezone = conn.execute(select(owners.c.timezone).where(owners.c.id == owner_id)).scalar_one()
    run = NoticeRun(release_id)
    sampled: set[str] = set()
    concerned = (c for c in register.customers.values() if register.domains_of(c.id) or register.hosting_of(c.id))
    while batch := list(islice(concerned, BATCH)):
        _issue_batch(conn, settings, owner_id, owner_email, release_id, register, profile, batch, drill, cycle,
                     now, local_date(now, timezone), run, sampled)
    return run


def _issue_batch(conn: Connection, settings: Settings, owner_id: int, owner_email: str, release_id: int,
                 register: Register, profile: HandoverProfile, batch: Sequence[Customer], drill: bool, cycle: int,
                 now: datetime, today: date, run: NoticeRun, sampled: set[str]) -> None:
    """``today`` is the notice's date: the owner's local date (customers' dates are counted from it)."""
    rules = settings.transfer_rules()
    contexts = [notice_context(customer, register, profile, today, rules, link=None, drill=drill,
                               refund_from=RefundFrom(settings.refund_from)) for customer in batch]
    notice_rows = [{"release_id": release_id, "owner_id": owner_id, "customer": customer.id,
                    "language": i18n.supported(customer.language), "email": customer.email, "context": context,
                    "created_at": now} for customer, context in zip(batch, contexts, strict=True)]
    made = conn.execute(insert(notices).returning(notices.c.id, sort_by_parameter_order=True),
                        notice_rows).scalars().all()
    link_ids = conn.execute(insert(links_table).returning(links_table.c.id, sort_by_parameter_order=True), [
        _link_row(owner_id, notice_id, customer.email, cycle, settings, now)
        for notice_id, customer in zip(made, batch, strict=True)]).scalars().all()
    mails = []
    for customer, context, link_id in zip(batch, contexts, link_ids, strict=True):
        language = i18n.supported(customer.language)
        context = {**context, "link": links.placeholder(settings.base_url, Purpose.NOTICE, link_id)}
        if customer.email is None:
            run.without_email.append(customer.id)
        recipient = customer.email
        if drill:
            recipient = owner_email if language not in sampled else None
            sampled.add(language)
        if recipient is None:
            continue
        mail = i18n.render_blocks("notices/notice.j2", language, **context)
        text = mail["text"] + "\n"
        if drill:
            text = (f"[DRILL] A sample of the notice customer {customer.id} ({customer.email or 'no e-mail'}) "
                    f"would receive, in {language}. Nothing was sent to them.\n\n") + text
        html = i18n.render("notices/email.html", language, subject=mail["subject"], body=mail["html"])
        mails.append({"owner_id": owner_id, "dedup_key": f"c{cycle}/notice/{release_id}/{customer.id}:email:"
                                                          f"{recipient_tag(recipient)}",
                      "channel": str(Channel.EMAIL), "recipient": recipient, "purpose": "notice",
                      "subject": mail["subject"], "body_text": text, "body_html": html, "created_at": now,
                      "next_attempt_at": now, "attempts": 0})
    if mails:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(outbox).on_conflict_do_nothing(index_elements=["dedup_key"]), mails)
    run.notices += len(notice_rows)
    run.emailed += len(mails)


def _link_row(owner_id: int, notice_id: int, email: str | None, cycle: int | None, settings: Settings,
              now: datetime) -> dict[str, Any]:
    """A notice's personal link (several may lead to one notice: the e-mailed one, a printed one)."""
    return {"owner_id": owner_id, "purpose": str(Purpose.NOTICE), "who": f"notice:{notice_id}",
            "email": email, "cycle": cycle, "created_at": now,
            "expires_at": now + timedelta(days=settings.notice_link_days)}


@actions.register("notify_customers")
def notify_customers(run: actions.StageRun) -> None:
    """Send every customer their notice, in their language, with their personal link."""
    conn, settings = run.notifier.conn, run.notifier.settings
    release_id = release_row(conn, run.owner_id, drill=False, stage=run.stage.name, cycle=run.cycle,
                             reason=run.fired_reason, now=run.now)
    done = issue_notices(conn, settings, run.owner_id, run.owner_email, release_id, drill=False, cycle=run.cycle,
                         now=run.now)
    auditlog.append(conn, run.notifier.signer, run.owner_id, run.now, "handover.notified",
                    {"release": release_id, "stage": run.stage.name, "notices": done.notices,
                     "emailed": done.emailed, "without_email": len(done.without_email)})


# -- the customer's page ---------------------------------------------------------------------------
@dataclass(frozen=True)
class NoticePage:
    """What the page shows: the notice's context and language, and the answer so far."""

    language: str
    context: dict[str, Any]
    answer: dict[str, Any] | None
    answered_at: datetime | None


def _notice_for(conn: Connection, key: DeploymentKey, token: str, now: datetime) -> tuple[links.Link, Any]:
    link = links.resolve(conn, key, token, Purpose.NOTICE, now)
    notice_id = (link.who or "").removeprefix("notice:")
    row = conn.execute(select(notices).where(notices.c.id == int(notice_id), notices.c.owner_id == link.owner_id)
                       ).first() if notice_id.isdigit() else None
    if row is None:
        raise NotFound("this notice is not known")
    return link, row


def show_notice(engine: Engine, key: DeploymentKey, token: str, now: datetime) -> NoticePage:
    with reading(engine) as conn:
        _link, row = _notice_for(conn, key, token, now)
    return NoticePage(row.language, row.context, row.answer, row.answered_at)


def page_context(page: NoticePage, typed: Mapping[str, Any] | None = None,
                 errors: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The template's context: the notice, the form as typed (or as last answered), and errors."""
    if typed is None:
        typed = _typed_from_answer(page)
    return {**page.context, "typed": dict(typed), "errors": dict(errors or {}), "answered_at": page.answered_at}


def _typed_from_answer(page: NoticePage) -> dict[str, Any]:
    answer = page.answer or {}
    typed: dict[str, Any] = {"read": bool(answer.get("read_at")), "note": answer.get("note") or "",
                             "auth_code": list(answer.get("auth_codes_for") or [])}
    accounts = answer.get("accounts") or {}
    for registrar in page.context["registrars"]:
        if registrar["id"] in accounts:
            typed[f"account:{registrar['id']}"] = accounts[registrar["id"]]
    hosting = answer.get("hosting_accounts") or {}
    for service in page.context["services"]:
        if service["id"] in hosting:
            typed[f"hosting:{service['id']}"] = hosting[service["id"]]
    return typed


def read_form(context: Mapping[str, Any], form: Mapping[str, Sequence[str]]) -> tuple[dict[str, Any], dict[str, str],
                                                                                      dict[str, Any]]:
    """The answer in ``form``: (what was typed, errors by field, the answer's parts)."""
    typed: dict[str, Any] = {"read": (form.get("read") or [""])[0] == "yes",
                             "note": (form.get("note") or [""])[0].strip(),
                             "auth_code": [v for v in form.get("auth_code", [])]}
    errors: dict[str, str] = {}
    accounts: dict[str, str] = {}
    hosting: dict[str, str] = {}
    fields = [(f"account:{r['id']}", r["id"], accounts) for r in context["registrars"] if r["move"]]
    fields += [(f"hosting:{s['id']}", s["id"], hosting) for s in context["services"] if s["movable"]]
    for name, key, into in fields:
        value = (form.get(name) or [""])[0].strip()
        typed[name] = value
        if not value:
            continue
        if ACCOUNT.match(value):
            into[key] = value
        else:
            errors[name] = "account"
    own = {d["ascii"] for d in context["domains"]}
    if any(value not in own for value in typed["auth_code"]):
        errors["auth_code"] = "domain"
        typed["auth_code"] = [v for v in typed["auth_code"] if v in own]
    if len(typed["note"]) > NOTE_MAX:
        errors["note"] = "length"
    parts = {"read": typed["read"], "accounts": accounts, "hosting_accounts": hosting,
             "auth_codes_for": sorted(set(typed["auth_code"])), "note": typed["note"] or None}
    return typed, errors, parts


def answer_notice(engine: Engine, signer: DeploymentSigner, key: DeploymentKey, token: str,
                  form: Mapping[str, Sequence[str]], now: datetime
                  ) -> tuple[NoticePage, dict[str, Any], dict[str, str]]:
    """Record the customer's answer (all or nothing); the page, what was typed, and errors (empty: saved)."""
    page = show_notice(engine, key, token, now)
    typed, errors, parts = read_form(page.context, form)
    if errors:
        return page, typed, errors
    with engine.begin() as conn:
        link, row = _notice_for(conn, key, token, now)
        read_at = row.read_at or (now if parts["read"] else None)
        answer = {"customer": row.customer, "read_at": iso(read_at) if read_at else None,
                  "accounts": parts["accounts"], "hosting_accounts": parts["hosting_accounts"],
                  "auth_codes_for": parts["auth_codes_for"], "note": parts["note"], "answered_at": iso(now)}
        conn.execute(update(notices).where(notices.c.id == row.id)
                     .values(answer=answer, read_at=read_at, answered_at=now))
        links.consume(conn, link, now)
        auditlog.append(conn, signer, row.owner_id, now, "handover.answered",
                        {"release": row.release_id, "customer": row.customer, "read": read_at is not None,
                         "accounts": sorted(parts["accounts"]), "hosting": sorted(parts["hosting_accounts"]),
                         "auth_codes_for": parts["auth_codes_for"]})
    return NoticePage(page.language, page.context, answer, now), typed, {}


# -- for the owner and the successors ------------------------------------------------------------
def latest_release(conn: Connection, owner_id: int, release_id: int | None = None) -> Any:
    query = select(releases).where(releases.c.owner_id == owner_id,
                                   releases.c.id.in_(select(notices.c.release_id).distinct()))
    if release_id is not None:
        query = query.where(releases.c.id == release_id)
    row = conn.execute(query.order_by(releases.c.id.desc()).limit(1)).first()
    if row is None and release_id is not None:
        raise NotFound(f"no release {release_id} with customer notices")
    return row


def handover_data(engine: Engine, owner_id: int, now: datetime, release_id: int | None = None) -> dict[str, Any]:
    """The register, the profile and the customers' answers of a release (the latest by default), and the
    service's today in the owner's zone (the requests' date: what is locked or expiring is counted from it).

    No secret is in it: auth codes come from the opened vault on the successors' machine.
    """
    with reading(engine) as conn:
        register = load_register(conn, owner_id)
        profile = read_profile(conn, owner_id)
        owner = conn.execute(select(owners.c.email, owners.c.timezone).where(owners.c.id == owner_id)).one()
        owner_email = owner.email
        release = latest_release(conn, owner_id, release_id)
        answers, refunds = {}, {}
        if release is not None:
            for row in conn.execute(select(notices.c.customer, notices.c.answer, notices.c.context).where(
                    notices.c.release_id == release.id)):
                if row.answer is not None:
                    answers[row.customer] = answer_to_dict(answer_from_dict(row.answer))
                if row.context.get("refund_total"):
                    refunds[row.customer] = row.context["refund_total"]
    return {"release": None if release is None else {"id": release.id, "drill": release.drill,
                                                     "stage": release.stage, "at": iso(release.created_at)},
            "owner_email": owner_email, "timezone": owner.timezone,
            "today": local_date(now, owner.timezone).isoformat(), "register": register_rows(register),
            "profile": profile_to_dict(profile or default_profile(owner_email)), "profile_set": profile is not None,
            "answers": answers, "refunds": refunds}


def notice_status(engine: Engine, owner_id: int, release_id: int | None = None) -> dict[str, Any]:
    """Who was told, who read, who answered, in a release (the latest by default)."""
    with reading(engine) as conn:
        release = latest_release(conn, owner_id, release_id)
        if release is None:
            return {"release": None, "notices": []}
        rows = conn.execute(select(notices.c.customer, notices.c.language, notices.c.email, notices.c.read_at,
                                   notices.c.answered_at).where(notices.c.release_id == release.id)
                            .order_by(notices.c.customer)).all()
    return {"release": {"id": release.id, "drill": release.drill, "at": iso(release.created_at)},
            "notices": [{"customer": r.customer, "language": r.language, "email": r.email,
                         "read_at": r.read_at and iso(r.read_at), "answered_at": r.answered_at and iso(r.answered_at)}
                        for r in rows]}


def printable(engine: Engine, settings: Settings, key: DeploymentKey, owner_id: int, now: datetime,
              release_id: int | None = None) -> list[tuple[str, str]]:
    """Each notice of a release as a printable HTML page (customer id, HTML) in the customer's language,
    each with a personal link of its own, made now (a printed notice is answered like an e-mailed one)."""
    pages = []
    with engine.begin() as conn:
        release = latest_release(conn, owner_id, release_id)
        if release is None:
            return []
        rows = conn.execute(select(notices.c.id, notices.c.customer, notices.c.language, notices.c.context,
                                   notices.c.email).where(notices.c.release_id == release.id)
                            .order_by(notices.c.customer)).all()
        remaining = iter(rows)
        while batch := list(islice(remaining, BATCH)):
            link_ids = conn.execute(insert(links_table).returning(links_table.c.id, sort_by_parameter_order=True), [
                _link_row(owner_id, r.id, r.email, release.cycle, settings, now) for r in batch]).scalars().all()
            pages += [(r.customer, i18n.render("notices/printable.html", r.language, **{
                **r.context, "link": links.url(settings.base_url, Purpose.NOTICE, links.token(key, link_id))}))
                for r, link_id in zip(batch, link_ids, strict=True)]
    return pages
