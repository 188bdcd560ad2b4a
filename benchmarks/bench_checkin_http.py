"""Check-in throughput of `baton serve`, measured with wrk, against /healthz of the same server.

    python benchmarks/bench_checkin_http.py [--db sqlite|postgres|both] [--owners 32] [--connections 32]
                                            [--threads 2] [--duration 10] [--rounds 2] [--workers 1]

For each database (both by default): a fresh deployment (a SQLite file in a temporary data folder,
or a PostgreSQL database of its own at BATON_TEST_PG), ``--owners`` owners each with an API token,
then ``python -m baton.cli serve`` started as a user starts it (a subprocess, its own worker, on a
free loopback port; ``--workers 2`` runs two API processes). wrk then alternates, ``--rounds``
times, ``--duration`` seconds of ``GET /healthz`` and of ``POST /api/checkin`` with the tokens taken
round-robin (a Lua script), after a short warm-up of each. Prints each rate, the ratio and the
non-2xx answers (socket errors too), and PASS/FAIL against 0.3.

``/healthz`` is not a bare route: it reads the database (reachable? the newest worker heartbeat's age)
in the thread pool. For the record, each round also loads ``GET /witness/key`` (the deployment's
public key: an async route through the same middleware with no database and no thread), and the
check-in's ratio to it is printed beside, not judged.

Accounting: after the server stops, the check-ins recorded in the database (transitions and signed
audit entries) must equal the check-ins answered 2xx, plus at most the requests wrk had sent but
not yet read when each run ended (the server finishes those; the Lua script counts what it sent).
Fewer would mean an acknowledged check-in was lost. Bounded: the whole run takes about
``2 × rounds × duration`` seconds per database plus set-up, and every wait has a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, here and in the server (run from ROOT)

import _common  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from baton.runtime import build  # noqa: E402
from baton.store.tables import audit_entries, transitions  # noqa: E402

TARGET = 0.3
TICK = os.sysconf("SC_CLK_TCK")
LUA = """
local tokens = {%(tokens)s}
local threads = {}
local counter = 0
local id = 0
sent = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = id * 7
end

function request()
  counter = counter + 1
  sent = sent + 1
  local token = tokens[(counter %% #tokens) + 1]
  return wrk.format("POST", "/api/checkin", {["Authorization"] = "Bearer " .. token})
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("sent")
  end
  io.write(string.format("SENT %%d\\n", total))
end
"""


@dataclass
class Run:
    route: str
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    sent: int | None
    cpu: float  # seconds of CPU the server's processes used during the run

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx


def group_cpu(group: int) -> float:
    """The CPU seconds (user and system) of the live processes in a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def wrk(url: str, args: argparse.Namespace, seconds: float, script: Path | None, group: int) -> Run:
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds:g}s", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    before = group_cpu(group)
    done = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60, check=True)
    cpu = group_cpu(group) - before
    out = done.stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    if found is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}\n{done.stderr}")
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[found.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    sent = re.search(r"SENT (\d+)", out)
    return Run(url.rsplit("/", 1)[-1], int(found.group(1)), float(found.group(2)) * unit,
               int(non_2xx.group(1)) if non_2xx else 0,
               sum(int(g) for g in errors.groups()) if errors else 0, int(sent.group(1)) if sent else None, cpu)


def start_server(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "baton.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with open(log, "wb") as handle:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_healthy(port: int, server: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"baton serve exited with code {server.returncode}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code}: {answer.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"/healthz did not answer 200 within {timeout:.0f} s ({last})")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def bench(kind: str, args: argparse.Namespace) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="baton-bench-http-"))
    try:
        with _common.fresh_database(kind) as url:
            if kind == "sqlite":
                url = f"sqlite:///{folder}/server/baton.db"
            settings = _common.settings(url, data_dir=folder / "server")
            runtime = build(settings)
            engine = runtime.engine
            _common.header(f"check-in over HTTP (wrk), {kind}", engine)
            tokens = [runtime.service.create_owner(f"owner{i}@bench.example", "correct horse battery staple",
                                                   "Europe/Rome").api_token for i in range(args.owners)]
            with engine.connect() as conn:
                before = conn.execute(select(func.count()).select_from(transitions)
                                      .where(transitions.c.kind == "checkin")).scalar_one()
            script = folder / "checkin.lua"
            script.write_text(LUA % {"tokens": ", ".join(json.dumps(t) for t in tokens)})
            port = _common.free_port()
            env = {**os.environ, "BATON_DATABASE_URL": url, "BATON_DATA_DIR": str(folder / "server"),
                   "BATON_SMTP_HOST": "127.0.0.1", "BATON_SMTP_PORT": "9"}
            env.pop("BATON_BASE_URL", None)
            server = start_server(env, port, args.workers, folder / "serve.log")
            runs: list[Run] = []
            warm: list[Run] = []
            try:
                wait_healthy(port, server)
                base = f"http://127.0.0.1:{port}"
                group = server.pid
                warm.append(wrk(f"{base}/healthz", args, args.warmup, None, group))
                warm.append(wrk(f"{base}/api/checkin", args, args.warmup, script, group))
                warm.append(wrk(f"{base}/witness/key", args, args.warmup, None, group))
                for _ in range(args.rounds):
                    runs.append(wrk(f"{base}/healthz", args, args.duration, None, group))
                    runs.append(wrk(f"{base}/api/checkin", args, args.duration, script, group))
                    runs.append(wrk(f"{base}/witness/key", args, args.duration, None, group))
            finally:
                stop_server(server)
            with engine.connect() as conn:
                recorded = conn.execute(select(func.count()).select_from(transitions)
                                        .where(transitions.c.kind == "checkin")).scalar_one() - before
                audited = conn.execute(select(func.count()).select_from(audit_entries)
                                       .where(audit_entries.c.kind == "switch.checkin")).scalar_one() - before
            engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return report(kind, args, runs, warm, recorded, audited)


