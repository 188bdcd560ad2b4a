"""Register rows: reading the documented CSV files, and errors that name file, row, column, expected and got."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from handover.errors import RowError
from handover.model import Customer, Cycle, Domain, Hosting, Packaging, Registrant, Registrar
from handover.names import domain_name
from handover.rows import COLUMNS, Parsed, check_header, kind_of, parse_row, read_csv


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def read(path: Path, kind: str) -> list[Parsed]:
    return list(read_csv(path, kind))


def records(parsed: list[Parsed]) -> list[object]:
    assert [p.errors for p in parsed if p.errors] == []
    return [p.record for p in parsed]


def errors(parsed: list[Parsed]) -> list[RowError]:
    return [e for p in parsed for e in p.errors]


def only_error(parsed: list[Parsed]) -> RowError:
    found = errors(parsed)
    assert len(found) == 1, found
    return found[0]


# Good files, one of each kind


def test_a_good_customers_file(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv",
                 "id,name,email,language,country,company\n"
                 "c1,Budi Santoso,budi@example.co.id,id,id,PT Maju\n"
                 "c2,Ana Souza,,pt-BR,BR,\n"
                 "c3,Mario Rossi,mario@example.it,,,\n")
    customers = records(read(path, "customers"))
    assert customers[:2] == [
        Customer("c1", "Budi Santoso", "budi@example.co.id", "id", "ID", "PT Maju"),
        Customer("c2", "Ana Souza", None, "pt", "BR", None),
    ]
    third = customers[2]
    assert isinstance(third, Customer)
    assert (third.id, third.name, third.email, third.country, third.company) == (
        "c3", "Mario Rossi", "mario@example.it", None, None)
    assert third.notice_language == "en"  # no language given: notices go out in English


def test_a_good_domains_file(tmp_path: Path) -> None:
    path = write(tmp_path, "domains.csv",
                 "domain,customer,registrar,expires,registrar_account,created,last_transfer,last_owner_change,"
                 "owner_change_opt_out,statuses,auto_renew,registrant\n"
                 "Bücher.CO.ID,c1,rw,2027-01-05,acc-1,2020-01-05,2024-02-01,2025-03-01,yes,"
                 "clientTransferProhibited clientDeleteProhibited,no,reseller\n"
                 "example.com,c2,rw,2026-12-31,,,,,,,,\n")
    first, second = records(read(path, "domains"))
    assert first == Domain(domain_name("bücher.co.id"), "c1", "rw", date(2027, 1, 5), "acc-1", date(2020, 1, 5),
                           date(2024, 2, 1), date(2025, 3, 1), True,
                           ("clientTransferProhibited", "clientDeleteProhibited"), False, Registrant.RESELLER)
    assert second == Domain(domain_name("example.com"), "c2", "rw", date(2026, 12, 31))
    assert isinstance(second, Domain) and second.registrant is Registrant.CUSTOMER


def test_a_good_hosting_file(tmp_path: Path) -> None:
    path = write(tmp_path, "hosting.csv",
                 "id,customer,provider,paid_until,panel,plan,server,price,currency,cycle,packaging,account,domain\n"
                 "h1,c1,Niagahoster,2026-05-01,cPanel,Pro,sg1.example.net,150000,idr,Annually,pooled,budi,"
                 "bücher.co.id\n"
                 "h2,c2,Hetzner,2026-06-30,,,,9.90,EUR,monthly,,,\n")
    assert records(read(path, "hosting")) == [
        Hosting("h1", "c1", "Niagahoster", date(2026, 5, 1), "cPanel", "Pro", "sg1.example.net", Decimal("150000"),
                "IDR", Cycle.ANNUALLY, Packaging.POOLED, "budi", "bücher.co.id"),
        Hosting("h2", "c2", "Hetzner", date(2026, 6, 30), None, None, None, Decimal("9.90"), "EUR", Cycle.MONTHLY),
    ]


def test_a_good_registrars_file(tmp_path: Path) -> None:
    path = write(tmp_path, "registrars.csv",
                 "id,name,ticket_email,reseller_move,epp,reseller_account,documents,website\n"
                 "rw,Rumahweb,support@rumahweb.example,yes,no,R-123,death certificate; ID card ;,rumahweb.com\n"
                 "gd,GoDaddy,,,,,,\n")
    assert records(read(path, "registrars")) == [
        Registrar("rw", "Rumahweb", "support@rumahweb.example", True, False, "R-123",
                  ("death certificate", "ID card"), "rumahweb.com"),
        Registrar("gd", "GoDaddy"),
    ]


def test_every_kind_has_documented_columns() -> None:
    assert set(COLUMNS) == {"customers", "domains", "hosting", "registrars"}
    for columns in COLUMNS.values():
        assert all(column.help for column in columns)
        assert any(column.required for column in columns)


# The header


def test_a_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "domains.csv", "domain,customer,expires\nexample.com,c1,2027-01-01\n")
    (result,) = read(path, "domains")
    assert result.row == 0 and result.record is None
    error = only_error([result])
    assert (error.file, error.row, error.column, error.got) == ("domains.csv", 0, "registrar",
                                                                "no such column in the header")
    assert "registrar" in error.expected


def test_an_unknown_column_is_a_typo_not_silently_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "domains.csv", "domain,customer,registrar,expires,expiry\nexample.com,c1,rw,2027-01-01,\n")
    error = only_error(read(path, "domains"))
    assert (error.file, error.row, error.column) == ("domains.csv", 0, "expiry")
    assert error.got == "an unknown column 'expiry'"
    assert "expires" in error.expected


def test_a_duplicate_column(tmp_path: Path) -> None:
    path = write(tmp_path, "domains.csv",
                 "domain,customer,registrar,expires,customer\nexample.com,c1,rw,2027-01-01,c2\n")
    error = only_error(read(path, "domains"))
    assert (error.file, error.row, error.column, error.expected, error.got) == (
        "domains.csv", 0, "customer", "each column once", "it twice")


def test_an_empty_file(tmp_path: Path) -> None:
    error = only_error(read(write(tmp_path, "hosting.csv", ""), "hosting"))
    assert (error.row, error.column, error.got) == (0, "*", "an empty file")


def test_check_header_reports_every_problem() -> None:
    found = check_header("customers", ["id", "nmae", "email", "email"], "customers.csv")
    assert {(e.column, e.got) for e in found} == {("name", "no such column in the header"),
                                                  ("nmae", "an unknown column 'nmae'"), ("email", "it twice")}


def test_spaces_around_header_names(tmp_path: Path) -> None:
    path = write(tmp_path, "domains.csv", "domain, customer ,registrar,expires\nexample.com,c1,rw,2027-01-01\n")
    (result,) = read(path, "domains")
    assert result.errors == ()
    assert isinstance(result.record, Domain) and result.record.customer == "c1"


# Bad cells

DOMAINS_HEADER = "domain,customer,registrar,expires,created,owner_change_opt_out\n"
HOSTING_HEADER = "id,customer,provider,paid_until,price,currency\n"


@pytest.mark.parametrize(
    ("kind", "header", "row", "column", "expected", "got"),
    [
        ("domains", DOMAINS_HEADER, "example.com,c1,rw,2027-31-01,,", "expires", "a date as YYYY-MM-DD",
         "'2027-31-01'"),
        ("domains", DOMAINS_HEADER, "example.com,c1,rw,05/01/2027,,", "expires", "a date as YYYY-MM-DD",
         "'05/01/2027'"),
        ("domains", DOMAINS_HEADER, "my_site.com,c1,rw,2027-01-05,,", "domain", "a valid IDNA 2008 domain name",
         "'my_site.com': Codepoint U+005F at position 3 of 'my_site' not allowed"),
        ("domains", DOMAINS_HEADER, "localhost,c1,rw,2027-01-05,,", "domain",
         "a domain name with at least two non-empty labels (like example.com)", "'localhost'"),
        ("domains", DOMAINS_HEADER, "example.com,c1,rw,2027-01-05,,maybe", "owner_change_opt_out", "yes or no",
         "'maybe'"),
        ("domains", DOMAINS_HEADER, "example.com,,rw,2027-01-05,,", "customer", "the customer id it belongs to",
         "an empty value"),
        ("domains", DOMAINS_HEADER, "example.com,c1,rw,2027-01-05,2027-02-01,", "created",
         "a date before the expiry (2027-01-05)", "2027-02-01"),
        ("customers", "id,name,email\n", "c1,Budi,budi.example.com", "email",
         "an e-mail address like name@example.com", "'budi.example.com'"),
        ("customers", "id,name,email\n", "c1,Budi,budi@localhost", "email",
         "an e-mail address like name@example.com", "'budi@localhost'"),
        ("customers", "id,name,country\n", "c1,Budi,Indonesia", "country",
         "a two-letter ISO 3166 code like ID or IT", "'Indonesia'"),
        ("hosting", HOSTING_HEADER, 'h1,c1,Niagahoster,2026-05-01,"1.234,50",IDR', "price",
         "an amount like 150000 or 9.90 (a dot for decimals, no thousands separator)", "'1.234,50'"),
        ("hosting", HOSTING_HEADER, "h1,c1,Niagahoster,2026-05-01,-5,IDR", "price", "an amount of zero or more",
         "'-5'"),
        ("hosting", HOSTING_HEADER, "h1,c1,Niagahoster,2026-05-01,150000,", "currency", "a currency for the price",
         "an empty value"),
        ("hosting", HOSTING_HEADER, "h1,c1,Niagahoster,2026-05-01,150000,Rp", "currency",
         "a three-letter ISO 4217 code like IDR or EUR", "'Rp'"),
        ("hosting", "id,customer,provider,paid_until,cycle\n", "h1,c1,Niagahoster,2026-05-01,fortnightly", "cycle",
         "a billing cycle such as monthly, quarterly, semiannually, annually, biennially, triennially, one-time (or a "
         "synonym: annual, yearly, 1 year, 12 months, …)", "'fortnightly'"),
    ],
)
def test_a_bad_cell_names_file_row_column_expected_and_got(tmp_path: Path, kind: str, header: str, row: str,
                                                            column: str, expected: str, got: str) -> None:
    path = write(tmp_path, f"{kind}.csv", header + row + "\n")
    (result,) = read(path, kind)
    assert result.record is None
    assert only_error([result]) == RowError(f"{kind}.csv", 1, column, expected, got)


def test_the_error_reads_as_a_sentence(tmp_path: Path) -> None:
    path = write(tmp_path, "domains.csv", DOMAINS_HEADER + "example.com,c1,rw,tomorrow,,\n")
    assert str(only_error(read(path, "domains"))) == (
        "domains.csv, row 1, column 'expires': expected a date as YYYY-MM-DD, got 'tomorrow'")


def test_a_value_containing_got_is_reported_whole() -> None:
    result = parse_row("customers", {"id": "c1", "name": "Budi", "email": "a, got b"}, "customers.csv", 1)
    assert only_error([result]) == RowError("customers.csv", 1, "email", "an e-mail address like name@example.com",
                                            "'a, got b'")


def test_a_stray_comma_gives_more_cells_than_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", "id,name,email\nc1,Santoso, Budi,budi@example.co.id\n")
    error = only_error(read(path, "customers"))
    assert error == RowError("customers.csv", 1, "*", "3 cells", "4 (a stray comma?)")


def test_every_bad_row_and_every_bad_cell_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "domains.csv",
                 DOMAINS_HEADER
                 + "good.com,c1,rw,2027-01-05,,\n"
                 + "bad_name.com,c1,rw,never,,\n"
                 + "good.org,c1,rw,2027-01-05,,\n"
                 + "other.com,,rw,2027-01-05,,perhaps\n")
    parsed = read(path, "domains")
    assert [p.row for p in parsed] == [1, 2, 3, 4]
    assert [p.record is not None for p in parsed] == [True, False, True, False]
    assert [(e.row, e.column) for e in errors(parsed)] == [
        (2, "domain"), (2, "expires"), (4, "customer"), (4, "owner_change_opt_out")]
    assert all(e.file == "domains.csv" and e.expected and e.got for e in errors(parsed))


# Tolerated input


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", "id,name\nc1,Budi\n\n,\n  ,  \nc2,Ana\n\n")
    assert [c.id for c in records(read(path, "customers")) if isinstance(c, Customer)] == ["c1", "c2"]


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", "id,name\nc1,Bücher Ltd\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert records(read(path, "customers")) == [Customer("c1", "Bücher Ltd")]


def test_text_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", "id,name\nc1,Bücher Ltd\n", encoding="latin-1")
    error = only_error(read(path, "customers"))
    assert (error.file, error.column, error.expected) == ("customers.csv", "*", "UTF-8 CSV text")


def test_a_windows_file_with_quoted_cells(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", 'id,name,company\r\nc1,"Santoso, Budi","PT ""Maju"""\r\n')
    assert records(read(path, "customers")) == [Customer("c1", "Santoso, Budi", company='PT "Maju"')]


