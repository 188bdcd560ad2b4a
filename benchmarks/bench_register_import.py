"""Importing the register from CSV: 100,000 domains in time and memory, against 10,000 in the same run.

    python benchmarks/bench_register_import.py [--db sqlite|postgres] [--sizes 10000,100000]
                                               [--customers-per-domain 0.2] [--no-trace] [--profile]

For each size, CSV files are written to a temporary folder (not timed): ``registrars.csv``
(6 registrars), ``customers.csv`` (``--customers-per-domain`` × the domains: 20,000 for
100,000) and ``domains.csv``, with languages spread over en/id/pt/it, about 3 % IDN names,
EPP statuses, creation and transfer dates, reseller-held names. Each size is then imported
in its own child process, on a fresh database, so that one size's memory cannot hide the
other's. There, the real path runs: ``handover.importing.sources([folder])`` into
``baton.store.register.import_register`` (one transaction, batches of 1,000 rows, all or
nothing). The child first imports a 200-domain register for another owner (modules, idna
tables, statement caches warm up), then, for the measured owner:

1. the import (every row created), timed;
2. the re-import of the same files (every row updated), timed;
3. the files read and checked alone (``sources()``, no database), timed;
4. unless ``--no-trace``: the same files for a third owner (every row created again) under
   ``tracemalloc``, for the peak of Python's allocations (tracemalloc slows the run 3-7x, so
   this run is not timed).

The peak resident memory of runs 1 and 2 is read from the kernel: the high-water mark is
reset (``/proc/self/clear_refs``) before each run, and the figure is ``ru_maxrss`` at its end
less the resident size at its start. The time of each SQL statement (cursor execute) in
runs 1 and 2 is summed by statement, and the biggest are shown. The sizes are compared side
by side: peak memory must not grow with the file (tracemalloc peak at 100k / at 10k under
1.5 for 10x the rows), and time should grow linearly (a ratio near 10). Targets: the
100,000-domain import within 30 s; memory flat. ``--profile`` adds a cProfile of one more
import of the largest size (a fourth owner, every row created).
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import os
import pstats
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import _common
from sqlalchemy import func, insert, select

from baton.store.engine import insert_id
from baton.store.tables import customers, domains, owners

TARGET_SECONDS = 30.0
TARGET_MEMORY_RATIO = 1.5
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a fixed clock: the notice date and every generated date hang on it
MiB = 1 << 20

# -- a register, as a business would export it -------------------------------------------------------
LANGUAGES = ("en", "id", "pt", "it")
COUNTRY = {"en": "AU", "id": "ID", "pt": "BR", "it": "IT"}
PRICE = {"en": ("USD", "12.00"), "id": ("IDR", "150000"), "pt": ("BRL", "29.90"), "it": ("EUR", "9.90")}
FIRST = {"en": ("Alice", "Bob", "Chloe", "Daniel"), "id": ("Budi", "Dewi", "Sari", "Agus"),
         "pt": ("João", "Ana", "Luís", "Beatriz"), "it": ("Niccolò", "Giulia", "Marco", "Chiara")}
LAST = {"en": ("Smith", "Brown", "Wilson"), "id": ("Santoso", "Lestari", "Wijaya"),
        "pt": ("Silva", "Conceição", "Araújo"), "it": ("Rossi", "Bianchi", "Esposito")}
STEMS = {"en": ("shop", "studio", "garden"), "id": ("toko", "warung", "batik"), "pt": ("loja", "padaria", "praia"),
         "it": ("negozio", "pizzeria", "vino")}
IDN = {"en": "café", "id": "kopi-enak", "pt": "açaí", "it": "città"}
TLDS = {"en": ("com", "net", "org", "com.au"), "id": ("co.id", "id", "web.id", "com"),
        "pt": ("com.br", "net.br", "com"), "it": ("it", "com")}
REGISTRARS = (  # id, name, ticket e-mail, reseller move, EPP, documents, website, the TLDs it holds
    ("rdash", "RDASH", "support@rdash.example", "yes", "no", "death certificate;ID card", "https://rdash.example",
     ("com", "net", "org")),
    ("pandi", "PANDI reseller", "helpdesk@pandi.example", "no", "yes", "akta kematian;KTP", "https://pandi.example",
     ("co.id", "id", "web.id")),
    ("registrobr", "Registro.br partner", "suporte@registro.example", "no", "no", "certidão de óbito",
     "https://registro.example", ("com.br", "net.br")),
    ("aruba", "Aruba", "assistenza@aruba.example", "yes", "no", "certificato di morte;documento d'identità",
     "https://aruba.example", ("it",)),
    ("auda", "AU reseller", "help@auda.example", "no", "no", "", "https://auda.example", ("com.au",)),
    ("spare", "Spare Registrar", "", "no", "no", "", "", ()),
)
REGISTRAR_OF = {tld: rid for rid, *_rest, tlds in REGISTRARS for tld in tlds}
CYCLES = ("monthly", "quarterly", "annually", "biennially")


def write_register(folder: Path, *, customers: int, domains: int, hosting: int = 0, seed: int = 1,
                   no_email_every: int = 50) -> dict[str, int]:
    """CSV files for a register in ``folder``; domain ``j`` (and service ``j``) belongs to customer ``j % customers``.

    With ``domains`` between ``customers`` and twice that, each customer has one or two domains.
    Every ``no_email_every``-th customer has no e-mail address (0: all have one). Returns the
    size of each file in bytes.
    """
    rng = random.Random(seed)
    today = NOW.date()
    folder.mkdir(parents=True, exist_ok=True)
    languages = [rng.choice(LANGUAGES) for _ in range(customers)]
    with open(folder / "registrars.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "name", "ticket_email", "reseller_move", "epp", "reseller_account", "documents",
                      "website"])
        for rid, name, ticket, move, epp, documents, website, _tlds in REGISTRARS:
            out.writerow([rid, name, ticket, move, epp, f"reseller-{rid}", documents, website])
    with open(folder / "customers.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "name", "email", "language", "country", "company"])
        for c, language in enumerate(languages):
            name = f"{rng.choice(FIRST[language])} {rng.choice(LAST[language])} {c}"
            email = "" if no_email_every and c % no_email_every == 0 else f"customer{c}@mail{c % 97}.example"
            out.writerow([f"C{c:06d}", name, email, language, COUNTRY[language],
                          f"{name.split()[1]} & Co" if c % 7 == 0 else ""])
    first_domain: dict[int, str] = {}
    with open(folder / "domains.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["domain", "customer", "registrar", "expires", "registrar_account", "created", "last_transfer",
                      "last_owner_change", "owner_change_opt_out", "statuses", "auto_renew", "registrant"])
        for j in range(domains):
            c = j % customers
            language = languages[c]
            tld = rng.choice(TLDS[language])
            stem = IDN[language] if rng.random() < 0.03 else rng.choice(STEMS[language])
            name = f"{stem}{j}.{tld}"
            first_domain.setdefault(c, name)
            expires = today + timedelta(days=rng.randint(-40, 700))
            created = min(today - timedelta(days=rng.randint(30, 3000)), expires - timedelta(days=365))
            transfer = today - timedelta(days=rng.randint(1, 200)) if rng.random() < 0.1 else None
            owner_change = today - timedelta(days=rng.randint(1, 400)) if rng.random() < 0.05 else None
            roll = rng.random()
            statuses = ("clientTransferProhibited" if roll < 0.6 else
                        "clientTransferProhibited clientUpdateProhibited" if roll < 0.7 else "")
            out.writerow([name, f"C{c:06d}", REGISTRAR_OF[tld], expires.isoformat(), f"acct-{c % 50}",
                          created.isoformat(), _day(transfer, expires), _day(owner_change, expires),
                          "yes" if owner_change and rng.random() < 0.5 else "no", statuses,
                          "yes" if rng.random() < 0.7 else "no", "reseller" if rng.random() < 0.15 else "customer"])
    if hosting:
        with open(folder / "hosting.csv", "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(["id", "customer", "provider", "paid_until", "panel", "plan", "server", "price", "currency",
                          "cycle", "packaging", "account", "domain"])
            for h in range(hosting):
                c = h % customers
                currency, price = PRICE[languages[c]]
                out.writerow([f"H{h:06d}", f"C{c:06d}", f"Upstream {languages[c].upper()}",
                              (today + timedelta(days=rng.randint(-20, 400))).isoformat(),
                              rng.choice(("cPanel", "Plesk", "DirectAdmin")), rng.choice(("Basic", "Business", "Pro")),
                              f"s{h % 40}.upstream.example", price, currency, rng.choice(CYCLES),
                              "individual" if rng.random() < 0.75 else "pooled", f"u{h}", first_domain.get(c, "")])
    return {p.name: p.stat().st_size for p in sorted(folder.glob("*.csv"))}


def _day(value: date | None, expires: date) -> str:
    return value.isoformat() if value is not None and value <= expires else ""


# -- the child: one size, one fresh database ------------------------------------------------------
def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (0 where there is none)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> bool:
    """Reset the kernel's resident high-water mark (ru_maxrss, VmHWM) to the current size; False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def _owner(engine: Any, email: str) -> int:
    with engine.begin() as conn:  # directly: no argon2 hash, whose buffer would raise the memory high-water mark
        return insert_id(conn, insert(owners).values(email=email, password_hash="-", timezone="UTC", created_at=NOW))


