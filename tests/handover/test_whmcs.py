"""Reading a WHMCS export (GetClients, GetClientsDomains, GetClientsProducts JSON) into register rows."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from handover.errors import HandoverError, RowError
from handover.model import Customer, Cycle, Domain, Hosting, Packaging, Registrant, Registrar
from handover.rows import KIND_ORDER, Parsed
from handover.whmcs import NO_DUE_DATE, language_code, read_export, registrar_name

SECRET = "Hunter2-S3cr3t!"


def _client(cid: int, first: str, last: str, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "firstname": first, "lastname": last, "companyname": "", "email": f"{first.lower()}@example.com",
            "datecreated": "2019-05-01", "groupid": 0, "status": "Active", "password": SECRET, **extra}


def _domain(did: int, userid: int, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": did, "userid": userid, "orderid": 100 + did, "regtype": "Register", "domainname": name,
            "registrar": "resellerclub", "regperiod": 1, "firstpaymentamount": "150000.00",
            "recurringamount": "150000.00", "paymentmethod": "banktransfer", "paymentmethodname": "Bank Transfer",
            "regdate": "2020-01-01", "expirydate": "2027-01-01", "nextduedate": "2027-01-01", "status": "Active",
            "subscriptionid": "", "dnsmanagement": 0, "emailforwarding": 0, "idprotection": 0, "donotrenew": 0,
            "notes": "", **extra}


def _product(pid: int, clientid: int, domain: str, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "clientid": clientid, "orderid": 200 + pid, "pid": 3, "regdate": "2021-03-04",
            "name": "Starter", "translated_name": "Starter", "groupname": "Shared Hosting", "domain": domain,
            "dedicatedip": "", "serverid": 1, "servername": "sg1", "serverip": "203.0.113.7",
            "serverhostname": "sg1.example.net", "suspensionreason": "", "firstpaymentamount": "150000.00",
            "recurringamount": "150000.00", "paymentmethod": "banktransfer", "paymentmethodname": "Bank Transfer",
            "paymentmethodname2": "", "billingcycle": "Monthly", "nextduedate": "2027-01-01", "status": "Active",
            "username": f"user{pid}", "password": SECRET, "subscriptionid": "", "promoid": 0, "overideautosuspend": 0,
            "diskusage": 120, "disklimit": 1024, "bwusage": 3, "bwlimit": 10240, "lastupdate": "2026-01-01 00:00:00",
            "customfields": {"customfield": []}, "configoptions": {"configoption": []}, **extra}


def _response(name: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    singular = name[:-1]
    return {"result": "success", "totalresults": len(items), "startnumber": 0, "numreturned": len(items),
            name: {singular: items}}


CLIENTS = [
    _client(1, "Budi", "Santoso", companyname="PT Contoh", language="indonesian", countrycode="ID",
            currencycode="IDR"),
    _client(2, "Ana", "Silva", language="portuguese-br", country="BR"),
    _client(3, "Marco", "Rossi", language="italian", country="it", apikey=SECRET, api_key=SECRET),
]
DOMAINS = [
    _domain(5, 1, "contoh.co.id", registrar="domainregister"),
    _domain(6, 2, "exemplo.com.br", regtype="Transfer", regdate="2024-06-10", donotrenew=1),
    _domain(7, 3, "esempio.it", registrar="enom"),
]
PRODUCTS = [
    _product(7, 1, "contoh.co.id", servertype="cpanel"),
    _product(8, 2, "exemplo.com.br", billingcycle="Annually", recurringamount="49.90"),
]


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _export(tmp_path: Path, clients: list[dict[str, Any]] | None = None, domains: list[dict[str, Any]] | None = None,
            products: list[dict[str, Any]] | None = None, **top: Any) -> Path:
    doc = {"clients": _response("clients", CLIENTS if clients is None else clients),
           "domains": _response("domains", DOMAINS if domains is None else domains),
           "products": _response("products", PRODUCTS if products is None else products), **top}
    return _write(tmp_path / "export.json", doc)


def _read(path: Path) -> dict[str, list[Parsed]]:
    return {kind: list(results) for kind, results in read_export(path).items()}


def _records(results: list[Parsed]) -> list[Any]:
    assert all(not r.errors for r in results), [str(e) for r in results for e in r.errors]
    return [r.record for r in results if r.record is not None]


def _errors(results: list[Parsed]) -> list[RowError]:
    return [e for r in results for e in r.errors]


def _notes(results: list[Parsed]) -> list[str]:
    return [n for r in results for n in r.notes]


# The forms an export comes in --------------------------------------------------------------------------------


def test_a_single_file_with_the_three_responses_under_their_keys(tmp_path: Path) -> None:
    read = _read(_export(tmp_path))
    assert list(read) == list(KIND_ORDER)
    assert [c.id for c in _records(read["customers"])] == ["1", "2", "3"]
    assert [str(d.name) for d in _records(read["domains"])] == ["contoh.co.id", "exemplo.com.br", "esempio.it"]
    assert [h.id for h in _records(read["hosting"])] == ["7", "8"]
    assert [r.id for r in _records(read["registrars"])] == ["domainregister", "resellerclub", "enom"]


def test_a_merged_response_and_inner_lists_are_found_structurally(tmp_path: Path) -> None:
    merged = _write(tmp_path / "merged.json", {"result": "success", "clients": {"client": CLIENTS},
                                              "domains": {"domain": DOMAINS}, "products": PRODUCTS})
    read = _read(merged)
    assert len(_records(read["customers"])) == 3
    assert len(_records(read["domains"])) == 3
    assert len(_records(read["hosting"])) == 2


def test_a_folder_of_response_files(tmp_path: Path) -> None:
    folder = tmp_path / "whmcs"
    folder.mkdir()
    _write(folder / "GetClients.json", _response("clients", CLIENTS))
    _write(folder / "domains.json", {"domain": DOMAINS})
    _write(folder / "GetClientsProducts.json", PRODUCTS)
    _write(folder / "notes.json", {"unrelated": True})
    read = _read(folder)
    assert _records(read["customers"]) == _records(_read(_export(tmp_path))["customers"])
    assert [str(d.name) for d in _records(read["domains"])] == ["contoh.co.id", "exemplo.com.br", "esempio.it"]
    assert [h.id for h in _records(read["hosting"])] == ["7", "8"]
    assert read["hosting"][0].errors == () and read["domains"][0].row == 1


def test_a_file_named_for_its_listing_may_hold_the_bare_list(tmp_path: Path) -> None:
    domains = _read(_write(tmp_path / "domains.json", DOMAINS))
    assert [r.id for r in _records(domains["registrars"])] == ["domainregister", "resellerclub", "enom"]
    assert len(_records(domains["domains"])) == 3
    products = _read(_write(tmp_path / "GetClientsProducts.json", {"product": PRODUCTS}))
    assert {r.file for r in products["hosting"]} == {"GetClientsProducts.json (products)"}
    with pytest.raises(HandoverError, match="^export.json: expected WHMCS API JSON"):
        read_export(_write(tmp_path / "export.json", DOMAINS))


def test_every_result_names_its_file(tmp_path: Path) -> None:
    domains: list[Any] = [*DOMAINS, "junk", _domain(9, 1, "x.example", status="Fraud"),
                          _domain(10, 1, "y.example", expirydate=["2027"])]
    path = _write(tmp_path / "export.json", {"clients": {"client": "oops"}, "domains": {"domain": domains},
                                             "products": {"product": PRODUCTS}})
    read = _read(path)
    files = {(kind, r.file) for kind, results in read.items() for r in results}
    assert files == {("registrars", "export.json (domains)"), ("domains", "export.json (domains)"),
                     ("customers", "export.json (clients)"), ("hosting", "export.json (products)")}


def test_a_folder_without_the_files_or_with_two_for_one_listing(tmp_path: Path) -> None:
    with pytest.raises(HandoverError, match="GetClients.json"):
        read_export(tmp_path)
    _write(tmp_path / "GetClients.json", _response("clients", CLIENTS))
    _write(tmp_path / "clients.json", _response("clients", CLIENTS))
    with pytest.raises(HandoverError, match="one file with the clients, got 2: GetClients.json, clients.json"):
        read_export(tmp_path)


def test_a_file_with_only_some_listings_gives_empty_kinds_for_the_others(tmp_path: Path) -> None:
    read = _read(_write(tmp_path / "c.json", _response("clients", CLIENTS)))
    assert len(read["customers"]) == 3
    assert read["domains"] == read["hosting"] == read["registrars"] == []


def test_an_empty_whmcs_listing_is_no_rows(tmp_path: Path) -> None:
    read = _read(_write(tmp_path / "e.json", {"result": "success", "totalresults": 0, "clients": ""}))
    assert read["customers"] == []


# Field mapping, cell by cell ---------------------------------------------------------------------------------


def test_customers(tmp_path: Path) -> None:
    budi, ana, marco = _records(_read(_export(tmp_path))["customers"])
    assert budi == Customer("1", "Budi Santoso", "budi@example.com", "id", "ID", "PT Contoh")
    assert ana == Customer("2", "Ana Silva", "ana@example.com", "pt", "BR", None)
    assert marco == Customer("3", "Marco Rossi", "marco@example.com", "it", "IT", None)


def test_a_company_without_a_person_is_named_by_the_company(tmp_path: Path) -> None:
    client = _client(9, "", "", companyname="CV Maju", email="info@maju.example")
    [customer] = _records(_read(_export(tmp_path, clients=[client]))["customers"])
    assert (customer.name, customer.company) == ("CV Maju", "CV Maju")


@pytest.mark.parametrize(("whmcs", "code"), [("english", "en"), ("English", "en"), ("indonesian", "id"),
                                             ("portuguese-pt", "pt"), ("portuguese-br", "pt"), ("italian", "it"),
                                             ("", ""), ("german", "german")])
def test_language_names(whmcs: str, code: str) -> None:
    assert language_code(whmcs) == code


def test_an_unsupported_language_falls_back_to_english_with_a_note(tmp_path: Path) -> None:
    clients = [_client(1, "Hans", "Meier", language="german"), _client(2, "Jane", "Doe")]
    results = _read(_export(tmp_path, clients=clients))["customers"]
    assert [c.notice_language for c in _records(results)] == ["en", "en"]
    assert _notes(results) == ["export.json (clients), row 1: customer 1: language 'german' is not supported; "
                               "notices to them will be in English"]


def test_domains(tmp_path: Path) -> None:
    contoh, exemplo, esempio = _records(_read(_export(tmp_path))["domains"])
    assert isinstance(contoh, Domain)
    assert (contoh.name.ascii, contoh.customer, contoh.registrar, contoh.expires, contoh.created) == (
        "contoh.co.id", "1", "domainregister", date(2027, 1, 1), date(2020, 1, 1))
    assert (contoh.registrar_account, contoh.last_transfer, contoh.statuses) == (None, None, ())
    assert (contoh.auto_renew, contoh.registrant) == (True, Registrant.CUSTOMER)
    # a domain that came in by transfer: its WHMCS date is the transfer's, not the creation's
    assert (exemplo.created, exemplo.last_transfer) == (None, date(2024, 6, 10))
    assert exemplo.auto_renew is False  # donotrenew = 1
    assert (esempio.registrar, esempio.customer) == ("enom", "3")


def test_registrars_one_per_module_of_the_kept_domains(tmp_path: Path) -> None:
    domains = [*DOMAINS, _domain(8, 1, "lagi.co.id", registrar="domainregister"),
               _domain(9, 1, "lama.co.id", registrar="namecheap", status="Transferred Away"),
               _domain(10, 1, "baru.id", registrar="pandi_id")]
    results = _read(_export(tmp_path, domains=domains))["registrars"]
    assert _records(results) == [Registrar("domainregister", "DomainRegister", reseller_move=True),
                                 Registrar("resellerclub", "ResellerClub"), Registrar("enom", "eNom"),
                                 Registrar("pandi_id", "Pandi Id")]
    assert [r.row for r in results] == [1, 2, 3, 6]  # the row of the first domain naming it


@pytest.mark.parametrize(("module", "name"), [("resellerclub", "ResellerClub"), ("enom", "eNom"),
                                              ("namecheap", "Namecheap"), ("opensrs", "OpenSRS"),
                                              ("somethingnew", "Somethingnew")])
def test_registrar_names(module: str, name: str) -> None:
    assert registrar_name(module) == name


def test_hosting(tmp_path: Path) -> None:
    starter, annual = _records(_read(_export(tmp_path, currency={"code": "BRL"}))["hosting"])
    assert starter == Hosting("7", "1", "sg1", date(2027, 1, 1), "cPanel", "Starter", "sg1.example.net",
                              Decimal("150000.00"), "IDR", Cycle.MONTHLY, Packaging.INDIVIDUAL, "user7", "contoh.co.id")
    # client 2 has no currency in WHMCS: the export's top-level one applies; no server module: no panel
    assert (annual.price, annual.currency, annual.cycle, annual.panel) == (Decimal("49.90"), "BRL", Cycle.ANNUALLY,
                                                                           None)


def test_a_price_without_any_known_currency_is_left_out_with_a_note(tmp_path: Path) -> None:
    products = [_product(8, 2, "exemplo.com.br"), _product(9, 2, "free.example", recurringamount="0.00")]
    results = _read(_export(tmp_path, products=products))["hosting"]
    paid, free = _records(results)
    assert (paid.price, paid.currency, free.price, free.currency) == (None, None, None, None)
    assert _notes(results) == [
        'export.json (products), row 1: service 8: no currency known for client 2, so the price is left out '
        '(add "currency": {"code": "IDR"} at the top of the export)']


def test_a_service_without_a_server_has_an_unknown_provider(tmp_path: Path) -> None:
    product = _product(9, 1, "x.example", servername="", serverhostname="", serverid=0)
    results = _read(_export(tmp_path, products=[product]))["hosting"]
    [service] = _records(results)
    assert (service.provider, service.server) == ("unknown", None)
    assert _notes(results) == ["export.json (products), row 1: service 9: WHMCS names no server; the provider is "
                               "recorded as 'unknown'"]


@pytest.mark.parametrize(("whmcs", "cycle"), [("Monthly", Cycle.MONTHLY), ("Quarterly", Cycle.QUARTERLY),
                                              ("Semi-Annually", Cycle.SEMIANNUALLY), ("Annually", Cycle.ANNUALLY),
                                              ("Biennially", Cycle.BIENNIALLY), ("Triennially", Cycle.TRIENNIALLY),
                                              ("One Time", Cycle.ONE_TIME), ("Free Account", None)])
def test_billing_cycles(tmp_path: Path, whmcs: str, cycle: Cycle | None) -> None:
    product = _product(9, 1, "x.example", billingcycle=whmcs)
    [service] = _records(_read(_export(tmp_path, products=[product]))["hosting"])
    assert service.cycle == cycle


def test_an_unknown_billing_cycle_is_an_error_on_billingcycle(tmp_path: Path) -> None:
    product = _product(9, 1, "x.example", billingcycle="Weekly")
    [error] = _errors(_read(_export(tmp_path, products=[product]))["hosting"])
    assert (error.file, error.row, error.column, error.got) == ("export.json (products)", 1, "billingcycle",
                                                                "'Weekly'")


# Skipped entries ---------------------------------------------------------------------------------------------


def test_gone_domains_and_services_are_skipped_with_a_note(tmp_path: Path) -> None:
    domains = [_domain(1, 1, "gone.example", status="Transferred Away"), _domain(2, 1, "c.example", status="Cancelled"),
               _domain(3, 1, "f.example", status="Fraud"), _domain(4, 1, "kept.example", status="Expired"),
               _domain(5, 1, "new.example", status="Pending", expirydate="0000-00-00")]
    products = [_product(1, 1, "t.example", status="Terminated"), _product(2, 1, "c.example", status="Cancelled"),
                _product(3, 1, "s.example", status="Suspended")]
    read = _read(_export(tmp_path, domains=domains, products=products))
    assert [str(d.name) for d in _records(read["domains"])] == ["kept.example"]
    assert [r.row for r in read["domains"] if r.record is None] == [1, 2, 3, 5]
    assert _notes(read["domains"]) == [
        "export.json (domains), row 1: domain gone.example is Transferred Away in WHMCS; not imported",
        "export.json (domains), row 2: domain c.example is Cancelled in WHMCS; not imported",
        "export.json (domains), row 3: domain f.example is Fraud in WHMCS; not imported",
        "export.json (domains), row 5: domain new.example is Pending in WHMCS and has no expiry date yet; "
        "not imported"]
    assert [h.id for h in _records(read["hosting"])] == ["3"]
    assert _notes(read["hosting"]) == [
        "export.json (products), row 1: service 1 (t.example) is Terminated in WHMCS; not imported",
        "export.json (products), row 2: service 2 (c.example) is Cancelled in WHMCS; not imported"]


# Bad entries -------------------------------------------------------------------------------------------------


def test_bad_cells_are_row_errors_naming_the_file_row_and_whmcs_field(tmp_path: Path) -> None:
    domains = [_domain(1, 1, "ok.example"), _domain(2, 1, "bad.example", expirydate="2027-02-30"),
               _domain(3, 1, "exa mple..com"), _domain(4, 1, "zero.example", expirydate="0000-00-00")]
    results = _read(_export(tmp_path, domains=domains))["domains"]
    assert [r.record is not None for r in results] == [True, False, False, False]
    expiry, name, zero = _errors(results)
    assert expiry == RowError("export.json (domains)", 2, "expirydate", "a date as YYYY-MM-DD", "'2027-02-30'")
    assert (name.file, name.row, name.column) == ("export.json (domains)", 3, "domainname")
    assert "exa mple..com" in name.got
    assert (zero.row, zero.column, zero.got) == (4, "expirydate", "an empty value")  # WHMCS's unset date
    assert str(expiry) == ("export.json (domains), row 2, column 'expirydate': expected a date as YYYY-MM-DD, "
                           "got '2027-02-30'")


def test_more_bad_cells(tmp_path: Path) -> None:
    clients = [_client(1, "Budi", "S", email="not-an-email", country="Indonesia")]
    products = [_product(1, 1, "x.example", billingcycle="One Time", nextduedate="0000-00-00"),
                _product(2, 1, "y.example", recurringamount="1.500.000")]
    read = _read(_export(tmp_path, clients=clients, products=products, currency="IDR"))
    assert [(e.row, e.column) for e in _errors(read["customers"])] == [(1, "email"), (1, "country")]
    due, price = _errors(read["hosting"])
    assert (due.row, due.column, due.expected, due.got) == (1, "nextduedate", NO_DUE_DATE, "an empty value")
    assert (price.row, price.column, price.got) == (2, "recurringamount", "'1.500.000'")


def test_an_entry_that_is_not_an_object_or_a_field_that_is_not_a_value(tmp_path: Path) -> None:
    clients: list[Any] = ["Budi", _client(2, "Ana", "Silva", email={"primary": "ana@example.com"})]
    results = _read(_export(tmp_path, clients=clients))["customers"]
    assert _errors(results) == [
        RowError("export.json (clients)", 1, "*", "a JSON object (one client)", "a str"),
        RowError("export.json (clients)", 2, "email", "a text or number value", "a dict")]


def test_a_wrong_shape_is_a_row_zero_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.json", {"clients": {"client": "oops"}, "domains": {"domain": DOMAINS}})
    read = _read(path)
    [result] = read["customers"]
    assert (result.row, result.record) == (0, None)
    [error] = result.errors
    assert str(error) == "x.json (clients), column 'clients.client': expected a list under clients.client, got a str"
    assert len(_records(read["domains"])) == 3


def test_a_paged_listing_is_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    response = _response("clients", CLIENTS) | {"totalresults": 30}
    results = _read(_write(tmp_path / "GetClients.json", response))["customers"]
    assert results[0].errors == (RowError("GetClients.json (clients)", 0, "totalresults",
                                          "all 30 clients (WHMCS pages its answers: export again with limitnum=30 "
                                          "or more)", "3 of them"),)
    assert len([r for r in results if r.record]) == 3


# Unreadable input --------------------------------------------------------------------------------------------


def test_bad_json_says_what_was_expected_without_echoing_the_file(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('{"products": {"product": [{"id": 1, "password": "' + SECRET + '",}]}}', encoding="utf-8")
    with pytest.raises(HandoverError) as caught:
        read_export(path)
    message = str(caught.value)
    assert message.startswith("export.json: expected WHMCS API JSON (GetClients, GetClientsDomains or "
                              "GetClientsProducts responses), got invalid JSON: ")
    assert "(line 1, column" in message
    assert SECRET not in message


@pytest.mark.parametrize(("content", "got"), [
    (b"\xff\xfe{}", "got bytes that are not UTF-8 text (at byte 0)"),
    (b'{"result": "error", "message": "Authentication Failed"}', "got a WHMCS error response: 'Authentication Failed'"),
    (b'{"customers": []}', "got a JSON object with none of the keys clients, domains, products"),
    (b"[1, 2]", "got a JSON list with none of the keys"),
])
def test_input_that_is_not_a_whmcs_export(tmp_path: Path, content: bytes, got: str) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(content)
    with pytest.raises(HandoverError, match="^export.json: expected ") as caught:
        read_export(path)
    assert got in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HandoverError, match="^nothing.json: expected a readable file, got "):
        read_export(tmp_path / "nothing.json")


# Secrets -----------------------------------------------------------------------------------------------------


def test_passwords_and_keys_never_reach_a_record_note_or_error(tmp_path: Path) -> None:
    clients = [*CLIENTS, _client(4, "Bad", "Row", email="nope", secret=SECRET, language="klingon")]
    products = [*PRODUCTS, _product(9, 1, "bad..example", nextduedate="2027-02-30", passwd=SECRET,
                                    serverpassword=SECRET, accesstoken=SECRET, status="Terminated"),
                _product(10, 4, "z.example", nextduedate="x", pass_hash=SECRET, extra={"password": SECRET})]
    folder = tmp_path / "export"
    folder.mkdir()
    _write(folder / "clients.json", _response("clients", clients))
    _write(folder / "products.json", _response("products", products))
    for path in (_export(tmp_path, clients=clients, products=products), folder):
        read = _read(path)
        everything = [r for results in read.values() for r in results]
        assert _errors(read["hosting"]) and _errors(read["customers"]) and _notes(read["hosting"])
        for result in everything:
            for shown in (str(result), repr(result), *map(str, result.errors), *result.notes):
                assert SECRET not in shown
