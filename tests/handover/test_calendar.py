"""The renewal calendar: its lines, the CSV and the iCalendar export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from handover.calendar import CSV_COLUMNS, CalendarEntry, EntryKind, entries, to_csv, to_ical
from handover.errors import HandoverError
from handover.model import Customer, Domain, Hosting, Register, Registrar
from handover.names import domain_name
from handover.rules import TransferRules

TODAY = date(2026, 2, 15)
NOW = datetime(2026, 2, 15, 9, 30, tzinfo=UTC)
ICANN = TransferRules()


def register() -> Register:
    """A small business: five domains in different states, one hosting service."""
    reg = Register(
        customers={"c1": Customer("c1", "Budi Santoso"), "c2": Customer("c2", "Ana Souza", language="pt")},
        registrars={"rw": Registrar("rw", "Rumahweb")},
    )
    reg.domains += [
        # registered 14 days ago, expires before the 60-day lock lifts: renew first
        Domain(domain_name("bücher.co.id"), "c1", "rw", date(2026, 3, 1), created=date(2026, 2, 1)),
        # expired 36 days ago: in the auto-renew grace, and locked by the client
        Domain(domain_name("straße.de"), "c2", "rw", date(2026, 1, 10), statuses=("clientTransferProhibited",)),
        # free to move
        Domain(domain_name("example.com"), "c1", "rw", date(2027, 1, 10)),
        # registrant changed 10 days ago: wait for the lock
        Domain(domain_name("example.org"), "c2", "gd", date(2027, 6, 1), last_owner_change=date(2026, 2, 5)),
        # expired long ago
        Domain(domain_name("old.net"), "c1", "rw", date(2025, 1, 10)),
    ]
    reg.hosting.append(Hosting("h1", "c1", "Niagahoster", date(2026, 5, 1), domain="xn--bcher-kva.co.id"))
    reg.hosting.append(Hosting("h2", "c2", "Hetzner", date(2026, 2, 1)))
    return reg


def lines() -> list[CalendarEntry]:
    return entries(register(), TODAY, ICANN)


def rows() -> dict[str, dict[str, str]]:
    table = list(csv.DictReader(io.StringIO(to_csv(lines()))))
    return {row["ascii"]: row for row in table}


def events(data: bytes) -> list[tuple[str, date, str]]:
    cal = Calendar.from_ical(data)
    return [(str(e["categories"].cats[0]), e.decoded("dtstart"), str(e["summary"])) for e in cal.walk("VEVENT")]


# The lines


def test_entries_are_sorted_by_date() -> None:
    found = lines()
    assert [e.expires for e in found] == sorted(e.expires for e in found)
    assert [e.ascii for e in found] == ["old.net", "xn--strae-oqa.de", "h2", "xn--bcher-kva.co.id", "h1",
                                        "example.com", "example.org"]


def test_a_domain_line() -> None:
    (line,) = [e for e in lines() if e.ascii == "xn--bcher-kva.co.id"]
    assert line == CalendarEntry(
        kind=EntryKind.DOMAIN, name="bücher.co.id", ascii="xn--bcher-kva.co.id", customer="c1",
        customer_name="Budi Santoso", registrar="Rumahweb", expires=date(2026, 3, 1), phase="active",
        earliest_transfer=date(2026, 4, 2), lock="registered less than 60 days ago", renew_by=date(2026, 3, 1),
        blockers=("expires on 2026-03-01, before it can be transferred on 2026-04-02: renew it first",),
        must_do="renew first, by 2026-03-01 (it expires before the transfer lock ends), then it can move on 2026-04-02 "
                "(registered less than 60 days ago)")


def test_an_unknown_registrar_or_customer_is_shown_by_id() -> None:
    (line,) = [e for e in lines() if e.ascii == "example.org"]
    assert (line.registrar, line.customer_name) == ("gd", "Ana Souza")
    reg = register()
    reg.customers.clear()
    assert {e.customer_name for e in entries(reg, TODAY, ICANN)} == {""}


# The CSV


def test_the_csv_header() -> None:
    assert to_csv(lines()).splitlines()[0] == ",".join(CSV_COLUMNS)
    assert CSV_COLUMNS == ("kind", "name", "ascii", "customer", "customer_name", "registrar", "expires", "phase",
                           "earliest_transfer", "lock", "renew_by", "must_do")


def test_the_csv_cells() -> None:
    table = rows()
    assert len(table) == 7

    renew_first = table["xn--bcher-kva.co.id"]
    assert renew_first["name"] == "bücher.co.id"
    assert (renew_first["expires"], renew_first["phase"], renew_first["earliest_transfer"],
            renew_first["renew_by"]) == ("2026-03-01", "active", "2026-04-02", "2026-03-01")
    assert renew_first["must_do"].startswith("renew first, by 2026-03-01")

    grace = table["xn--strae-oqa.de"]
    assert (grace["name"], grace["customer"], grace["customer_name"], grace["registrar"]) == (
        "straße.de", "c2", "Ana Souza", "Rumahweb")
    assert (grace["phase"], grace["renew_by"], grace["lock"]) == ("auto-renew grace", "2026-02-24",
                                                                  "clientTransferProhibited")
    assert grace["must_do"] == ("renew by 2026-02-24 (the last day of the auto-renew grace) and unlock "
                                "(clientTransferProhibited), then it can move")

    assert table["example.com"]["must_do"] == "nothing: it can move now"
    assert (table["example.com"]["earliest_transfer"], table["example.com"]["lock"]) == ("2026-02-15", "")

    waiting = table["example.org"]
    assert (waiting["earliest_transfer"], waiting["lock"], waiting["renew_by"]) == (
        "2026-04-06", "registrant changed less than 60 days ago", "")
    assert waiting["must_do"] == "wait: it can move on 2026-04-06 (registrant changed less than 60 days ago)"

    gone = table["old.net"]
    assert (gone["phase"], gone["earliest_transfer"], gone["renew_by"]) == ("gone", "", "")
    assert gone["must_do"].startswith("nothing can be done")


def test_the_csv_hosting_cells() -> None:
    table = rows()
    assert {k: table["h1"][k] for k in ("kind", "name", "registrar", "expires", "phase", "renew_by", "must_do")} == {
        "kind": "hosting", "name": "bücher.co.id", "registrar": "Niagahoster", "expires": "2026-05-01",
        "phase": "paid", "renew_by": "2026-05-01", "must_do": "renew with Niagahoster by 2026-05-01"}
    assert (table["h2"]["name"], table["h2"]["phase"]) == ("h2", "overdue")
    assert table["h2"]["must_do"].startswith("overdue since 2026-02-01: pay Hetzner now")


def test_client_transfer_prohibited_alone() -> None:
    reg = Register(domains=[Domain(domain_name("example.id"), "c1", "rw", date(2027, 1, 1),
                                   statuses=("clientTransferProhibited",))])
    (line,) = entries(reg, TODAY, ICANN)
    assert line.must_do == "unlock (clientTransferProhibited) before a transfer"


def test_a_server_lock_is_named() -> None:
    reg = Register(domains=[Domain(domain_name("example.id"), "c1", "rw", date(2027, 1, 1),
                                   statuses=("serverTransferProhibited", "clientTransferProhibited"))])
    (line,) = entries(reg, TODAY, ICANN)
    assert line.lock == "clientTransferProhibited; serverTransferProhibited"
    assert line.must_do == ("ask the registrar to have the registry lift serverTransferProhibited and unlock "
                            "(clientTransferProhibited) before a transfer")


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_quoted() -> None:
    reg = Register(customers={"c1": Customer("c1", "=HYPERLINK(\"http://x.example\")")},
                   domains=[Domain(domain_name("example.id"), "c1", "rw", date(2027, 1, 1))])
    (row,) = csv.DictReader(io.StringIO(to_csv(entries(reg, TODAY, ICANN))))
    assert row["customer_name"] == "'=HYPERLINK(\"http://x.example\")"


def test_an_empty_calendar_is_a_header() -> None:
    assert to_csv([]) == ",".join(CSV_COLUMNS) + "\r\n"


# The iCalendar file


def test_the_ical_parses_back_with_the_expected_events() -> None:
    data = to_ical(lines(), NOW)
    cal = Calendar.from_ical(data)
    assert str(cal["prodid"]) == "-//Baton//Renewal calendar//EN"
    assert str(cal["version"]) == "2.0"
    found = events(data)
    assert ("expiry", date(2026, 3, 1), "bücher.co.id expires (Rumahweb)") in found
    assert ("renew-by", date(2026, 3, 1), "Last day to renew bücher.co.id (Rumahweb)") in found
    assert ("transfer", date(2026, 4, 2), "bücher.co.id: the transfer lock ends today") in found
    assert ("transfer", date(2026, 4, 6), "example.org: the transfer lock ends today") in found
    assert ("renew-by", date(2026, 2, 24), "Last day to renew straße.de (Rumahweb)") in found
    assert ("paid-until", date(2026, 5, 1), "Hosting bücher.co.id (h1) is paid until today (Niagahoster)") in found
    assert ("paid-until", date(2026, 2, 1), "Hosting h2 is paid until today (Hetzner)") in found
    assert [d for what, d, _ in found if what == "expiry"] == [
        date(2025, 1, 10), date(2026, 1, 10), date(2026, 3, 1), date(2027, 1, 10), date(2027, 6, 1)]
    assert not [e for e in found if e[0] == "transfer" and e[1] <= TODAY]  # only transfers still to come
    assert [d for _, d, _ in found] == sorted(d for _, d, _ in found)


def test_every_event_is_all_day_with_a_stamp_and_a_unique_uid() -> None:
    cal = Calendar.from_ical(to_ical(lines(), NOW))
    vevents = cal.walk("VEVENT")
    assert len(vevents) == 11  # 5 expiries, 2 transfers to come, 2 renew-by deadlines, 2 paid-until
    for event in vevents:
        start = event.decoded("dtstart")
        assert type(start) is date
        assert event.decoded("dtend") == start + timedelta(days=1)
        assert event.decoded("dtstamp") == NOW
        assert str(event["uid"]).endswith("@baton")
        assert str(event["description"]).startswith("To do: ")
    assert len({str(e["uid"]) for e in vevents}) == len(vevents)


def test_renewal_deadlines_have_an_alarm_14_days_before() -> None:
    cal = Calendar.from_ical(to_ical(lines(), NOW))
    for event in cal.walk("VEVENT"):
        what = str(event["categories"].cats[0])
        alarms = event.walk("VALARM")
        if what in ("renew-by", "paid-until"):
            (alarm,) = alarms
            assert alarm.decoded("trigger") == timedelta(days=-14)
            assert str(alarm["action"]) == "DISPLAY"
            assert str(alarm["description"]).startswith("In 14 days: ")
        elif what == "transfer":
            assert alarms == []
    expiries = {str(e["summary"]): len(e.walk("VALARM")) for e in cal.walk("VEVENT")
                if str(e["categories"].cats[0]) == "expiry"}
    assert expiries["example.com expires (Rumahweb)"] == 1  # an active domain with no other deadline
    assert expiries["bücher.co.id expires (Rumahweb)"] == 0  # its renew-by event reminds instead
    assert expiries["old.net expires (Rumahweb)"] == 0


def test_the_description_says_what_to_do() -> None:
    cal = Calendar.from_ical(to_ical(lines(), NOW))
    (event,) = [e for e in cal.walk("VEVENT") if str(e["summary"]) == "Last day to renew straße.de (Rumahweb)"]
    description = str(event["description"])
    assert "To do: renew by 2026-02-24 (the last day of the auto-renew grace) and unlock" in description
    assert "Customer: Ana Souza (c2)." in description
    assert "Blocker: expired: renew it first (auto-renew grace)." in description


def test_the_same_input_gives_the_same_bytes() -> None:
    first = to_ical(lines(), NOW)
    assert to_ical(lines(), NOW) == first
    assert to_ical(list(reversed(lines())), NOW) == first
    assert to_csv(lines()) == to_csv(lines())


def test_uids_do_not_depend_on_now() -> None:
    def uids(now: datetime) -> list[str]:
        return [str(e["uid"]) for e in Calendar.from_ical(to_ical(lines(), now)).walk("VEVENT")]
    later = NOW + timedelta(days=1)
    assert set(uids(later)) <= set(uids(NOW))  # only a transfer event that is now past may drop out


def test_dtstamp_is_utc() -> None:
    jakarta = timezone(timedelta(hours=7))
    data = to_ical(lines(), datetime(2026, 2, 15, 16, 30, tzinfo=jakarta))
    assert b"DTSTAMP:20260215T093000Z" in data


def test_a_naive_now_is_rejected() -> None:
    with pytest.raises(HandoverError, match="expected a timezone-aware time"):
        to_ical(lines(), datetime(2026, 2, 15, 9, 30))


def test_unicode_names_are_preserved() -> None:
    data = to_ical(lines(), NOW)
    assert "straße.de".encode() in data.replace(b"\r\n ", b"")
    summaries = [s for _, _, s in events(data)]
    assert any("straße.de" in s for s in summaries)
    assert any("bücher.co.id" in s for s in summaries)
    assert not any("xn--" in s for s in summaries)
    assert "bücher.co.id" in to_csv(lines())


def test_a_custom_prodid() -> None:
    cal = Calendar.from_ical(to_ical([], NOW, prodid="-//Example//Test//EN"))
    assert str(cal["prodid"]) == "-//Example//Test//EN"
    assert cal.walk("VEVENT") == []


def test_a_domain_expiring_before_the_notices_reach_its_customer_is_renew_first() -> None:
    """Eight days out, with notices 21 days away: not "it can move now", but renew first (issue 16, 1)."""
    reg = Register(customers={"c1": Customer("c1", "Budi Santoso")}, registrars={"rw": Registrar("rw", "Rumahweb")})
    reg.domains.append(Domain(domain_name("segera.id"), "c1", "rw", TODAY + timedelta(days=8),
                              created=date(2015, 1, 1)))
    (line,) = entries(reg, TODAY, ICANN, reach=TODAY + timedelta(days=21))
    assert line.renew_by == date(2026, 2, 23)
    assert line.must_do == ("renew first, by 2026-02-23 (it expires before the notices would reach its customer on "
                            "2026-03-08), then it can move")
    assert line.blockers == ("expires on 2026-02-23, before anything can be done about it on 2026-03-08: renew it "
                             "first",)
    (without,) = entries(reg, TODAY, ICANN)  # no notice stage: nothing reaches anyone, nothing to say
    assert without.must_do == "nothing: it can move now"
