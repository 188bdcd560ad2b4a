"""Mass wake-up: N switches due at the same instant, with `baton serve` and `baton worker` as a user runs them.

    python benchmarks/bench_mass_wakeup.py [--db postgres|sqlite] [--switches 10000] [--workers 1]
                                           [--limit 180] [--wake-batch N] [--send-batch N] [--senders N]

Starts one ``baton serve`` (which runs a worker in its process too) and ``--workers``
``baton worker`` processes on a fresh database, then seeds ``--switches`` owners whose switches
all reach their deadline at one instant a few seconds ahead (rows written directly, as the other
benchmarks do; the processes' sweep, every ``--sweep`` seconds, finds them, and each process then
wakes at the deadline itself), with an aiosmtpd server on the loopback in this process that keeps each
accepted message's Message-ID, time and connection. Each deadline transition causes one alert
e-mail. Prints the time from the deadline to the last transition recorded, to the first and the
last message accepted, the rates, and PASS/FAIL against 10 s / 1 s / 60 s; and checks that each
switch was advanced once, each message accepted once, none before its deadline, and that a
sample of the audit chains verifies. Gives up after ``--limit`` seconds past the deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import _common
from sqlalchemy import func, select

from baton.runtime import build
from baton.store import auditlog
from baton.store.tables import outbox, owners, transitions

# A deadline and nothing else for a day (grace lasts a day): one transition and one alert per switch.
POLICY = {"interval": "1h", "reminders": [], "grace": "1d", "timezone": "UTC",
          "stages": [{"name": "notify", "after": "0s", "audience": ["owner"]}]}
TARGETS = {"transitions": 10.0, "first": 1.0, "messages": 60.0}


class Recorder:
    """aiosmtpd handler: (accepted at, Message-ID, client connection) of each message; headers only."""

    def __init__(self) -> None:
        self.accepted: list[tuple[float, str, tuple[str, int]]] = []
        self._lock = threading.Lock()
        self._parser = BytesHeaderParser()

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        headers = self._parser.parsebytes(envelope.original_content or envelope.content)
        with self._lock:
            self.accepted.append((time.time(), str(headers["Message-ID"]), tuple(session.peer)))
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[tuple[float, str, tuple[str, int]]]:
        with self._lock:
            return list(self.accepted)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own handle
        return subprocess.Popen([sys.executable, "-m", "baton.cli", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc; NaN elsewhere): on a machine
    shared with other jobs, a figure that does not depend on how busy the others kept the cores."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def main() -> int:
    parser = _common.arguments((__doc__ or "").splitlines()[0])
    parser.set_defaults(db="postgres")
    parser.add_argument("--switches", type=int, default=10_000, help="switches due at once (default %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="`baton worker` processes (default %(default)s)")
    parser.add_argument("--limit", type=float, default=180.0, help="seconds past the deadline before giving up")
    parser.add_argument("--wake-batch", type=int, help="BATON_WAKE_BATCH for the processes (default: theirs)")
    parser.add_argument("--send-batch", type=int, help="BATON_SEND_BATCH for the processes (default: theirs)")
    parser.add_argument("--senders", type=int, help="BATON_EMAIL_SENDERS for the processes (default: theirs)")
    parser.add_argument("--sweep", type=float, default=1.0,
                        help="BATON_SWEEP_SECONDS: how soon the started processes see the seeded switches")
    args = parser.parse_args()
    if args.db == "sqlite" and args.workers > 1:
        print("note: several workers on one SQLite file take turns writing (BEGIN IMMEDIATE)")

    from aiosmtpd.controller import Controller

    recorder = Recorder()
    port = _common.free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    folder = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with _common.fresh_database(args.db) as url:
            settings = _common.settings(url, smtp_port=port, data_dir=folder / "server")
            runtime = build(settings)  # migrates and makes the deployment key before the processes start
            engine = runtime.engine
            _common.header(f"mass wake-up: {args.switches:,} switches due at once, serve + {args.workers} "
                           f"worker(s)", engine)
            env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
            env.update(BATON_DATABASE_URL=url, BATON_DATA_DIR=str(folder / "server"), BATON_SMTP_HOST="127.0.0.1",
                       BATON_SMTP_PORT=str(port), BATON_BASE_URL="http://baton.bench",
                       BATON_SWEEP_SECONDS=str(args.sweep), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
            for name, value in (("BATON_WAKE_BATCH", args.wake_batch), ("BATON_SEND_BATCH", args.send_batch),
                                ("BATON_EMAIL_SENDERS", args.senders)):
                if value is not None:
                    env[name] = str(value)
            # The processes start first (a loaded machine takes seconds to import them); their sweep finds
            # the switches seeded after, and each then wakes at the deadline itself.
            logs = [folder / "serve.log"] + [folder / f"worker{i}.log" for i in range(args.workers)]
            api_port = _common.free_port()
            procs.append(start(["serve", "--host", "127.0.0.1", "--port", str(api_port)], env, logs[0]))
            procs.extend(start(["worker"], env, log) for log in logs[1:])
            _common.wait_for_port(api_port, procs[0], timeout=120)
            time.sleep(2.0)  # the workers, started beside the server, are up by now too
            began = time.monotonic()
            seconds = args.switches / 1000 * (1.0 if args.db == "postgres" else 2.0)
            deadline = datetime.now(UTC) + timedelta(seconds=3.0 + args.sweep + 2 * seconds)
            _common.seed(engine, POLICY, [deadline - timedelta(hours=1)] * args.switches)
            if args.db == "postgres":
                _common.analyze(engine)
            ahead = (deadline - datetime.now(UTC)).total_seconds()
            print(f"   seeded in {time.monotonic() - began:.1f} s, {ahead:.1f} s before the deadline "
                  f"({deadline:%H:%M:%S.%f} UTC); the workers' sweep runs every {args.sweep:g} s")
            if ahead < args.sweep:
                print("WARNING: seeding ended too close to the deadline for the sweep to see the switches first")

            due = deadline.timestamp()
            give_up = due + args.limit
            recorded = 0
            done_transitions: float | None = None
            while time.time() < give_up:
                exited = [i for i, proc in enumerate(procs) if proc.poll() is not None]
                if exited:
                    print(f"FAIL: process {exited[0]} exited:\n" + logs[exited[0]].read_text()[-3000:])
                    return 1
                if done_transitions is None:
                    with engine.connect() as conn:
                        recorded = conn.execute(select(func.count()).select_from(transitions)).scalar_one()
                    if recorded >= args.switches:
                        done_transitions = time.time()
                if done_transitions is not None and len(recorder.snapshot()) >= args.switches:
                    break
                time.sleep(0.1 if done_transitions is None else 0.2)
            time.sleep(1.0)  # a repeat sent late would show up now
            cpu = [cpu_seconds(proc.pid) for proc in procs]
            stop(procs)
            print(f"   CPU seconds used: serve {cpu[0]:.1f}; worker(s) {', '.join(f'{c:.1f}' for c in cpu[1:])}; "
                  f"load average {os.getloadavg()[0]:.2f} at the end")
            accepted = recorder.snapshot()

            with engine.connect() as conn:
                rows = conn.execute(select(transitions.c.switch_id, transitions.c.kind, transitions.c.due_at,
                                           transitions.c.recorded_at)).all()
                queued = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
                sent = conn.execute(select(func.count()).select_from(outbox)
                                    .where(outbox.c.sent_at.is_not(None))).scalar_one()
                sample = conn.execute(select(owners.c.id).order_by(owners.c.id)).scalars().all()[::97]
                problems = [(o, p) for o in sample if (p := auditlog.verify(conn, o)[1]) is not None]
            engine.dispose()
    finally:
        stop(procs)
        controller.stop()
        import shutil
        shutil.rmtree(folder, ignore_errors=True)
    return report(args.switches, due, rows, accepted, queued, sent, problems, len(sample), done_transitions)


def report(count: int, due: float, rows: list[Any], accepted: list[tuple[float, str, tuple[str, int]]],
           queued: int, sent: int, problems: list[Any], sampled: int, committed: float | None) -> int:
    """Each figure and its verdict. "All transitions recorded" is when a reader polling every 0.1 s first
    saw every transition committed (an upper bound); the transitions' own ``recorded_at`` is the moment
    their batch began, earlier than its commit by the batch's length, so it is shown beside, not judged."""
    failures: list[str] = []
    per_switch = Counter(r.switch_id for r in rows)
    early = [r for r in rows if r.recorded_at < r.due_at]
    ids = Counter(mid for _at, mid, _peer in accepted)
    connections = len({peer for _at, _mid, peer in accepted})
    print(f"   {len(rows):,} transitions ({len(per_switch):,} switches; kinds {dict(Counter(r.kind for r in rows))}); "
          f"{queued:,} messages queued, {sent:,} marked sent; {len(accepted):,} accepted "
          f"({len(ids):,} distinct) over {connections} SMTP connection(s)")
    if len(per_switch) < count:
        failures.append(f"{count - len(per_switch)} switches have no transition")
    if per_switch and max(per_switch.values()) > 1:
        failures.append(f"{sum(1 for n in per_switch.values() if n > 1)} switches advanced more than once")
    if early:
        failures.append(f"{len(early)} transitions recorded before their deadline")
    repeated = sum(1 for n in ids.values() if n > 1)
    if repeated:
        failures.append(f"{repeated} messages accepted more than once")
    if problems:
        failures.append(f"audit chains broken: {problems[:3]}")
    print(f"   audit chains verified: {sampled - len(problems)} of {sampled} sampled")

    figures: dict[str, float | None] = {"transitions": None, "first": None, "messages": None}
    if rows and len(per_switch) >= count and committed is not None:
        figures["transitions"] = committed - due
    if accepted:
        figures["first"] = min(at for at, _mid, _peer in accepted) - due
    if len(ids) >= count:
        figures["messages"] = max(at for at, _mid, _peer in accepted) - due
    labels = {"transitions": "all transitions recorded", "first": "first message accepted",
              "messages": "all messages accepted"}
    for name, value in figures.items():
        verdict = "PASS" if value is not None and value <= TARGETS[name] else "FAIL"
        shown = "never" if value is None else f"{value:.2f} s"
        print(f"{verdict}: {labels[name]} {shown} after the deadline (target <= {TARGETS[name]:g} s)")
        if verdict == "FAIL":
            failures.append(f"{labels[name]}: {shown}")
    if figures["transitions"]:
        first = min(r.recorded_at for r in rows).timestamp() - due
        last = max(r.recorded_at for r in rows).timestamp() - due
        print(f"   transitions/s: {count / figures['transitions']:.0f} (batches began {first:.2f} s to {last:.2f} s "
              "after the deadline)")
    if accepted and len(accepted) > 1:
        times = sorted(at for at, _mid, _peer in accepted)
        print(f"   messages/s: {len(accepted) / max(times[-1] - times[0], 1e-9):.0f} "
              f"(from the first accepted to the last)")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
