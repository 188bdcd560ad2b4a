"""Wake cost with many idle armed switches: the due-query uses ix_switches_due and does not grow.

    python benchmarks/bench_wake_cost.py [--db sqlite|postgres] [--sizes 100000,1000000] [--runs 50]

One database per size, each seeded with that many idle armed switches (first reminders
one to 22 days ahead, so nothing is due). The plans of the worker's queries are printed
as the service sends them; then the sizes are timed side by side, one call on each in
turn, so a load that comes and goes on the machine falls on every size alike. Timed, as
the median of ``--runs`` calls: the due-query (``service.due_switches(now, 200)``), the
next-due query (``service.next_due()``), one full ``Worker.run_once()`` (due switches and
due messages, none of either) and ``Worker.next_wake()`` (what a wake asks before it
sleeps). The last lines give time(largest) / time(smallest), which should stay near 1.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import _common
from sqlalchemy import Engine, event

from baton.jobs.outbox import Channel
from baton.runtime import Runtime, build
from baton.testing import RecordingSender

POLICY = {"interval": "30d", "reminders": ["7d", "1d"], "grace": "7d", "timezone": "UTC",
          "stages": [{"name": "notify", "after": "0s", "audience": ["owner"]}]}


def captured_select(engine: Engine, call: Callable[[], object]) -> tuple[str, Any]:
    """The first SELECT ``call`` sends to the driver, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return seen[0]


def plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The plan of a statement as the service sends it: EXPLAIN ANALYZE, or EXPLAIN QUERY PLAN."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + statement, parameters).all()
            return [r[0] for r in rows]
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return [str(r[-1]) for r in rows]


def show_plans(runtime: Runtime) -> None:
    service = runtime.service
    for name, call in (("due-query", lambda: service.due_switches(datetime.now(UTC), 200)),
                       ("next-due query", service.next_due)):
        statement, parameters = captured_select(runtime.engine, call)
        print(f"   {name}: {' '.join(statement.split())}")
        for line in plan(runtime.engine, statement, parameters):
            print(f"      {line}")


def probes(runtime: Runtime) -> dict[str, Callable[[], object]]:
    service = runtime.service
    sink = RecordingSender()
    worker = runtime.worker({Channel.EMAIL: sink, Channel.APPRISE: sink})
    assert service.due_switches(datetime.now(UTC), 200) == [], "an idle switch is due; the seed is wrong"
    return {
        "due_switches(now, 200)": lambda: service.due_switches(datetime.now(UTC), 200),
        "next_due()": service.next_due,
        "Worker.run_once()": worker.run_once,
        "Worker.next_wake()": worker.next_wake,
    }


def timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def main() -> int:
    parser = _common.arguments((__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        help="idle switch counts, ascending, comma-separated (default %(default)s)")
    parser.add_argument("--runs", type=int, default=50, help="calls per median (default %(default)s)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes != sorted(sizes) or len(set(sizes)) != len(sizes):
        parser.error(f"--sizes: expected distinct ascending counts, got {args.sizes}")
    rng = random.Random(7)
    with ExitStack() as stack:
        runtimes: dict[int, Runtime] = {}
        for size in sizes:
            url = stack.enter_context(_common.fresh_database(args.db))
            runtime = runtimes[size] = build(_common.settings(url))
            stack.callback(runtime.engine.dispose)
            if size == sizes[0]:
                _common.header("wake cost with idle armed switches", runtime.engine)
            began = time.perf_counter()
            now = datetime.now(UTC)
            armed = [now - timedelta(days=22) + timedelta(seconds=rng.uniform(0, 22 * 86400)) for _ in range(size)]
            _common.seed(runtime.engine, POLICY, armed)
            if args.db == "postgres":
                _common.analyze(runtime.engine)
            print(f"\n-- {size:,} idle armed switches (seeded in {time.perf_counter() - began:.1f} s)")
            show_plans(runtime)

        calls = {size: probes(runtime) for size, runtime in runtimes.items()}
        names = list(calls[sizes[0]])
        for size in sizes:  # warm statement caches and pages
            for call in calls[size].values():
                for _ in range(3):
                    call()
        samples: dict[tuple[int, str], list[float]] = {(s, n): [] for s in sizes for n in names}
        for _ in range(args.runs):
            for name in names:
                for size in sizes:
                    samples[size, name].append(timed(calls[size][name]))

    print(f"\n-- median of {args.runs} calls, the sizes taken in turn (ms)")
    print(f"   {'':<24}" + "".join(f"{size:>14,}" for size in sizes) + "   ratio")
    worst = 0.0
    for name in names:
        medians = [statistics.median(samples[size, name]) for size in sizes]
        ratio = medians[-1] / medians[0]
        worst = max(worst, ratio)
        print(f"   {name:<24}" + "".join(f"{m:14.3f}" for m in medians) + f"   {ratio:.2f}")
    # A wake whose cost grew with the idle count would grow with it (10x here); noise stays near 1.
    verdict = "PASS" if worst < 2 else "FAIL"
    print(f"{verdict}: time({sizes[-1]:,}) / time({sizes[0]:,}) is at most {worst:.2f} "
          f"for {sizes[-1] / sizes[0]:.0f}x the idle switches (target ~1; fail at 2)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
