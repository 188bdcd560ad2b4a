"""Customer notices: the notify_customers stage for 10,000 customers, against queuing as many pre-rendered e-mails.

    python benchmarks/bench_notices.py [--db sqlite|postgres] [--customers 10000] [--rounds 3] [--profile]

Set up, not timed: a register of ``--customers`` customers (languages spread over
en/id/pt/it, every one with an e-mail address), each with one or two domains (1.5 per
customer) and a hosting service with a price, a currency and a billing cycle, written as
CSV by ``bench_register_import.write_register`` and imported through
``handover.importing.sources`` and ``baton.store.register.import_register``; a handover
profile (``save_profile``). The clock is fixed (``baton.testing.FakeClock``) at 2026-03-02
09:00 UTC, so the dates the notices promise are the same in every run.

Before the rounds, a first pass renders every customer's notice alone, without the
database, as ``issue_notices`` renders it (warm-up; its e-mails are the ones queued below);
the first notice in each language is timed apart (compiling templates and catalogs).

Timed, side by side in each round (the order rotates; figures are medians of the rounds):

- the notices: what the ``notify_customers`` stage action does, in one transaction:
  ``release_row``, then ``baton.services.notices.issue_notices`` (reads the register and profile,
  builds each customer's context, renders its e-mail in the customer's language with
  Jinja2 and Babel, and writes the notice, link and outbox rows in batches of 500), then the
  signed audit entry and the commit. The time of each SQL statement (cursor execute) and of
  the commit is measured inside it;
- the reference: the same number of already rendered e-mails (the same subjects and
  bodies) queued one by one with ``baton.jobs.outbox.enqueue``, in one transaction: the cost of
  just queuing them;
- the breakdown: ``load_register`` alone, then every notice rendered alone, without the
  database (``notice_context``, ``i18n.render_blocks`` of ``notices/notice.j2``,
  ``i18n.render`` of ``notices/email.html``), each part timed.

Target: at least 1,000 notices per second. ``--profile`` adds a cProfile of one more run.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common
from bench_register_import import NOW, write_register
from sqlalchemy import event, func, select

from baton.jobs.outbox import Channel, enqueue
from baton.services.notices import issue_notices, release_row
from baton.store import auditlog, links
from baton.store.engine import reading
from baton.store.links import Purpose
from baton.store.register import import_register, load_register, read_profile, save_profile
from baton.store.tables import notices, outbox
from baton.testing import FakeClock
from handover import i18n
from handover.importing import sources
from handover.model import HandoverProfile, Successor
from handover.notices import notice_context
from switch import new_token

TARGET = 1000.0  # notices per second
PROFILE = HandoverProfile(
    business="Nusantara Hosting", owner_name="Budi Santoso",
    successor=Successor("Sari Santoso", "sari@nusantara.example", "heir", "+62 812 0000 0000"),
    support_can=("answer questions about this notice", "move domains and hosting"),
    support_cannot=("build or fix websites",))


@dataclass
class Rendered:
    recipient: str
    subject: str
    text: str
    html: str


def render_alone(runtime: Any, owner_id: int) -> tuple[dict[str, float], list[Rendered]]:
    """Every concerned customer's notice rendered as ``issue_notices`` renders it, without writing anything."""
    settings = runtime.settings
    rules = settings.transfer_rules()
    began = time.perf_counter()
    with reading(runtime.engine) as conn:
        register = load_register(conn, owner_id)
        profile = read_profile(conn, owner_id)
    assert profile is not None
    times = {"load_register": time.perf_counter() - began, "first": 0.0, "context": 0.0, "blocks": 0.0,
             "html": 0.0}
    concerned = [c for c in register.customers.values() if register.domains_of(c.id) or register.hosting_of(c.id)]
    seen: set[str] = set()
    first = []
    for customer in concerned:  # the first notice in each language compiles its templates and catalog
        if i18n.supported(customer.language) not in seen:
            seen.add(i18n.supported(customer.language))
            first.append(customer)
    began = time.perf_counter()
    for customer in first:
        context = notice_context(customer, register, profile, NOW.date(), rules, link="x", drill=False)
        mail = i18n.render_blocks("notices/notice.j2", i18n.supported(customer.language), **context)
        i18n.render("notices/email.html", i18n.supported(customer.language), subject=mail["subject"], body=mail["html"])
    times["first"] = time.perf_counter() - began
    rendered = []
    clock = time.perf_counter
    for customer in concerned:
        language = i18n.supported(customer.language)
        t0 = clock()
        context = notice_context(customer, register, profile, NOW.date(), rules,
                                 link=links.url(settings.base_url, Purpose.NOTICE, new_token()[0]), drill=False)
        t1 = clock()
        mail = i18n.render_blocks("notices/notice.j2", language, **context)
        t2 = clock()
        html = i18n.render("notices/email.html", language, subject=mail["subject"], body=mail["html"])
        t3 = clock()
        times["context"] += t1 - t0
        times["blocks"] += t2 - t1
        times["html"] += t3 - t2
        if customer.email:
            rendered.append(Rendered(customer.email, mail["subject"], mail["text"] + "\n", html))
    return times, rendered


