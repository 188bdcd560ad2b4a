"""The owner's dashboard against a bare HTML page served by the same server, and the cost of a sign-in.

    python benchmarks/bench_owner_pages.py [--db sqlite|postgres] [--requests 2000] [--owners 50]
                                           [--concurrency 8] [--block 100] [--history 365]

One uvicorn process on 127.0.0.1 serves Baton's application (``create_app``) with one bare
route added to the same app: ``GET /bench/bare``, a plain ``def`` (dispatched through the same
thread pool as the owner's pages) that returns a fixed ``HTMLResponse`` with the headers of
Baton's own pages. Its body is ``link_invalid`` rendered once, at start-up, by the same
``baton.services.messages.render_page`` (the same ``_base.html`` and style sheet, so about the size of
a dashboard). It is rendered once rather than per request so that the ratio charges the
dashboard with all of its own work (the session lookup, the reads and the Jinja2 render) and
the reference with only what every HTML page costs (routing, the thread-pool hop, middleware,
the bytes on the wire).

``--owners`` owners are created with TOTP, each with ``--history`` past check-ins (a year of
daily ones by default, inserted directly), and each signs in once through the real form
before timing (``GET /signin`` for the CSRF token and its cookie, then ``POST /signin`` with
the password and the current code from pyotp): one session cookie per owner. One
``httpx.Client`` (``--concurrency`` threads) then alternates blocks of ``--block`` dashboard
GETs (``GET /``, round-robin over the owners' sessions) and bare GETs until each has had
``--requests``. Access logging is off.

The sign-ins are timed one at a time (nothing else in flight), as are at least 100 bare GETs
on the same connection and a few failed sign-ins (an e-mail address no owner has: argon2 runs
anyway). The server's CPU time per request is read from /proc. Last, a burst of failed
sign-ins from one fresh client address (``X-Forwarded-For``, which uvicorn trusts from
127.0.0.1 as from a proxy), 40 at once (the server's thread pool), counts how many reached
argon2 before the per-address limit answered 429, and API check-ins one at a time are timed
alone and beside it; the server's peak memory is read before and after. Prints each rate,
the ratio dashboard/bare (target: at least 0.3) and the sign-in's latency and CPU time
against a bare GET's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import cycle
from statistics import median
from typing import Any

import _common
import httpx
import pyotp
from _common import Request, free_port, hammer
from sqlalchemy import Engine, insert, select

from baton.runtime import build
from baton.store.tables import switches, transitions
from switch import iso

TARGET = 0.3
PASSWORD = "correct horse battery staple"
FAILED = 5  # failed sign-ins timed one by one: fewer than the per-address limit (10 a minute)
BURST = 60  # failed sign-ins in the closing burst, from one address (the limit is 10 failures a minute)
BURST_IN_FLIGHT = 40  # at once: the size of the server's thread pool (anyio's default), the most it runs
QUIET_CHECKINS = 20  # API check-ins timed alone, before the burst
FAILED_FROM, BURST_FROM = "198.51.100.1", "198.51.100.2"  # client addresses (documentation range), one per limit
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
HEADERS = {"Sec-Fetch-Site": "same-origin"}  # what a browser sends with the form


def serve(url: str, port: int) -> None:
    """The server process: Baton's app plus the bare route, in one uvicorn worker."""
    import uvicorn
    from fastapi.responses import HTMLResponse

    from baton.http.app import create_app
    from baton.services.messages import render_page

    runtime = build(_common.settings(url), upgrade=False)
    app = create_app(runtime.service)
    body = render_page("link_invalid", why="refused", message="A bare page for the benchmark.")
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}

    @app.get("/bench/bare", response_class=HTMLResponse, include_in_schema=False)
    def bare() -> HTMLResponse:
        return HTMLResponse(body, headers=headers)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all of its threads (Linux /proc; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory(pid: int) -> int:
    """The process's peak resident memory in bytes (VmHWM; 0 where /proc has none)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def seed_history(engine: Engine, owner_ids: list[int], days: int) -> None:
    """``days`` daily check-ins per owner, oldest first and interleaved by day as they would be recorded."""
    with engine.connect() as conn:
        switch_of = {r.owner_id: r.id for r in conn.execute(select(switches.c.owner_id, switches.c.id)
                                                            .where(switches.c.owner_id.in_(owner_ids)))}
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for day in range(days):
        at = now - timedelta(days=days - day)
        deadline = iso(at + timedelta(days=7))
        rows.extend(dict(switch_id=switch_of[o], owner_id=o, cycle=day + 1, kind="checkin", stage=None, who=None,
                         reason=f"check-in via web; next deadline {deadline}", due_at=at, recorded_at=at,
                         data={"via": "web", "deadline": deadline}) for o in owner_ids)
    for offset in range(0, len(rows), _common.CHUNK):
        with engine.begin() as conn:
            conn.execute(insert(transitions), rows[offset:offset + _common.CHUNK])
    if engine.dialect.name == "postgresql":
        _common.analyze(engine)


def sign_in(client: httpx.Client, pid: int, email: str, password: str, code: str,
            headers: dict[str, str] | None = None) -> tuple[httpx.Response, float, float]:
    """The sign-in form, then its POST; the POST's response, wall seconds and the server's CPU seconds."""
    headers = {**HEADERS, **(headers or {})}
    client.cookies.clear()
    form = client.get("/signin", headers=headers)
    found = CSRF.search(form.text)
    if form.status_code != 200 or found is None:
        raise RuntimeError(f"GET /signin: HTTP {form.status_code}, no CSRF token: {form.text[:200]}")
    cpu = cpu_seconds(pid)
    began = time.perf_counter()
    response = client.post("/signin", headers=headers, data={"email": email, "password": password, "totp": code,
                                                             "csrf": found.group(1), "next": "/"})
    return response, time.perf_counter() - began, cpu_seconds(pid) - cpu


def sessions(client: httpx.Client, pid: int, secrets: dict[str, str]) -> tuple[list[str], list[float], list[float]]:
    """Each owner signs in once; their session cookies, and each POST's wall and CPU seconds."""
    cookies, walls, cpus = [], [], []
    for number, (email, secret) in enumerate(secrets.items()):
        # Each owner from an address of their own: an address may try only a few sign-ins a minute.
        where = {"X-Forwarded-For": f"198.18.{number // 250}.{number % 250 + 1}"}
        response, wall, cpu = sign_in(client, pid, email, PASSWORD, pyotp.TOTP(secret).now(), where)
        session = response.cookies.get("baton_session")
        if response.status_code != 303 or not session:
            raise RuntimeError(f"POST /signin for {email}: HTTP {response.status_code}: {response.text[:200]}")
        cookies.append(session)
        walls.append(wall)
        cpus.append(cpu)
    return cookies, walls, cpus


def one_at_a_time(client: httpx.Client, pid: int, path: str, count: int) -> tuple[list[float], float]:
    """``count`` GETs of ``path``, one in flight: each one's wall seconds, and the server's CPU seconds in all."""
    walls = []
    cpu = cpu_seconds(pid)
    for _ in range(count):
        began = time.perf_counter()
        response = client.get(path)
        walls.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
    return walls, cpu_seconds(pid) - cpu


def failed(client: httpx.Client, pid: int, count: int) -> tuple[list[float], list[float]]:
    """Sign-ins for addresses no owner has (argon2 runs anyway, so that timing tells nothing), from a
    client address of their own (uvicorn trusts X-Forwarded-For from 127.0.0.1, as from a proxy)."""
    walls, cpus = [], []
    for i in range(count):
        response, wall, cpu = sign_in(client, pid, f"nobody{i}@bench.example", PASSWORD, "",
                                      {"X-Forwarded-For": FAILED_FROM})
        if response.status_code != 401:
            raise RuntimeError(f"failed POST /signin: expected HTTP 401, got {response.status_code}")
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus


@dataclass
class Burst:
    statuses: dict[int, int]  # answers by HTTP status
    seconds: float
    cpu: float  # the server's CPU seconds during the burst
    quiet: list[float]  # API check-ins one at a time before the burst: wall seconds each
    during: list[float]  # and while it ran


def checkins(client: httpx.Client, tokens: Iterator[str], until: Callable[[], bool]) -> list[float]:
    """API check-ins one at a time (round-robin over the owners' tokens) until ``until()``; each one's seconds."""
    walls = []
    while not until():
        began = time.perf_counter()
        response = client.post("/api/checkin", headers={"Authorization": f"Bearer {next(tokens)}"})
        walls.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"POST /api/checkin: HTTP {response.status_code}: {response.text[:200]}")
    return walls