def child(url: str, folder: Path, warm: Path, trace: bool, profile: bool) -> dict[str, Any]:
    from sqlalchemy import event

    from baton.runtime import build
    from baton.store.register import import_register
    from baton.testing import FakeClock
    from handover.importing import sources

    runtime = build(_common.settings(url), clock=FakeClock(NOW))
    engine = runtime.engine

    statements: dict[str, list[float]] = {}  # the statement's start → [calls, seconds], while ``listening``
    listening = [False]

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, _statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
        conn.info["bench_began"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
        if listening[0]:
            entry = statements.setdefault(" ".join(statement.split())[:72], [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - conn.info.pop("bench_began")

    measured, traced, profiled, warmed = (_owner(engine, f"{who}@bench.example")
                                          for who in ("measured", "traced", "profiled", "warm"))
    import_register(engine, warmed, sources([warm]), NOW)
    result: dict[str, Any] = {"resettable": _reset_peak()}

    def timed(label: str, owner_id: int) -> None:
        gc.collect()
        statements.clear()
        resettable = _reset_peak()
        rss_before = _status("VmRSS")
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        listening[0] = True
        began = time.perf_counter()
        report = import_register(engine, owner_id, sources([folder]), NOW)
        seconds = time.perf_counter() - began
        listening[0] = False
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result[label] = {"seconds": seconds, "created": report.created, "updated": report.updated,
                         "peak_rss_growth": max(0, maxrss - (rss_before if resettable else maxrss_before)),
                         "statements": sorted(([k, *v] for k, v in statements.items()), key=lambda e: -e[2])}

    timed("import", measured)
    timed("reimport", measured)
    began = time.perf_counter()
    parsed = sum(1 for rows in sources([folder]).values() for _ in rows)
    result["parse"] = {"seconds": time.perf_counter() - began, "rows": parsed}
    if trace:
        gc.collect()
        tracemalloc.start()
        began = time.perf_counter()
        report = import_register(engine, traced, sources([folder]), NOW)
        seconds = time.perf_counter() - began
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["traced"] = {"seconds": seconds, "peak": peak, "created": report.created}
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.enable()
        import_register(engine, profiled, sources([folder]), NOW)
        profiler.disable()
        out = io.StringIO()
        print(f"{time.perf_counter() - began:.1f} s under the profiler", file=out)
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(18)
        stats.sort_stats("cumulative").print_stats(r"registerstore|importing|rows\.py|names\.py|idna/core|"
                                                    r"sqlalchemy/engine/base\.py.*\(execute\)", 25)
        result["profile"] = out.getvalue()
    with engine.connect() as conn:
        result["rows"] = {"domains": conn.execute(select(func.count()).select_from(domains)
                                                  .where(domains.c.owner_id == measured)).scalar_one(),
                          "customers": conn.execute(select(func.count()).select_from(customers)
                                                    .where(customers.c.owner_id == measured)).scalar_one()}
    result["database"] = _common.database_version(engine)
    engine.dispose()
    return result


def run_size(args: argparse.Namespace, size: int, root: Path, warm: Path) -> dict[str, Any]:
    folder = root / f"register-{size}"
    began = time.perf_counter()
    files = write_register(folder, customers=max(1, round(size * args.customers_per_domain)), domains=size)
    written = time.perf_counter() - began
    with _common.fresh_database(args.db) as url:
        command = [sys.executable, os.path.abspath(__file__), "--child", url, str(folder), str(warm)]
        command += ["--no-trace"] if args.no_trace else []
        command += ["--profile"] if args.profile and size == max(args.sizes) else []
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the child for {size:,} domains exited with code {done.returncode}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["files"], result["written"] = files, written
    shutil.rmtree(folder, ignore_errors=True)
    return result


def main() -> int:
    parser = _common.arguments((__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="domains per run, the small one first, comma-separated (default %(default)s)")
    parser.add_argument("--customers-per-domain", type=float, default=0.2,
                        help="customers in customers.csv per domain (default %(default)s)")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run (the slowest part)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more import of the largest size")
    parser.add_argument("--child", nargs=3, metavar=("URL", "FOLDER", "WARM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, folder, warm = args.child
        print(json.dumps(child(url, Path(folder), Path(warm), not args.no_trace, args.profile)))
        return 0
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    if len(args.sizes) != 2:
        parser.error("--sizes takes two sizes: the small one and the large one")

    print("== importing the register from CSV (handover.importing.sources + registerstore.import_register)")
    print(f"   {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {_common.machine()}; database: {args.db}")
    root = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    try:
        warm = root / "warm"
        write_register(warm, customers=40, domains=200, seed=2)
        results = {size: run_size(args, size, root, warm) for size in args.sizes}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return report(args, results)


def report(args: argparse.Namespace, results: dict[int, dict[str, Any]]) -> int:
    small, large = args.sizes
    a, b = results[small], results[large]
    print(f"   {a['database']}; each size in its own process and database; rows per batch 1,000")
    if not a["resettable"]:
        print("   (/proc/self/clear_refs not writable: peak RSS of the re-import is not reset after the import)")
    for size, r in results.items():
        files = ", ".join(f"{name} {bytes_ / MiB:.1f} MiB" for name, bytes_ in r["files"].items())
        print(f"   {size:,} domains: {files} (written in {r['written']:.1f} s, not timed)")
        for label in ("import", "reimport"):
            done = r[label]["created" if label == "import" else "updated"]
            if done["domains"] != size or r["rows"]["domains"] != size:
                print(f"FAIL: the {label} of {size:,} domains wrote {done['domains']:,} ({r['rows']['domains']:,} "
                      "in the table)")
                return 1
    print()
    rows = [("import, every row created (s)", a["import"]["seconds"], b["import"]["seconds"], "{:.2f}"),
            ("  domains per second", small / a["import"]["seconds"], large / b["import"]["seconds"], "{:,.0f}"),
            ("re-import, every row updated (s)", a["reimport"]["seconds"], b["reimport"]["seconds"], "{:.2f}"),
            ("  domains per second", small / a["reimport"]["seconds"], large / b["reimport"]["seconds"], "{:,.0f}"),
            ("peak RSS above start, import (MiB)", a["import"]["peak_rss_growth"] / MiB,
             b["import"]["peak_rss_growth"] / MiB, "{:.1f}"),
            ("peak RSS above start, re-import (MiB)", a["reimport"]["peak_rss_growth"] / MiB,
             b["reimport"]["peak_rss_growth"] / MiB, "{:.1f}")]
    if "traced" in a:
        rows += [("tracemalloc peak, import (MiB)", a["traced"]["peak"] / MiB, b["traced"]["peak"] / MiB, "{:.2f}"),
                 ("  time under tracemalloc (s)", a["traced"]["seconds"], b["traced"]["seconds"], "{:.1f}")]
    print(f"   {'':<40} {small:>12,} {large:>12,} {'ratio':>8}")
    for label, x, y, shape in rows:
        ratio = f"{y / x:8.2f}" if x > 0 else f"{'-':>8}"
        print(f"   {label:<40} {shape.format(x):>12} {shape.format(y):>12} {ratio}")
    scale = large / small
    time_ratio = b["import"]["seconds"] / a["import"]["seconds"]
    print(f"   {large:,} / {small:,} = {scale:.0f}x the rows: the import took {time_ratio:.1f}x the time "
          f"({time_ratio / scale:.2f} of linear), the re-import "
          f"{b['reimport']['seconds'] / a['reimport']['seconds']:.1f}x")
    parse = b["parse"]["seconds"]
    print(f"\n-- where the {large:,}-domain import's time went")
    print(f"   reading and checking the CSV alone (sources(), no database): {parse:.2f} s for "
          f"{b['parse']['rows']:,} rows")
    for label in ("import", "reimport"):
        spent = b[label]["statements"]
        in_sql = sum(e[2] for e in spent)
        print(f"   {label}: {b[label]['seconds']:.2f} s, of which {in_sql:.2f} s in {sum(e[1] for e in spent):,} "
              f"statements (cursor execute); the biggest:")
        for text, calls, seconds in spent[:4]:
            print(f"     {seconds:7.2f} s  {calls:5,}x  {text}")
    if "profile" in b:
        print(f"\n-- cProfile of one more import of {large:,} domains, for another owner (every row created)")
        print("\n".join("   " + line for line in b["profile"].splitlines() if line.strip()
                        and not line.lstrip().startswith(("Ordered by", "List reduced"))))

    seconds = b["import"]["seconds"]
    verdicts = [("PASS" if seconds <= TARGET_SECONDS else "FAIL",
                 f"importing {large:,} domains took {seconds:.1f} s (re-import {b['reimport']['seconds']:.1f} s); "
                 f"target under {TARGET_SECONDS:.0f} s")]
    if "traced" in a:
        memory = b["traced"]["peak"] / a["traced"]["peak"]
        verdicts.append(("PASS" if memory < TARGET_MEMORY_RATIO else "FAIL",
                         f"peak memory (tracemalloc) {b['traced']['peak'] / MiB:.2f} MiB for {large:,} domains, "
                         f"{a['traced']['peak'] / MiB:.2f} MiB for {small:,}: {memory:.2f}x for {scale:.0f}x the rows "
                         f"(target under {TARGET_MEMORY_RATIO}x)"))
    else:
        floor = 16 * MiB  # below this, RSS growth is allocator noise
        grown = max(b["import"]["peak_rss_growth"], floor) / max(a["import"]["peak_rss_growth"], floor)
        verdicts.append(("PASS" if grown < TARGET_MEMORY_RATIO else "FAIL",
                         f"peak RSS growth {b['import']['peak_rss_growth'] / MiB:.1f} MiB for {large:,} domains, "
                         f"{a['import']['peak_rss_growth'] / MiB:.1f} MiB for {small:,}: {grown:.2f}x, each counted as "
                         f"at least 16 MiB (target under {TARGET_MEMORY_RATIO}x; run without --no-trace for "
                         "tracemalloc)"))
    for verdict, text in verdicts:
        print(f"{verdict}: {text}")
    return 0 if all(v == "PASS" for v, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
