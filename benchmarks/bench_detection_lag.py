"""Detection lag: from each deadline to its recorded transition, with a real worker on the real clock.

    python benchmarks/bench_detection_lag.py [--db sqlite|postgres] [--switches 10000] [--due 1000]
                                             [--window 60]

Seeds ``--switches`` armed switches, of which ``--due`` have their deadline drawn uniformly
from the next ``--window`` seconds of real time (the rest are weeks away), starts one
``Worker`` with ``start()`` (APScheduler wakes it at the next due moment; the safety sweep
stays at its default 30 s, so what is measured is the wake at the due moment) and
delivers the deadline alerts to an SMTP sink on the loopback. Lag is ``recorded_at -
due_at`` of each 'deadline' transition. Prints p50, p95, p99 and max; target p99 < 1 s.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta

import _common
from sqlalchemy import func, select

from baton.runtime import build
from baton.store.tables import outbox, transitions

FAR = {"interval": "30d", "reminders": [], "grace": "7d", "timezone": "UTC",
       "stages": [{"name": "notify", "after": "0s", "audience": ["owner"]}]}
# The due switches: a deadline and nothing else in the window (grace lasts a day).
SOON = {"interval": "1h", "reminders": [], "grace": "1d", "timezone": "UTC",
        "stages": [{"name": "notify", "after": "0s", "audience": ["owner"]}]}
LEAD = 5.0  # seconds between the end of seeding and the first possible deadline


def main() -> int:
    parser = _common.arguments((__doc__ or "").splitlines()[0])
    parser.add_argument("--switches", type=int, default=10_000, help="armed switches (default %(default)s)")
    parser.add_argument("--due", type=int, default=1_000, help="of which due in the window (default %(default)s)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds the deadlines spread over")
    args = parser.parse_args()
    rng = random.Random(11)
    with _common.fresh_database(args.db) as url, _common.smtp_sink() as smtp_port:
        runtime = build(_common.settings(url, smtp_port=smtp_port))
        engine = runtime.engine
        _common.header("detection lag", engine)
        print(f"   sweep every {runtime.settings.sweep_seconds:g} s (default); batch {runtime.settings.batch_size}")
        now = datetime.now(UTC)
        idle = args.switches - args.due
        _common.seed(engine, FAR, [now - timedelta(seconds=rng.uniform(0, 20 * 86400)) for _ in range(idle)])
        interval = timedelta(hours=1)
        first = datetime.now(UTC) + timedelta(seconds=LEAD)
        deadlines = _common.spread(first, args.window, args.due, rng)
        _common.seed(engine, SOON, [d - interval for d in deadlines], start=idle)
        if args.db == "postgres":
            _common.analyze(engine)
        print(f"   {args.switches:,} armed switches; {args.due:,} deadlines between "
              f"{deadlines[0]:%H:%M:%S.%f} and {deadlines[-1]:%H:%M:%S.%f} UTC")

        worker = runtime.worker()
        worker.start()
        try:
            give_up = time.monotonic() + LEAD + args.window + 60
            while time.monotonic() < give_up:
                with engine.connect() as conn:
                    seen = conn.execute(select(func.count()).select_from(transitions)
                                        .where(transitions.c.kind == "deadline")).scalar_one()
                if seen >= args.due:
                    break
                time.sleep(0.5)
            time.sleep(1)  # let the last alerts go out before stopping
        finally:
            worker.stop()

        with engine.connect() as conn:
            rows = conn.execute(select(transitions.c.due_at, transitions.c.recorded_at)
                                .where(transitions.c.kind == "deadline")).all()
            other = conn.execute(select(func.count()).select_from(transitions)
                                 .where(transitions.c.kind != "deadline")).scalar_one()
            sent = conn.execute(select(func.count()).select_from(outbox)
                                .where(outbox.c.sent_at.is_not(None))).scalar_one()
        engine.dispose()

    lags = [(r.recorded_at - r.due_at).total_seconds() for r in rows]
    print(f"   recorded {len(lags):,} deadline transitions ({other} others); {sent:,} alerts delivered")
    if len(lags) < args.due:
        print(f"FAIL: only {len(lags)} of {args.due} deadlines were recorded")
        return 1
    early = [lag for lag in lags if lag < 0]
    assert not early, f"{len(early)} transitions recorded before their deadline"
    p50, p95, p99 = (_common.percentile(lags, p) for p in (50, 95, 99))
    print(f"   lag (s): p50 {p50:.3f}  p95 {p95:.3f}  p99 {p99:.3f}  max {max(lags):.3f}  "
          f"mean {sum(lags) / len(lags):.3f}")
    verdict = "PASS" if p99 < 1.0 else "FAIL"
    print(f"{verdict}: p99 detection lag {p99:.3f} s (target < 1 s)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