def notify(runtime: Any, owner_id: int, owner_email: str, cycle: int, sql: dict[str, list[float]] | None = None
           ) -> tuple[float, float, int, Any]:
    """The stage action's work, in one transaction; (seconds, of which the commit, release id, what
    issue_notices did). With ``sql``, each statement's time is summed there by statement."""
    listeners = _listen(runtime.engine, sql) if sql is not None else []
    began = time.perf_counter()
    with runtime.engine.connect() as conn:
        transaction = conn.begin()
        release_id = release_row(conn, owner_id, drill=False, stage="notify customers", cycle=cycle,
                                 reason="bench", now=NOW)
        done = issue_notices(conn, runtime.settings, owner_id, owner_email, release_id, drill=False, cycle=cycle,
                             now=NOW)
        auditlog.append(conn, runtime.service.signer, owner_id, NOW, "handover.notified",
                        {"release": release_id, "stage": "notify customers", "notices": done.notices,
                         "emailed": done.emailed, "without_email": len(done.without_email)})
        committing = time.perf_counter()
        transaction.commit()
        ended = time.perf_counter()
    for name, listener in listeners:
        event.remove(runtime.engine, name, listener)
    return ended - began, ended - committing, release_id, done


def _listen(engine: Any, sql: dict[str, list[float]]) -> list[tuple[str, Any]]:
    def before(conn: Any, _cursor: Any, _statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
        conn.info["bench_began"] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
        entry = sql.setdefault(" ".join(statement.split())[:60], [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_began")

    listeners = [("before_cursor_execute", before), ("after_cursor_execute", after)]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    return listeners


def queue_only(runtime: Any, owner_id: int, messages: list[Rendered], round_: int) -> float:
    began = time.perf_counter()
    with runtime.engine.begin() as conn:
        for i, m in enumerate(messages):
            enqueue(conn, owner_id=owner_id, key=f"bench/{round_}/{i}", channel=Channel.EMAIL, recipient=m.recipient,
                    purpose="notice", subject=m.subject, body_text=m.text, body_html=m.html, now=NOW)
    return time.perf_counter() - began


def main() -> int:
    parser = _common.arguments((__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000, help="customers (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each side (default %(default)s)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more run of the notices")
    args = parser.parse_args()
    if args.customers < 1 or args.rounds < 1:
        parser.error("expected at least one customer and one round")
    with _common.scratch_runtime(args.db, clock=FakeClock(NOW)) as (runtime, folder):
        return run(args, runtime, folder)


def run(args: Any, runtime: Any, folder: Path) -> int:
    engine = runtime.engine
    _common.header("customer notices: render and queue, against queuing pre-rendered e-mails", engine)
    n = args.customers
    began = time.perf_counter()
    write_register(folder, customers=n, domains=n * 3 // 2, hosting=n, no_email_every=0)
    made = runtime.service.create_owner("owner@bench.example", "correct horse battery staple", "Asia/Jakarta")
    owner_id, owner_email = made.owner.id, "owner@bench.example"
    report = import_register(engine, owner_id, sources([folder]), NOW)
    save_profile(engine, owner_id, PROFILE, NOW)
    if engine.dialect.name == "postgresql":
        _common.analyze(engine)
    print(f"   set up in {time.perf_counter() - began:.1f} s (not timed): {report.created['customers']:,} customers, "
          f"{report.created['domains']:,} domains, {report.created['hosting']:,} hosting services, "
          f"{report.created['registrars']} registrars; notice date {NOW:%Y-%m-%d} (fixed clock)")

    times, messages = render_alone(runtime, owner_id)
    print(f"   first pass, rendered alone (warm-up; its e-mails are the ones queued pre-rendered): {len(messages):,} "
          f"e-mails in {times['context'] + times['blocks'] + times['html']:.2f} s; the first in each language "
          f"(compiling templates and catalogs) {times['first']:.2f} s before")

    notices_s: list[float] = []
    commits: list[float] = []
    queue_s: list[float] = []
    renders: list[dict[str, float]] = []
    sql: list[dict[str, list[float]]] = []
    counts: list[tuple[int, int, int, int]] = []
    sides = ("notices", "queue", "render")
    for round_ in range(args.rounds):
        order = sides[round_ % 3:] + sides[:round_ % 3]
        for side in order:
            if side == "queue":
                queue_s.append(queue_only(runtime, owner_id, messages, round_))
                continue
            if side == "render":
                renders.append(render_alone(runtime, owner_id)[0])
                continue
            sql.append({})
            seconds, commit, release_id, done = notify(runtime, owner_id, owner_email, round_ + 1, sql[-1])
            notices_s.append(seconds)
            commits.append(commit)
            with engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(notices)
                                      .where(notices.c.release_id == release_id)).scalar_one()
                queued = conn.execute(select(func.count()).select_from(outbox).where(
                    outbox.c.dedup_key.like(f"c{round_ + 1}/notice/{release_id}/%"))).scalar_one()
            counts.append((done.notices, done.emailed, stored, queued))
        rendered = renders[-1]["context"] + renders[-1]["blocks"] + renders[-1]["html"]
        print(f"   round {round_ + 1} ({', '.join(order)}; s): notices {notices_s[-1]:.2f}  queue only "
              f"{queue_s[-1]:.2f}  rendering alone {rendered:.2f}")
    for noticed, emailed, stored, queued in counts:
        if not noticed == stored == n or not emailed == queued == len(messages):
            print(f"FAIL: expected {n:,} notices and {len(messages):,} e-mails, got {noticed:,} notices "
                  f"({stored:,} stored) and {emailed:,} e-mails ({queued:,} queued)")
            return 1

    pipeline, queue = statistics.median(notices_s), statistics.median(queue_s)
    median = {key: statistics.median(r[key] for r in renders) for key in ("load_register", "context", "blocks",
                                                                          "html")}
    rendering = median["context"] + median["blocks"] + median["html"]
    in_sql = statistics.median(sum(e[1] for e in run.values()) for run in sql)
    commit = statistics.median(commits)
    kinds: dict[str, tuple[list[float], list[float]]] = {}  # statement → (seconds, calls) of each run
    for run_sql in sql:
        for text, (calls, seconds) in run_sql.items():
            kinds.setdefault(text, ([], []))[0].append(seconds)
            kinds[text][1].append(calls)
    rate = n / pipeline
    print(f"\n-- median of {args.rounds} rounds: {n:,} customers, {len(messages):,} e-mails")
    rows = [
        ("notices (notify_customers)", pipeline, f"{rate:,.0f} notices/s"),
        ("queue only (enqueue x N)", queue, f"{len(messages) / queue:,.0f} messages/s"),
        ("inside the notices' run:", None, ""),
        ("  SQL statements", in_sql, f"{in_sql / pipeline:.0%}: time inside cursor.execute, all statements"),
        ("  commit", commit, f"{commit / pipeline:.0%}"),
        ("  Python", pipeline - in_sql - commit, f"{(pipeline - in_sql - commit) / pipeline:.0%}: contexts, "
                                                 "rendering, rows"),
        ("rendering, measured alone:", None, ""),
        ("  load_register", median["load_register"], "the whole register, once per run"),
        ("  notice_context", median["context"], f"{median['context'] / n * 1e6:,.0f} us per customer"),
        ("  render_blocks notice.j2", median["blocks"], f"{median['blocks'] / n * 1e6:,.0f} us per customer"),
        ("  render email.html", median["html"], f"{median['html'] / n * 1e6:,.0f} us per customer"),
        ("  in all (no load_register)", rendering, f"{rendering / pipeline:.0%} of the notices' time; "
                                                   f"{n / rendering:,.0f} per second if nothing else ran"),
    ]
    for label, seconds, note in rows:
        print(f"   {label:<30} {'' if seconds is None else f'{seconds:8.2f}':>8}  {note}")
    print("   the biggest statements in the notices' run (median s, calls):")
    for text, (seconds_, calls_) in sorted(kinds.items(), key=lambda kv: -statistics.median(kv[1][0]))[:5]:
        print(f"     {statistics.median(seconds_):6.2f} s {statistics.median(calls_):6,.0f}x  {text}")
    print(f"   notices / queue only = {pipeline / queue:.2f} (time); the queuing alone is "
          f"{queue / pipeline:.0%} of the notices' time")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        notify(runtime, owner_id, owner_email, args.rounds + 1)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(
            r"notices\.py|i18n\.py|babel/dates\.py.*format_date|babel/core\.py.*\(parse\)|jinja2/runtime\.py.*\(call\)|"
            r"environment\.py.*make_module|registerstore\.py.*load_register|engine/base\.py.*\(execute\)|commit", 25)
        print("\n-- one more run of the notices under cProfile")
        print("\n".join("   " + line for line in out.getvalue().splitlines() if line.strip()
                        and not line.lstrip().startswith(("Ordered by", "List reduced"))))

    verdict = "PASS" if rate >= TARGET else "FAIL"
    print(f"{verdict}: {n:,} notices rendered and queued in {pipeline:.2f} s, {rate:,.0f} per second "
          f"(target at least {TARGET:,.0f}); {pipeline / queue:.2f}x the time of queuing them pre-rendered")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