def report(kind: str, args: argparse.Namespace, runs: list[Run], warm: list[Run], recorded: int,
           audited: int) -> bool:
    print(f"   baton serve{f' --workers {args.workers}' if args.workers > 1 else ''}; wrk -t {args.threads} "
          f"-c {args.connections}, {args.rounds} × ({args.duration:g} s each of /healthz, check-in, /witness/key), "
          f"{args.owners} owners' tokens round-robin")
    totals: dict[str, tuple[int, float, float]] = {}
    for run in runs:
        print(f"   {run.route:<8} {run.requests:7,} requests in {run.seconds:6.2f} s  {run.rate:8.1f} req/s"
              f"   server CPU {run.cpu / run.requests * 1000:5.2f} ms/request"
              f"   non-2xx {run.non_2xx}, socket errors {run.socket_errors}")
        done, spent, cpu = totals.get(run.route, (0, 0.0, 0.0))
        totals[run.route] = (done + run.requests, spent + run.seconds, cpu + run.cpu)
    health = totals["healthz"][0] / totals["healthz"][1]
    checkin = totals["checkin"][0] / totals["checkin"][1]
    ratio = checkin / health
    cpu_health, cpu_checkin = (totals[r][2] / totals[r][0] * 1000 for r in ("healthz", "checkin"))
    print(f"   server CPU per request: /healthz {cpu_health:.2f} ms, check-in {cpu_checkin:.2f} ms "
          f"(ratio {cpu_health / cpu_checkin:.2f}: the rate ratio if the server had the cores to itself; "
          f"PostgreSQL's own processes are not counted)")
    bad = sum(r.non_2xx + r.socket_errors for r in runs + warm)
    checkins = [r for r in runs + warm if r.route == "checkin"]
    answered = sum(r.ok for r in checkins)
    unread = sum((r.sent or 0) - r.requests for r in checkins)
    print(f"   /healthz {health:.1f} req/s, check-in {checkin:.1f} req/s, ratio {ratio:.2f}")
    bare = totals["key"][0] / totals["key"][1]
    cpu_bare = totals["key"][2] / totals["key"][0] * 1000
    print(f"   for the record: /witness/key (no database, no thread) {bare:.1f} req/s, server CPU {cpu_bare:.2f} "
          f"ms/request; check-in / it = {checkin / bare:.2f} (not judged)")
    print(f"   non-2xx or socket errors, warm-up included: {bad}")
    print(f"   check-ins recorded: {recorded:,} transitions, {audited:,} audit entries; answered 2xx: {answered:,} "
          f"(warm-up included), sent but unread when wrk stopped: {unread}")
    accounted = answered <= recorded <= answered + unread and audited == recorded
    if not accounted:
        print("FAIL: the check-ins recorded do not match those answered")
    verdict = ratio >= TARGET and bad == 0 and accounted
    print(f"{'PASS' if verdict else 'FAIL'} ({kind}): check-in / healthz = {ratio:.2f} (target >= {TARGET})")
    return verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--owners", type=int, default=32, help="owners whose tokens check in (default %(default)s)")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections (default %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads (default %(default)s)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per route (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="healthz/check-in pairs (default %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="baton serve --workers (default %(default)s)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt install wrk)")
        return 2
    kinds = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    results = [bench(kind, args) for kind in kinds]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