def test_an_unsupported_language_falls_back_to_english_with_a_note(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", "id,name,language\nc1,Hans,de\nc2,Ana,pt-BR\nc3,Sari,ID\nc4,Lu,pt_br\n")
    parsed = read(path, "customers")
    assert errors(parsed) == []
    assert [(c.id, c.language) for c in records(parsed) if isinstance(c, Customer)] == [
        ("c1", "en"), ("c2", "pt"), ("c3", "id"), ("c4", "pt")]
    assert parsed[0].notes == ("customers.csv, row 1: customer c1: language 'de' is not supported; "
                               "notices to them will be in English",)
    assert all(p.notes == () for p in parsed[1:])


def test_a_regional_variant_of_an_unsupported_language_is_noted() -> None:
    result = parse_row("customers", {"id": "c1", "name": "Jean", "language": "fr-CA"}, "customers.csv", 7)
    assert isinstance(result.record, Customer) and result.record.language == "en"
    assert result.notes and "row 7" in result.notes[0] and "'fr-ca'" in result.notes[0]


@pytest.mark.parametrize(("text", "value"), [("yes", True), ("Y", True), ("TRUE", True), ("1", True), ("on", True),
                                             ("no", False), ("N", False), ("false", False), ("0", False),
                                             ("", False)])
def test_bool_spellings(text: str, value: bool) -> None:
    result = parse_row("domains", {"domain": "example.com", "customer": "c1", "registrar": "rw",
                                   "expires": "2027-01-05", "auto_renew": text}, "domains.csv", 1)
    assert isinstance(result.record, Domain) and result.record.auto_renew is value


def test_dates_with_a_time_and_zero_dates() -> None:
    result = parse_row("domains", {"domain": "example.com", "customer": "c1", "registrar": "rw",
                                   "expires": "2027-01-05 00:00:00", "created": "0000-00-00"}, "domains.csv", 1)
    assert isinstance(result.record, Domain)
    assert (result.record.expires, result.record.created) == (date(2027, 1, 5), None)


# File names


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("customers.csv", "customers"), ("Customers.CSV", "customers"), ("customer.csv", "customers"),
        ("domains.csv", "domains"), ("2026-export-domains.csv", "domains"), ("whmcs_domains.csv", "domains"),
        ("hosting.csv", "hosting"), ("registrars.csv", "registrars"), ("registrar.csv", "registrars"),
        ("invoices.csv", None), ("mydomains.csv", None), ("domains-old.csv", None),
    ],
)
def test_kind_of_by_file_name(name: str, kind: str | None) -> None:
    assert kind_of(Path("/import") / name) == kind
