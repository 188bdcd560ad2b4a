"""The renewal calendar: for every domain and hosting service, what falls due and what must happen first.

For each domain: its expiry, the phase it is in on ``today`` (active, auto-renew grace,
redemption, …), the earliest day it can be transferred (the 60-day locks after creation,
a transfer or a change of registrant without opt-out), the lock that sets that day, and
what must be renewed or unlocked before anything can move. For each hosting service: the
end of its paid period. Exported as CSV (one line per domain or service) and as an
iCalendar file (all-day events; a reminder 14 days before each renewal deadline, and before
the expiry of a domain that has no other deadline).

In the CSV a hosting line uses the same columns: ``ascii`` holds the service id,
``registrar`` the provider and ``expires`` the paid-until date.

Pure: ``today`` and ``now`` are arguments; the same register gives the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from icalendar import Alarm, Calendar, Event

from handover.errors import HandoverError
from handover.model import Domain, Hosting, Register
from handover.names import domain_name
from handover.rules import Eligibility, Phase, TransferRules, eligibility

PRODID = "-//Baton//Renewal calendar//EN"
UID_DOMAIN = "baton"
ALARM_BEFORE = timedelta(days=14)
TRANSFER_PROHIBITED = ("clientTransferProhibited", "serverTransferProhibited")
CSV_COLUMNS = ("kind", "name", "ascii", "customer", "customer_name", "registrar", "expires", "phase",
               "earliest_transfer", "lock", "renew_by", "must_do")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


class EntryKind(StrEnum):
    DOMAIN = "domain"
    HOSTING = "hosting"


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """One line of the calendar: a domain's expiry or a hosting service's paid-until date."""

    kind: EntryKind
    name: str  # the Unicode domain name; for hosting, the site's domain or else the service id
    ascii: str  # the ASCII domain name; for hosting, the service id
    customer: str
    customer_name: str
    registrar: str  # the registrar's name; for hosting, the provider
    expires: date  # the expiry; for hosting, the last paid day
    phase: str  # a rules.Phase value; for hosting "paid" or "overdue"
    earliest_transfer: date | None  # None for hosting, and for a domain that can no longer be moved
    lock: str | None  # why it cannot be transferred yet: a 60-day lock and/or a transfer-prohibited status
    renew_by: date | None  # renew (or restore, or pay) by this day
    blockers: tuple[str, ...]  # what must happen before a transfer can be asked for
    must_do: str  # one English sentence: what to do

    @property
    def label(self) -> str:
        """How the entry is named in the calendar (the service id is added to a hosting site's domain)."""
        if self.kind is EntryKind.HOSTING and self.name != self.ascii:
            return f"{self.name} ({self.ascii})"
        return self.name


def entries(register: Register, today: date, rules: TransferRules, reach: date | None = None) -> list[CalendarEntry]:
    """Every domain's and hosting service's line, by date (then kind and name).

    ``reach`` is the day customer notices would reach the customers if the switch fired today: a
    domain that expires before then must be renewed first, whatever its locks say.
    """
    found = [_domain_entry(register, d, today, rules, reach) for d in register.domains]
    found += [_hosting_entry(register, h, today) for h in register.hosting]
    return sorted(found, key=lambda e: (e.expires, e.kind.value, e.ascii))


def _customer_name(register: Register, customer: str) -> str:
    known = register.customers.get(customer)
    return known.name if known else ""


def _domain_entry(register: Register, domain: Domain, today: date, rules: TransferRules,
                  reach: date | None) -> CalendarEntry:
    found = eligibility(domain, today, rules, reach)
    movable = found.phase not in (Phase.PENDING_DELETE, Phase.GONE)
    prohibited = [s for s in TRANSFER_PROHIBITED if s in domain.statuses]
    lock = "; ".join(([found.lock_reason] if found.lock_reason else []) + prohibited) or None
    return CalendarEntry(
        kind=EntryKind.DOMAIN, name=domain.name.unicode, ascii=domain.name.ascii, customer=domain.customer,
        customer_name=_customer_name(register, domain.customer), registrar=register.registrar(domain.registrar).name,
        expires=domain.expires, phase=found.phase.value,
        earliest_transfer=found.earliest_transfer if movable else None, lock=lock, renew_by=found.renew_by,
        blockers=found.blockers, must_do=_domain_must_do(domain, found, today, reach))


def _domain_must_do(domain: Domain, found: Eligibility, today: date, reach: date | None) -> str:
    """What must happen before the domain can move, as one sentence."""
    if found.phase in (Phase.PENDING_DELETE, Phase.GONE):
        return f"nothing can be done: {found.phase.value}, past redemption; it can no longer be renewed or moved"
    steps = _renewal_steps(found, domain, reach)
    renewal_needed = bool(steps)
    if "serverTransferProhibited" in domain.statuses:
        steps.append("ask the registrar to have the registry lift serverTransferProhibited")
    if "clientTransferProhibited" in domain.statuses:
        steps.append("unlock (clientTransferProhibited)")
    if "pendingDelete" in domain.statuses and found.phase is Phase.ACTIVE:
        steps.append("ask the registrar why it is pendingDelete at the registry")
    waits = found.earliest_transfer > today
    when = f" on {found.earliest_transfer} ({found.lock_reason})" if waits else ""
    if not steps:
        return f"wait: it can move{when}" if waits else "nothing: it can move now"
    if not renewal_needed and not waits:
        return f"{_joined(steps)} before a transfer"
    return f"{_joined(steps)}, then it can move{when}"


def _renewal_steps(found: Eligibility, domain: Domain, reach: date | None) -> list[str]:
    if found.renew_by is None:
        return []
    if found.phase is Phase.REDEMPTION:
        return [f"restore it by {found.renew_by} (redemption; a restore fee applies)"]
    if found.phase is Phase.AUTO_RENEW_GRACE:
        return [f"renew by {found.renew_by} (the last day of the auto-renew grace)"]
    if found.earliest_transfer > domain.expires:
        return [f"renew first, by {found.renew_by} (it expires before the transfer lock ends)"]
    return [f"renew first, by {found.renew_by} (it expires before the notices would reach its customer on {reach})"]


def _joined(steps: list[str]) -> str:
    return steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + " and " + steps[-1]


def _hosting_entry(register: Register, hosting: Hosting, today: date) -> CalendarEntry:
    overdue = hosting.paid_until < today
    if overdue:
        must_do = f"overdue since {hosting.paid_until}: pay {hosting.provider} now, or the service may be suspended"
    else:
        must_do = f"renew with {hosting.provider} by {hosting.paid_until}"
    return CalendarEntry(
        kind=EntryKind.HOSTING, name=_site_name(hosting), ascii=hosting.id, customer=hosting.customer,
        customer_name=_customer_name(register, hosting.customer), registrar=hosting.provider,
        expires=hosting.paid_until, phase="overdue" if overdue else "paid", earliest_transfer=None, lock=None,
        renew_by=hosting.paid_until, blockers=(), must_do=must_do)


def _site_name(hosting: Hosting) -> str:
    """The site's domain in Unicode when it is a valid name, as written otherwise, or the service id."""
    if not hosting.domain:
        return hosting.id
    try:
        return domain_name(hosting.domain).unicode
    except HandoverError:
        return hosting.domain


def to_csv(lines: Iterable[CalendarEntry]) -> str:
    """The calendar as CSV text (RFC 4180, a header line first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in lines:
        writer.writerow([spreadsheet_cell(value) for value in _csv_values(entry)])
    return out.getvalue()


def _csv_values(entry: CalendarEntry) -> tuple[object, ...]:
    return (entry.kind.value, entry.name, entry.ascii, entry.customer, entry.customer_name, entry.registrar,
            entry.expires, entry.phase, entry.earliest_transfer, entry.lock, entry.renew_by, entry.must_do)


def spreadsheet_cell(value: object) -> str:
    """A CSV cell: dates in ISO form, and text that a spreadsheet would run as a formula made inert."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@dataclass(frozen=True, slots=True)
class _Occasion:
    """One all-day event of the iCalendar export."""

    what: str  # expiry, transfer, renew-by, paid-until
    day: date
    summary: str
    description: str
    alarm: bool


def to_ical(lines: Iterable[CalendarEntry], now: datetime, prodid: str = PRODID) -> bytes:
    """The calendar as an iCalendar (RFC 5545) file.

    ``now`` (timezone-aware) is every event's DTSTAMP, in UTC; only transfer dates after its
    date get an event. UIDs depend on the entry and the day alone, so a re-import updates events.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise HandoverError(f"expected a timezone-aware time for the calendar's DTSTAMP, got {now.isoformat()}")
    stamp = now.astimezone(UTC)
    cal = Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Baton renewals")
    events = [(occasion, entry) for entry in lines for occasion in _occasions(entry, now.date())]
    events.sort(key=lambda pair: (pair[0].day, pair[0].what, pair[1].kind.value, pair[1].ascii))
    for occasion, entry in events:
        cal.add_component(_event(entry, occasion, stamp))
    data: bytes = cal.to_ical()
    return data


def _occasions(entry: CalendarEntry, today: date) -> list[_Occasion]:
    if entry.kind is EntryKind.HOSTING:
        return [_Occasion("paid-until", entry.expires, f"Hosting {entry.label} is paid until today ({entry.registrar})",
                          entry.must_do, True)]
    remind = entry.phase == Phase.ACTIVE.value and entry.renew_by is None  # else the renew-by event reminds
    found = [_Occasion("expiry", entry.expires, f"{entry.name} expires ({entry.registrar})", entry.must_do, remind)]
    if entry.earliest_transfer and entry.earliest_transfer > today:
        found.append(_Occasion("transfer", entry.earliest_transfer,
                               f"{entry.name}: the transfer lock ends today",
                               entry.must_do, False))
    if entry.renew_by:
        found.append(_Occasion("renew-by", entry.renew_by, f"Last day to renew {entry.name} ({entry.registrar})",
                               entry.must_do, True))
    return found


def _event(entry: CalendarEntry, occasion: _Occasion, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", _uid(entry, occasion))
    event.add("dtstamp", stamp)
    event.add("dtstart", occasion.day)
    event.add("dtend", occasion.day + timedelta(days=1))
    event.add("summary", occasion.summary)
    event.add("description", _description(entry, occasion))
    event.add("categories", [occasion.what])
    event.add("transp", "TRANSPARENT")
    if occasion.alarm:
        event.add_component(_alarm(occasion))
    return event


def _description(entry: CalendarEntry, occasion: _Occasion) -> str:
    who = f"{entry.customer_name} ({entry.customer})" if entry.customer_name else entry.customer
    lines = [f"To do: {occasion.description}.", f"Customer: {who}."]
    if entry.kind is EntryKind.DOMAIN:
        lines.append(f"Registrar: {entry.registrar}. Phase: {entry.phase}. Expires: {entry.expires}.")
        lines += [f"Blocker: {b}." for b in entry.blockers]
    else:
        lines.append(f"Provider: {entry.registrar}.")
    return "\n".join(lines)


def _alarm(occasion: _Occasion) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", -ALARM_BEFORE)
    alarm.add("description", f"In 14 days: {occasion.summary}")
    return alarm


def _uid(entry: CalendarEntry, occasion: _Occasion) -> str:
    key = f"{occasion.what}|{entry.kind.value}|{entry.ascii}|{occasion.day.isoformat()}"
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{UID_DOMAIN}"