def burst(port: int, pid: int, api_tokens: list[str]) -> Burst:
    """``BURST`` failed sign-ins from one fresh address, ``BURST_IN_FLIGHT`` at once, while API check-ins go on
    one at a time beside them; the same check-ins are timed alone first."""
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=120) as client:
        forms = []
        for _ in range(BURST):  # each attempt with its own form and nonce cookie, as separate browsers would
            client.cookies.clear()
            form = client.get("/signin")
            found = CSRF.search(form.text)
            assert found is not None
            forms.append((form.cookies["baton_signin"], found.group(1)))
    limits = httpx.Limits(max_connections=BURST_IN_FLIGHT, max_keepalive_connections=BURST_IN_FLIGHT)
    statuses: dict[int, int] = {}
    tokens = cycle(api_tokens)
    with httpx.Client(base_url=base, limits=limits, timeout=120) as client, \
            httpx.Client(base_url=base, timeout=120) as prober, ThreadPoolExecutor(BURST_IN_FLIGHT + 1) as pool:
        count = iter(range(QUIET_CHECKINS))
        quiet = checkins(prober, tokens, lambda: next(count, None) is None)

        def attempt(i: int) -> int:
            nonce, token = forms[i]
            return client.post("/signin", headers={**HEADERS, "Cookie": f"baton_signin={nonce}",
                                                   "X-Forwarded-For": BURST_FROM},
                               data={"email": f"burst{i}@bench.example", "password": PASSWORD, "totp": "",
                                     "csrf": token, "next": "/"}).status_code

        done = threading.Event()
        cpu = cpu_seconds(pid)
        began = time.perf_counter()
        probe = pool.submit(checkins, prober, tokens, done.is_set)
        try:
            attempts = [pool.submit(attempt, i) for i in range(BURST)]
            for future in attempts:
                status = future.result()
                statuses[status] = statuses.get(status, 0) + 1
            seconds, cpu = time.perf_counter() - began, cpu_seconds(pid) - cpu
        finally:
            done.set()
        return Burst(statuses, seconds, cpu, quiet, probe.result())


