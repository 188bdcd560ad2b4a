"""The register in the database (SQLite and PostgreSQL): all-or-nothing imports, upserts by id, and
a schema whose migration agrees with the metadata."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select

from baton.runtime import Runtime
from baton.store import migrate
from baton.store import register as registerstore
from baton.store.engine import make_engine
from baton.store.register import ImportReport, import_register, read_register
from baton.store.tables import customers, domains, handover_profiles, hosting, metadata, register_imports, registrars
from baton.testing import FakeClock
from handover.errors import ImportRejected, RowError
from handover.importing import sources
from handover.model import Cycle, Packaging, Registrant

REGISTER_TABLES = (registrars, customers, domains, hosting, register_imports, handover_profiles)
NEW_TABLES = {"registrars", "customers", "domains", "hosting", "register_imports", "handover_profiles", "notices"}

REGISTRARS = "id,name,ticket_email,reseller_move,epp,documents\n" \
             "rw,Rumahweb,support@rumahweb.example,yes,no,death certificate;ID card\n"
CUSTOMERS = "id,name,email,language,country\n" \
            "c1,Ana Souza,ana@example.org,pt-BR,BR\n" \
            "c2,Budi,budi@example.org,id,ID\n"
DOMAINS = "domain,customer,registrar,expires,statuses,registrant\n" \
          "bücher.co.id,c1,rw,2027-01-31,clientTransferProhibited,reseller\n" \
          "budi.id,c2,rw,2026-08-01,,\n"
HOSTING = "id,customer,provider,paid_until,panel,price,currency,cycle,packaging\n" \
          "h1,c1,upcloud,2026-12-31,cPanel,9.90,EUR,monthly,individual\n"


@pytest.fixture
def owner(runtime: Runtime) -> int:
    return runtime.service.create_owner("owner@example.org", "correct horse battery", "Asia/Makassar").owner.id


def write(folder: Path, **files: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = folder / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def run_import(runtime: Runtime, owner: int, paths: list[Path]) -> ImportReport:
    return import_register(runtime.engine, owner, sources(paths), runtime.service.clock.now())


def rejected(runtime: Runtime, owner: int, paths: list[Path]) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        run_import(runtime, owner, paths)
    return caught.value


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the register's tables, in id order."""
    with engine.connect() as conn:
        return {table.name: [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
                for table in REGISTER_TABLES}


def full(tmp: Path) -> list[Path]:
    return write(tmp, registrars=REGISTRARS, customers=CUSTOMERS, domains=DOMAINS, hosting=HOSTING)


# -- creating and updating -------------------------------------------------------------------------
def test_an_import_creates_every_record(runtime: Runtime, owner: int, tmp_path: Path) -> None:
    report = run_import(runtime, owner, full(tmp_path))
    assert report.created == {"registrars": 1, "customers": 2, "domains": 2, "hosting": 1}
    assert report.updated == {"registrars": 0, "customers": 0, "domains": 0, "hosting": 0}
    reg = read_register(runtime.engine, owner)
    assert reg.customers["c1"].language == "pt"  # pt-BR: the base language has a catalog
    assert reg.registrars["rw"].documents == ("death certificate", "ID card")
    assert reg.registrars["rw"].reseller_move is True
    (budi, bucher) = sorted(reg.domains, key=lambda d: d.name.ascii)
    assert (bucher.name.ascii, bucher.registrant, bucher.statuses) == (
        "xn--bcher-kva.co.id", Registrant.RESELLER, ("clientTransferProhibited",))
    assert budi.expires == date(2026, 8, 1) and budi.registrant is Registrant.CUSTOMER
    (h1,) = reg.hosting
    assert (str(h1.price), h1.currency, h1.cycle, h1.packaging) == ("9.90", "EUR", Cycle.MONTHLY,
                                                                     Packaging.INDIVIDUAL)
    with runtime.engine.connect() as conn:
        (stored,) = conn.execute(select(register_imports)).all()
    assert stored.id == report.import_id and stored.owner_id == owner
    assert stored.report["created"] == report.created


def test_a_re_import_updates_in_place_by_id(runtime: Runtime, owner: int, tmp_path: Path) -> None:
    run_import(runtime, owner, full(tmp_path / "first"))
    with runtime.engine.connect() as conn:
        ids = {r.cid: r.id for r in conn.execute(select(customers.c.cid, customers.c.id))}
    report = run_import(runtime, owner, write(
        tmp_path / "second",
        customers="id,name,email,language\nc1,Ana Souza Lima,ana@new.example,it\nc3,Carla,,\n",
        domains="domain,customer,registrar,expires\nBÜCHER.co.id,c3,rw,2028-01-31\n"))
    assert report.created == {"registrars": 0, "customers": 1, "domains": 0, "hosting": 0}
    assert report.updated == {"registrars": 0, "customers": 1, "domains": 1, "hosting": 0}
    reg = read_register(runtime.engine, owner)
    assert sorted(reg.customers) == ["c1", "c2", "c3"]  # c2, not in the second import, stays
    assert (reg.customers["c1"].name, reg.customers["c1"].email, reg.customers["c1"].language) == (
        "Ana Souza Lima", "ana@new.example", "it")
    bucher = next(d for d in reg.domains if d.name.unicode == "bücher.co.id")
    assert (bucher.customer, bucher.expires, bucher.statuses, bucher.registrant) == (
        "c3", date(2028, 1, 31), (), Registrant.CUSTOMER)
    assert len(reg.domains) == 2
    with runtime.engine.connect() as conn:
        after = {r.cid: r.id for r in conn.execute(select(customers.c.cid, customers.c.id))}
        imports = conn.execute(select(register_imports.c.id).order_by(register_imports.c.id)).scalars().all()
    assert after["c1"] == ids["c1"] and after["c2"] == ids["c2"]  # the same rows, updated
    assert len(imports) == 2


def test_a_hosting_service_may_name_a_customer_from_the_same_import(runtime: Runtime, owner: int,
                                                                     tmp_path: Path) -> None:
    report = run_import(runtime, owner, write(tmp_path, customers="id,name\nnew,New Customer\n",
                                              hosting="id,customer,provider,paid_until\nh9,new,upcloud,2026-09-01\n"))
    assert report.created["hosting"] == 1
    assert read_register(runtime.engine, owner).hosting_of("new")[0].id == "h9"


def test_an_unknown_registrar_is_added_with_a_note(runtime: Runtime, owner: int, tmp_path: Path) -> None:
    report = run_import(runtime, owner, write(tmp_path, customers=CUSTOMERS,
                                              domains="domain,customer,registrar,expires\n"
                                                      "ana.com.br,c1,registro-br,2027-01-01\n"
                                                      "ana2.com.br,c1,registro-br,2027-01-01\n"))
    assert report.notes == ["registrar 'registro-br' is not in registrars.csv: added with its id as name; add a "
                            "row for it to say how it takes requests"]
    reg = read_register(runtime.engine, owner)
    added = reg.registrars["registro-br"]
    assert (added.name, added.ticket_email, added.reseller_move, added.epp, added.documents) == (
        "registro-br", None, False, False, ())
    # A later registrars.csv fills it in, in place.
    report = run_import(runtime, owner, write(tmp_path / "later", registrars="id,name,ticket_email\n"
                                                                             "registro-br,Registro.br,t@registro.br\n"))
    assert report.updated["registrars"] == 1 and report.notes == []
    assert read_register(runtime.engine, owner).registrars["registro-br"].name == "Registro.br"


def test_an_unsupported_language_is_a_note_not_an_error(runtime: Runtime, owner: int, tmp_path: Path) -> None:
    report = run_import(runtime, owner, write(tmp_path, customers="id,name,language\nc1,Ana,fr\n"))
    assert report.notes == ["customers.csv, row 1: customer c1: language 'fr' is not supported; notices to them "
                            "will be in English"]
    assert read_register(runtime.engine, owner).customers["c1"].language == "en"


def test_notes_beyond_the_reported_maximum_are_counted(runtime: Runtime, owner: int, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A report keeps the first notes and counts the rest: its size does not grow with the file."""
    monkeypatch.setattr(registerstore, "MAX_REPORTED", 3)
    report = run_import(runtime, owner, write(
        tmp_path, customers="id,name,language\n" + "".join(f"c{n},Name,fr\n" for n in range(10))))
    notes = report.to_dict()["notes"]
    assert len(report.notes) == 3 and report.notes_left_out == 7
    assert notes[:3] == report.notes and notes[3] == "… and 7 more notes like these"
    assert len(read_register(runtime.engine, owner).customers) == 10


# -- all or nothing ----------------------------------------------------------------------------------
def test_a_bad_last_row_leaves_the_database_exactly_as_it_was(runtime: Runtime, owner: int,
                                                              tmp_path: Path) -> None:
    run_import(runtime, owner, full(tmp_path / "first"))
    before = snapshot(runtime.engine)
    many = "".join(f"c{n},Customer {n},c{n}@example.org,en\n" for n in range(3, 40))
    error = rejected(runtime, owner, write(
        tmp_path / "second",
        customers="id,name,email,language\nc1,Changed,changed@example.org,it\n" + many + "c99,Bad,not-an-email,en\n",
        domains="domain,customer,registrar,expires\nbudi.id,c1,rw,2030-01-01\n"))
    assert snapshot(runtime.engine) == before
    assert [(e.file, e.row, e.column) for e in error.errors] == [("customers.csv", 39, "email")]
    assert error.total == 1
    assert str(error).startswith("import rejected, nothing was changed: 1 problem in 1 row")


def test_every_bad_row_is_reported_sorted_by_file_and_row(runtime: Runtime, owner: int, tmp_path: Path) -> None:
    error = rejected(runtime, owner, write(
        tmp_path,
        registrars="id,name\nrw,Rumahweb\n",
        hosting="id,customer,provider,paid_until\nh1,c1,upcloud,someday\nh2,nobody,upcloud,2026-01-01\n",
        domains="domain,customer,registrar,expires\nnot a domain,c1,rw,2027-01-01\nok.com,c1,rw,2027-13-01\n",
        customers="id,name,email\nc1,Ana,\nc2,,budi@example.org\nc3,Carla,carla@@example.org\n"))
    assert [(e.file, e.row, e.column) for e in error.errors] == [
        ("customers.csv", 2, "name"), ("customers.csv", 3, "email"),
        ("domains.csv", 1, "domain"), ("domains.csv", 2, "expires"),
        ("hosting.csv", 1, "paid_until"), ("hosting.csv", 2, "customer")]
    assert error.total == 6
    assert error.errors[-1] == RowError("hosting.csv", 2, "customer", "the id of a customer in customers.csv or "
                                        "already in the register", "'nobody', which is neither")
    assert snapshot(runtime.engine)["customers"] == []


def test_one_bad_row_does_not_make_the_rows_that_refer_to_good_ones_look_bad(runtime: Runtime, owner: int,
                                                                            tmp_path: Path) -> None:
    """c1 is fine and in customers.csv: its domain and hosting must not be reported as naming an unknown
    customer because another customer's row (c2) was bad."""
    error = rejected(runtime, owner, write(
        tmp_path, customers="id,name,email\nc1,Ana,ana@example.org\nc2,Budi,not-an-email\n",
        domains="domain,customer,registrar,expires\nana.com.br,c1,rw,2027-01-01\n",
        hosting="id,customer,provider,paid_until\nh1,c1,upcloud,2026-12-31\n"))
    assert [(e.file, e.row, e.column) for e in error.errors] == [("customers.csv", 2, "email")]


def test_an_unknown_customer_is_refused(runtime: Runtime, owner: int, tmp_path: Path) -> None:
    run_import(runtime, owner, write(tmp_path / "first", customers=CUSTOMERS))
    before = snapshot(runtime.engine)
    error = rejected(runtime, owner, write(tmp_path / "second", domains="domain,customer,registrar,expires\n"
                                                                        "ok.com,c2,rw,2027-01-01\n"
                                                                        "ghost.com,ghost,rw,2027-01-01\n"))
    assert error.errors == [RowError("domains.csv", 2, "customer", "the id of a customer in customers.csv or "
                                     "already in the register", "'ghost', which is neither")]
    assert snapshot(runtime.engine) == before  # not even the auto-added registrar stays


def test_duplicates_across_batches_name_the_first_row(runtime: Runtime, owner: int, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registerstore, "BATCH", 3)
    rows = ["c1", "c2", "c3", "c4", "c5", "c2", "c7", "c7", "c1"]  # c2 again on row 6; c7 twice in one batch
    error = rejected(runtime, owner, write(
        tmp_path, customers="id,name\n" + "".join(f"{cid},Name {n}\n" for n, cid in enumerate(rows, 1)),
        domains="domain,customer,registrar,expires\n" + "".join(f"d{n}.com,c3,rw,2027-01-01\n" for n in range(4))
        + "D1.COM,c3,rw,2027-01-01\n"))
    assert [(e.file, e.row, e.got) for e in error.errors] == [
        ("customers.csv", 6, "'c2', already on row 2"),
        ("customers.csv", 8, "'c7', already on row 7"),
        ("customers.csv", 9, "'c1', already on row 1"),
        ("domains.csv", 5, "'d1.com', already on row 2"),
    ]
    assert {e.expected for e in error.errors} == {"a customer id not already in this import",
                                                  "a domain not already in this import"}
    assert snapshot(runtime.engine)["customers"] == []


def test_a_record_from_an_earlier_import_is_not_a_duplicate(runtime: Runtime, owner: int, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registerstore, "BATCH", 2)
    text = "id,name\n" + "".join(f"c{n},Name {n}\n" for n in range(7))
    run_import(runtime, owner, write(tmp_path / "first", customers=text))
    report = run_import(runtime, owner, write(tmp_path / "second", customers=text))
    assert (report.created["customers"], report.updated["customers"]) == (0, 7)


def test_errors_beyond_the_reported_maximum_are_counted(runtime: Runtime, owner: int, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registerstore, "MAX_REPORTED", 3)
    monkeypatch.setattr(registerstore, "BATCH", 4)
    error = rejected(runtime, owner, write(
        tmp_path, customers="id,name,email\n" + "".join(f"c{n},Name,bad{n}\n" for n in range(10))))
    assert error.total == 10 and len(error.errors) == 3
    assert [e.row for e in error.errors] == [1, 2, 3]
    assert "10 problems in 3 rows (the first 3 shown)" in str(error).splitlines()[0]


def test_a_header_problem_is_reported_and_nothing_is_imported(runtime: Runtime, owner: int,
                                                              tmp_path: Path) -> None:
    error = rejected(runtime, owner, write(tmp_path, customers="id,nmae\nc1,Ana\n", registrars=REGISTRARS))
    assert [(e.file, e.row, e.column) for e in error.errors] == [("customers.csv", 0, "name"),
                                                                ("customers.csv", 0, "nmae")]
    assert all(rows == [] for rows in snapshot(runtime.engine).values())


def test_imports_of_two_owners_do_not_meet(runtime: Runtime, owner: int, tmp_path: Path) -> None:
    other = runtime.service.create_owner("other@example.org", "correct horse battery", "UTC").owner.id
    run_import(runtime, owner, full(tmp_path / "a"))
    report = run_import(runtime, other, write(tmp_path / "b", customers="id,name\nc1,Someone Else\n"))
    assert report.created["customers"] == 1  # the same id, another owner: created, not updated
    assert read_register(runtime.engine, owner).customers["c1"].name == "Ana Souza"
    assert sorted(read_register(runtime.engine, other).customers) == ["c1"]
    error = rejected(runtime, other, write(tmp_path / "c", domains="domain,customer,registrar,expires\n"
                                                                   "x.com,c2,rw,2027-01-01\n"))
    assert error.errors[0].got == "'c2', which is neither"  # owner's c2 is not other's


# -- the schema -----------------------------------------------------------------------------------------
def test_the_migrated_schema_matches_the_metadata(db_url: str, clock: FakeClock) -> None:
    """Alembic's autogenerate finds nothing to change between ``baton db upgrade`` and ``baton.store.tables.metadata``
    (types included); the new tables' server defaults agree too."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
            assert diff == []
            strict = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            ours = [d for d in compare_metadata(strict, metadata) if NEW_TABLES & _tables_of(d)]
            assert ours == []
        assert set(metadata.tables) >= NEW_TABLES
    finally:
        engine.dispose()


def _tables_of(diff: Any) -> set[str]:
    """The table names a difference (or a list of them) is about."""
    if isinstance(diff, list):
        return set().union(*(_tables_of(d) for d in diff))
    names = set()
    for part in diff:
        if isinstance(part, str):
            names.add(part)
        elif hasattr(part, "table") and getattr(part.table, "name", None):
            names.add(part.table.name)
        elif hasattr(part, "name") and hasattr(part, "columns"):
            names.add(part.name)
    return names
