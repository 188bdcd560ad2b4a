"""Reading RDAP answers (RFC 9083), the IANA bootstrap (RFC 9224), and comparing with the register."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from handover.errors import HandoverError
from handover.model import Domain
from handover.names import domain_name
from handover.rdap import (
    Difference,
    Observed,
    compare,
    epp_status,
    parse_bootstrap,
    parse_domain,
    registrar_key,
    same_registrar,
    statuses_of,
)


def vcard(*props: list[Any]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *props]]


# What Verisign answers for a .com (shortened: links, notices and nameservers trimmed to one each).
VERISIGN_COM: dict[str, Any] = {
    "objectClassName": "domain",
    "handle": "2336799_DOMAIN_COM-VRSN",
    "ldhName": "EXAMPLE-SHOP.COM",
    "links": [{"value": "https://rdap.verisign.com/com/v1/domain/EXAMPLE-SHOP.COM", "rel": "self",
               "href": "https://rdap.verisign.com/com/v1/domain/EXAMPLE-SHOP.COM", "type": "application/rdap+json"}],
    "status": ["client delete prohibited", "client transfer prohibited", "client update prohibited"],
    "entities": [{
        "objectClassName": "entity",
        "handle": "1068",
        "roles": ["registrar"],
        "publicIds": [{"type": "IANA Registrar ID", "identifier": "1068"}],
        "vcardArray": vcard(["fn", {}, "text", "NameCheap, Inc."]),
        "entities": [{
            "objectClassName": "entity",
            "roles": ["abuse"],
            "vcardArray": vcard(["fn", {}, "text", ""], ["tel", {"type": "voice"}, "uri", "tel:+1.6613102107"],
                                ["email", {}, "text", "abuse@namecheap.com"]),
        }],
    }],
    "events": [
        {"eventAction": "registration", "eventDate": "2009-03-02T17:40:11Z"},
        {"eventAction": "expiration", "eventDate": "2027-03-02T17:40:11Z"},
        {"eventAction": "last changed", "eventDate": "2026-01-30T08:12:44Z"},
        {"eventAction": "last update of RDAP database", "eventDate": "2026-02-19T10:11:12Z"},
    ],
    "secureDNS": {"delegationSigned": False},
    "nameservers": [{"objectClassName": "nameserver", "ldhName": "DNS1.REGISTRAR-SERVERS.COM"}],
    "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_0",
                        "icann_rdap_response_profile_0"],
    "notices": [{"title": "Terms of Use", "description": ["Service subject to Terms of Use."]}],
}

# A PANDI-style .id answer: local-time offsets, no IANA id for the registrar, an org instead of a name.
PANDI_ID: dict[str, Any] = {
    "rdapConformance": ["rdap_level_0"],
    "objectClassName": "domain",
    "handle": "PANDI-DO1234567",
    "ldhName": "tokobuku.co.id",
    "status": ["active", "client transfer prohibited"],
    "events": [
        {"eventAction": "registration", "eventDate": "2019-05-20T10:15:00+07:00"},
        {"eventAction": "expiration", "eventDate": "2027-01-16T06:30:00+07:00"},
        {"eventAction": "transfer", "eventDate": "2024-11-02T01:00:00+07:00"},
        {"eventAction": "last changed", "eventDate": "2025-12-01T12:00:00.000+07:00"},
    ],
    "entities": [
        {"objectClassName": "entity", "handle": "REG-ID-1", "roles": ["registrant"],
         "vcardArray": vcard(["fn", {}, "text", "REDACTED FOR PRIVACY"])},
        {"objectClassName": "entity", "handle": "PANDI-R-77", "roles": ["registrar"],
         "vcardArray": vcard(["fn", {}, "text", ""], ["org", {}, "text", "PT Digital Registra Indonesia"])},
    ],
}


def test_a_verisign_com_answer() -> None:
    observed = parse_domain(VERISIGN_COM, domain_name("example-shop.com"))
    assert observed == Observed(
        domain="example-shop.com", expires=date(2027, 3, 2), created=date(2009, 3, 2), last_transfer=None,
        last_changed=date(2026, 1, 30),
        statuses=("clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"),
        registrar_name="NameCheap, Inc.", registrar_iana_id="1068")


def test_a_pandi_id_answer_dates_in_utc_and_the_org_as_registrar() -> None:
    observed = parse_domain(PANDI_ID, domain_name("TokoBuku.co.id."))
    assert observed.expires == date(2027, 1, 15)  # 06:30 in Jakarta is the evening before in UTC
    assert observed.created == date(2019, 5, 20)
    assert observed.last_transfer == date(2024, 11, 1)
    assert observed.last_changed == date(2025, 12, 1)
    assert observed.statuses == ("ok", "clientTransferProhibited")
    assert (observed.registrar_name, observed.registrar_iana_id) == ("PT Digital Registra Indonesia", None)


def test_an_idn_answer_matches_by_its_ascii_or_unicode_name() -> None:
    asked = domain_name("Straße.de")
    answer = {"objectClassName": "domain", "ldhName": "xn--strae-oqa.de.", "unicodeName": "straße.de",
              "status": ["active"]}
    assert parse_domain(answer, asked).domain == "xn--strae-oqa.de"
    assert parse_domain({**answer, "ldhName": "straße.de"}, asked).statuses == ("ok",)


def test_a_minimal_answer_has_nothing_but_its_name() -> None:
    observed = parse_domain({"objectClassName": "domain", "ldhName": "bare.example"}, domain_name("bare.example"))
    assert observed == Observed("bare.example", None, None, None, None, (), None, None)


def test_the_latest_of_repeated_events_is_kept() -> None:
    answer = copy.deepcopy(VERISIGN_COM)
    answer["events"] += [{"eventAction": "last changed", "eventDate": "2026-02-01T00:00:00Z"},
                         {"eventAction": "last changed", "eventDate": "2020-01-01T00:00:00Z"}]
    assert parse_domain(answer, domain_name("example-shop.com")).last_changed == date(2026, 2, 1)


@pytest.mark.parametrize(("rdap", "epp"), [
    ("client transfer prohibited", "clientTransferProhibited"),
    ("server transfer prohibited", "serverTransferProhibited"),
    ("active", "ok"),
    ("pending delete", "pendingDelete"),
    ("redemption period", "redemptionPeriod"),
    ("auto renew period", "autoRenewPeriod"),
    ("client update prohibited", "clientUpdateProhibited"),
    ("server delete prohibited", "serverDeleteProhibited"),
    ("client renew prohibited", "clientRenewProhibited"),
    ("client hold", "clientHold"),
    ("server hold", "serverHold"),
    ("inactive", "inactive"),
    ("pending transfer", "pendingTransfer"),
    ("associated", "linked"),
    ("Client  Transfer Prohibited", "clientTransferProhibited"),  # case and spacing do not matter
    ("clientTransferProhibited", "clientTransferProhibited"),  # EPP names given already stay
    ("CLIENTTRANSFERPROHIBITED", "clientTransferProhibited"),
    ("validated", "validated"),  # RDAP-only statuses are kept as given
    ("transfer prohibited", "transfer prohibited"),
])
def test_rdap_statuses_map_to_epp_names(rdap: str, epp: str) -> None:
    assert epp_status(rdap) == epp


def test_statuses_keep_order_and_drop_repeats_and_blanks() -> None:
    assert statuses_of(["active", "ok", " ", "pending delete", "pendingDelete"]) == ("ok", "pendingDelete")


@pytest.mark.parametrize(("answer", "message"), [
    (["not", "an", "object"], "expected an RDAP domain object (a JSON object), got a list of 3"),
    ({"objectClassName": "entity", "ldhName": "example-shop.com"},
     "expected an RDAP object of class 'domain', got 'entity'"),
    ({"errorCode": 400, "title": "Bad request"}, "expected an RDAP object of class 'domain', got None"),
    ({"objectClassName": "domain"}, "expected the domain's 'ldhName' as text, got None"),
    ({"objectClassName": "domain", "ldhName": "other.com"},
     "expected the RDAP answer for example-shop.com, got one for 'other.com'"),
    ({"objectClassName": "domain", "ldhName": "example-shop.com", "events": {"eventAction": "expiration"}},
     "expected 'events' to be a list, got an object"),
    ({"objectClassName": "domain", "ldhName": "example-shop.com", "events": ["expiration"]},
     "expected each event to be an object, got 'expiration'"),
    ({"objectClassName": "domain", "ldhName": "example-shop.com",
      "events": [{"eventAction": "expiration", "eventDate": "next year"}]},
     "expected an ISO 8601 date in the expiration event, got 'next year'"),
    ({"objectClassName": "domain", "ldhName": "example-shop.com",
      "events": [{"eventAction": "registration"}]},
     "expected an ISO 8601 date in the registration event, got None"),
    ({"objectClassName": "domain", "ldhName": "example-shop.com", "status": "active"},
     "expected 'status' to be a list, got 'active'"),
    ({"objectClassName": "domain", "ldhName": "example-shop.com", "status": ["active", 7]},
     "expected 'status' to be strings, got a list of 2"),
    ({"objectClassName": "domain", "ldhName": "example-shop.com", "entities": [None]},
     "expected each entity to be an object, got None"),
])
def test_malformed_answers_say_what_was_expected_and_what_came(answer: Any, message: str) -> None:
    with pytest.raises(HandoverError) as caught:
        parse_domain(answer, domain_name("example-shop.com"))
    assert str(caught.value) == message


def test_a_long_value_is_shortened_in_the_message() -> None:
    answer = {"objectClassName": "domain", "ldhName": "x" * 500 + ".com"}
    with pytest.raises(HandoverError) as caught:
        parse_domain(answer, domain_name("example-shop.com"))
    assert len(str(caught.value)) < 140 and str(caught.value).endswith("...")


def test_unknown_events_and_odd_entities_are_ignored() -> None:
    answer = {"objectClassName": "domain", "ldhName": "example-shop.com",
              "events": [{"eventAction": "locked", "eventDate": "whenever"}],
              "entities": [{"roles": ["registrar"], "vcardArray": "not a card", "publicIds": "nope"}]}
    observed = parse_domain(answer, domain_name("example-shop.com"))
    assert (observed.expires, observed.registrar_name, observed.registrar_iana_id) == (None, None, None)


# -- the bootstrap --------------------------------------------------------------------------------------------
BOOTSTRAP = {
    "version": "1.0",
    "publication": "2026-02-18T20:00:01Z",
    "description": "RDAP bootstrap file for Domain Name System registrations",
    "services": [
        [["com", "net"], ["https://rdap.verisign.com/com/v1/"]],
        [["id"], ["http://rdap.pandi.id/rdap/", "https://rdap.pandi.id/rdap/"]],
        [["co.id"], ["https://rdap.example.net/coid/"]],
        [["XN--P1AI"], ["http://rdap.tcinet.ru/"]],
    ],
}


@pytest.mark.parametrize(("name", "url"), [
    ("example.com", "https://rdap.verisign.com/com/v1/"),
    ("EXAMPLE.NET", "https://rdap.verisign.com/com/v1/"),
    ("pandi.id", "https://rdap.pandi.id/rdap/"),  # HTTPS before HTTP
    ("tokobuku.co.id", "https://rdap.example.net/coid/"),  # the longest suffix wins
    ("пример.рф", "http://rdap.tcinet.ru/"),  # HTTP when that is all there is; IDN TLDs by their A-label
    ("example.xyz", None),
])
def test_the_bootstrap_names_a_service(name: str, url: str | None) -> None:
    assert parse_bootstrap(BOOTSTRAP).url_for(domain_name(name)) == url


@pytest.mark.parametrize(("data", "message"), [
    ([], "expected an RDAP bootstrap (a JSON object), got a list of 0"),
    ({"services": "com"}, "expected the bootstrap's 'services' to be a list, got 'com'"),
    ({"services": [["com"]]}, "expected bootstrap service 0 to be [[entries], [urls]], got a list of 1"),
    ({"services": [[["com"], [3]]]}, "expected the URLs of bootstrap service 0 to be strings, got a list of 1"),
])
def test_a_malformed_bootstrap(data: object, message: str) -> None:
    with pytest.raises(HandoverError) as caught:
        parse_bootstrap(data)
    assert str(caught.value) == message


# -- comparing ------------------------------------------------------------------------------------------------
def registered(**changes: Any) -> Domain:
    fields: dict[str, Any] = {"name": domain_name("example-shop.com"), "customer": "c1", "registrar": "namecheap",
                              "expires": date(2027, 3, 2),
                              "statuses": ("clientDeleteProhibited", "clientTransferProhibited",
                                           "clientUpdateProhibited")}
    return Domain(**{**fields, **changes})


OBSERVED = parse_domain(VERISIGN_COM, domain_name("example-shop.com"))


def test_an_agreeing_register_has_no_differences() -> None:
    assert compare(registered(), "Namecheap", OBSERVED) == []


def test_each_disagreement_is_one_difference() -> None:
    domain = registered(expires=date(2026, 3, 2), statuses=("clientTransferProhibited",))
    assert compare(domain, "GoDaddy", OBSERVED) == [
        Difference("example-shop.com", "expires", "2026-03-02", "2027-03-02"),
        Difference("example-shop.com", "statuses", "clientTransferProhibited",
                   "clientDeleteProhibited clientTransferProhibited clientUpdateProhibited"),
        Difference("example-shop.com", "registrar", "GoDaddy", "NameCheap, Inc."),
    ]


@pytest.mark.parametrize(("ours", "theirs", "differs"), [
    ((), ("ok",), False),  # "active" (ok) only says no other status is set
    (("ok",), ("ok",), False),
    (("active",), (), False),  # nothing published: nothing to compare
    (("clientTransferProhibited",), ("ok",), True),
    ((), ("pendingDelete", "redemptionPeriod"), True),
    (("redemptionPeriod", "pendingDelete"), ("pendingDelete", "redemptionPeriod"), False),  # sets: order is noise
    (("clientTransferProhibited",), ("ok", "clientTransferProhibited"), False),
])
def test_statuses_compare_as_sets(ours: tuple[str, ...], theirs: tuple[str, ...], differs: bool) -> None:
    observed = Observed("example-shop.com", None, None, None, None, theirs, None, None)
    found = compare(registered(statuses=ours), "Namecheap", observed)
    assert [d.field for d in found] == (["statuses"] if differs else [])


def test_a_status_list_that_becomes_empty_reads_ok() -> None:
    observed = Observed("example-shop.com", None, None, None, None, ("ok",), None, None)
    assert compare(registered(statuses=("clientHold",)), "x", observed) == [
        Difference("example-shop.com", "statuses", "clientHold", "ok")]


def test_what_the_registry_leaves_out_is_not_a_difference() -> None:
    observed = Observed("example-shop.com", None, None, None, None, (), None, None)
    assert compare(registered(expires=date(2000, 1, 1), statuses=("clientHold",)), "Anyone", observed) == []


def test_an_idn_domain_is_compared_by_its_ascii_name() -> None:
    name = domain_name("münchen.id")
    observed = Observed(name.ascii, date(2027, 1, 1), None, None, None, ("ok",), None, None)
    domain = Domain(name, "c1", "pandi", date(2026, 1, 1))
    assert compare(domain, "x", observed) == [Difference("xn--mnchen-3ya.id", "expires", "2026-01-01", "2027-01-01")]


def test_comparing_another_domains_answer_is_refused() -> None:
    with pytest.raises(HandoverError, match="expected the RDAP answer for example-shop.com, got one for other.com"):
        compare(registered(), "Namecheap", Observed("other.com", None, None, None, None, (), None, None))


@pytest.mark.parametrize(("register", "rdap"), [
    ("Namecheap", "NameCheap, Inc."),
    ("GoDaddy", "GoDaddy.com, LLC"),
    ("Go Daddy", "GoDaddy.com, LLC"),
    ("Aruba", "Aruba S.p.A."),
    ("Register.it", "Register.it S.p.A."),
    ("Tucows Domains", "Tucows Domains Inc."),
    ("Key-Systems", "Key-Systems GmbH"),
    ("Digital Registra Indonesia", "PT. Digital Registra Indonesia"),
    ("Example Registrar Ltd", "EXAMPLE REGISTRAR LIMITED"),
    ("OVH", "OVH SAS"),
    ("Ｎａｍｅｃｈｅａｐ", "Namecheap"),  # full-width letters fold (NFKC)
])
def test_registrar_names_that_agree(register: str, rdap: str) -> None:
    assert same_registrar(register, rdap)


@pytest.mark.parametrize(("register", "rdap"), [
    ("Namecheap", "GoDaddy.com, LLC"),
    ("Tucows", "Tucows Domains Inc."),  # words other than legal forms count
    ("Registra", "PT Digital Registra Indonesia"),
])
def test_registrar_names_that_differ(register: str, rdap: str) -> None:
    assert not same_registrar(register, rdap)


def test_a_name_of_legal_forms_only_is_kept() -> None:
    assert registrar_key("S.A.") == "sa" and not same_registrar("S.A.", "Ltd")