def measure(port: int, cookies: list[str], args: argparse.Namespace,
            pid: int) -> tuple[dict[str, tuple[int, float, float]], dict[str, int]]:
    """Alternating blocks; per kind: requests, seconds and the server's CPU seconds. Also each page's size."""
    session = cycle(cookies)
    kinds: dict[str, Callable[[], Request]] = {
        "bare (def)": lambda: ("GET", "/bench/bare", {}),
        "dashboard": lambda: ("GET", "/", {"Cookie": f"baton_session={next(session)}"}),
    }
    totals = {name: (0, 0.0, 0.0) for name in kinds}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client, \
            ThreadPoolExecutor(args.concurrency) as pool:
        sizes = {}
        for name, make in kinds.items():
            method, path, headers = make()
            shown = client.request(method, path, headers=headers)
            expected = ('id="status"', "check-in via web" if args.history else "") if name == "dashboard" else ()
            if shown.status_code != 200 or not all(text in shown.text for text in expected):
                raise RuntimeError(f"{name}: HTTP {shown.status_code}: {shown.text[:200]}")
            sizes[name] = len(shown.content)
        for make in kinds.values():  # warm-up: connections, statement caches, the server's thread pool
            hammer(client, pool, [make() for _ in range(min(200, args.requests))], args.concurrency)
        blocks = -(-args.requests // args.block)
        order = list(kinds)
        for round_ in range(blocks):
            size = min(args.block, args.requests - round_ * args.block)
            for name in order[round_ % len(order):] + order[:round_ % len(order)]:  # rotate who goes first
                cpu = cpu_seconds(pid)
                seconds = hammer(client, pool, [kinds[name]() for _ in range(size)], args.concurrency)
                done, spent, used = totals[name]
                totals[name] = (done + size, spent + seconds, used + cpu_seconds(pid) - cpu)
    return totals, sizes


def ms(values: list[float]) -> str:
    return (f"median {median(values) * 1000:7.1f} ms, p95 {_common.percentile(values, 95) * 1000:7.1f} ms, "
            f"max {max(values) * 1000:7.1f} ms")


def main() -> int:
    parser = _common.arguments((__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per route (default %(default)s)")
    parser.add_argument("--owners", type=int, default=50, help="owners signed in, one session each "
                                                                "(default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default %(default)s)")
    parser.add_argument("--block", type=int, default=100, help="requests per alternating block (default %(default)s)")
    parser.add_argument("--history", type=int, default=365, help="past daily check-ins per owner "
                                                                 "(default %(default)s)")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0

    with _common.fresh_database(args.db) as url:
        runtime = build(_common.settings(url))
        engine = runtime.engine
        _common.header("owner pages", engine)
        began = time.perf_counter()
        made = [runtime.service.create_owner(f"owner{i}@bench.example", PASSWORD, "Europe/Rome", totp=True)
                for i in range(args.owners)]
        seed_history(engine, [m.owner.id for m in made], args.history)
        secrets = {m.owner.email: m.totp_secret or "" for m in made}
        print(f"   seeded {args.owners} owners with TOTP and {args.owners * args.history:,} past check-ins "
              f"in {time.perf_counter() - began:.1f} s")
        engine.dispose()
        port = free_port()
        server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", url, "--port", str(port)])
        try:
            _common.wait_for_port(port, server)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                one_at_a_time(client, server.pid, "/bench/bare", 20)  # warm-up
                cookies, signin_walls, signin_cpus = sessions(client, server.pid, secrets)
                bare_walls, bare_cpu = one_at_a_time(client, server.pid, "/bench/bare", max(args.owners, 100))
                failed_walls, failed_cpus = failed(client, server.pid, FAILED)
            totals, sizes = measure(port, cookies, args, server.pid)
            memory = peak_memory(server.pid)
            flood = burst(port, server.pid, [m.api_token for m in made])
            burst_memory = peak_memory(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"   {args.requests:,} requests per route in blocks of {args.block}, {args.concurrency} in flight, "
          f"{args.owners} owners' sessions round-robin; one uvicorn process, access log off")
    print(f"   page sizes: dashboard {sizes['dashboard']:,} bytes, bare {sizes['bare (def)']:,} bytes")
    rates = {}
    for name, (done, seconds, cpu) in totals.items():
        rates[name] = done / seconds
        print(f"   {name:<12} {done:6,} requests in {seconds:6.2f} s   {rates[name]:8.1f} req/s   "
              f"server CPU {cpu / done * 1000:6.2f} ms/request")
    bare_latency = median(bare_walls)
    bare_cpu_each = bare_cpu / len(bare_walls)
    print("   one at a time:")
    print(f"   bare GET        {len(bare_walls):4} requests: {ms(bare_walls)}; server CPU "
          f"{bare_cpu_each * 1000:.2f} ms each")
    print(f"   sign-in (POST)  {len(signin_walls):4} requests: {ms(signin_walls)}; server CPU "
          f"{median(signin_cpus) * 1000:.0f} ms median")
    print(f"   failed sign-in  {len(failed_walls):4} requests: {ms(failed_walls)}; server CPU "
          f"{median(failed_cpus) * 1000:.0f} ms median")
    print(f"   sign-in / bare GET: {median(signin_walls) / bare_latency:.0f}x the latency, "
          f"{median(signin_cpus) / bare_cpu_each:.0f}x the server CPU")
    answered = ", ".join(f"{count} x HTTP {status}" for status, count in sorted(flood.statuses.items()))
    print(f"   burst of {BURST} failed sign-ins from one address, {BURST_IN_FLIGHT} in flight: {answered} "
          f"in {flood.seconds:.2f} s, server CPU {flood.cpu:.2f} s (the limit is 10 failures a minute); "
          f"server peak RSS {memory / 2**20:.0f} MiB before, {burst_memory / 2**20:.0f} MiB after")
    print(f"   API check-ins one at a time, alone:            {len(flood.quiet):4} requests: {ms(flood.quiet)}")
    print(f"   API check-ins one at a time, during the burst: {len(flood.during):4} requests: {ms(flood.during)}")
    ratio = rates["dashboard"] / rates["bare (def)"]
    verdict = "PASS" if ratio >= TARGET else "FAIL"
    print(f"{verdict}: dashboard / bare (def) = {ratio:.2f} (target >= {TARGET})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
