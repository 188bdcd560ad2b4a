"""Check-in throughput of the real endpoint against a bare endpoint served by the same server.

    python benchmarks/bench_checkin.py [--db sqlite|postgres] [--requests 2000] [--owners 50]
                                       [--concurrency 8] [--block 100]

One uvicorn process on 127.0.0.1 serves Baton's application (``create_app``) with two
bare routes added to the same app: ``GET /bench/bare`` (``async def``, the cheapest route
FastAPI serves) and ``GET /bench/bare-sync`` (a plain ``def``, dispatched through the same
thread pool as the real endpoint). ``POST /api/checkin`` does the real work: bearer-token
auth, the switch's conditional update, a transition and a signed audit entry. One
``httpx.Client`` (one connection pool, ``--concurrency`` threads) hammers them side by side,
alternating blocks of ``--block`` requests until each has had ``--requests``; check-ins go
round-robin over ``--owners`` owners' tokens (check-ins for one owner serialize on its
switch row). Access logging is off for every route alike. Prints each rate and real/bare;
target: at least 0.3 of the bare ``async def`` route's rate.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

import _common
import httpx
from sqlalchemy import func, select

from baton.runtime import build
from baton.store.tables import audit_entries, transitions

TARGET = 0.3
Request = tuple[str, str, dict[str, str]]  # method, path, headers


def serve(url: str, port: int) -> None:
    """The server process: Baton's app plus the bare routes, in one uvicorn worker."""
    import uvicorn

    from baton.http.app import create_app

    runtime = build(_common.settings(url), upgrade=False)
    app = create_app(runtime.service)

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/bench/bare-sync", include_in_schema=False)
    def bare_sync() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def hammer(client: httpx.Client, pool: ThreadPoolExecutor, requests: list[Request], concurrency: int) -> float:
    """Send ``requests`` with ``concurrency`` in flight; the seconds it took. Any non-200 stops the run."""
    queue = iter(requests)
    lock = threading.Lock()

    def one_client() -> None:
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            method, path, headers = item
            response = client.request(method, path, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}")

    began = time.perf_counter()
    for future in [pool.submit(one_client) for _ in range(concurrency)]:
        future.result()
    return time.perf_counter() - began


def measure(port: int, tokens: list[str], args: argparse.Namespace) -> dict[str, tuple[int, float]]:
    token = cycle(tokens)
    kinds: dict[str, Callable[[], Request]] = {
        "bare (async def)": lambda: ("GET", "/bench/bare", {}),
        "bare (def)": lambda: ("GET", "/bench/bare-sync", {}),
        "check-in": lambda: ("POST", "/api/checkin", {"Authorization": f"Bearer {next(token)}"}),
    }
    totals = {name: (0, 0.0) for name in kinds}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client, \
            ThreadPoolExecutor(args.concurrency) as pool:
        for make in kinds.values():  # warm-up: connections, statement caches, the server's thread pool
            hammer(client, pool, [make() for _ in range(min(200, args.requests))], args.concurrency)
        blocks = -(-args.requests // args.block)
        order = list(kinds)
        for round_ in range(blocks):
            size = min(args.block, args.requests - round_ * args.block)
            for name in order[round_ % len(order):] + order[:round_ % len(order)]:  # rotate who goes first
                seconds = hammer(client, pool, [kinds[name]() for _ in range(size)], args.concurrency)
                done, spent = totals[name]
                totals[name] = (done + size, spent + seconds)
    return totals


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = _common.arguments((__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per route (default %(default)s)")
    parser.add_argument("--owners", type=int, default=50, help="owners whose tokens check in (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default %(default)s)")
    parser.add_argument("--block", type=int, default=100, help="requests per alternating block (default %(default)s)")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0

    with _common.fresh_database(args.db) as url:
        runtime = build(_common.settings(url))
        engine = runtime.engine
        _common.header("check-in throughput", engine)
        tokens = [runtime.service.create_owner(f"owner{i}@bench.example", "correct horse battery staple",
                                               "Europe/Rome").api_token for i in range(args.owners)]
        port = free_port()
        server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", url, "--port", str(port)])
        try:
            _common.wait_for_port(port, server)
            totals = measure(port, tokens, args)
        finally:
            server.terminate()
            server.wait(timeout=30)
        with engine.connect() as conn:
            checkins = conn.execute(select(func.count()).select_from(transitions)
                                    .where(transitions.c.kind == "checkin")).scalar_one()
            audited = conn.execute(select(func.count()).select_from(audit_entries)
                                   .where(audit_entries.c.kind == "switch.checkin")).scalar_one()
        engine.dispose()

    print(f"   {args.requests:,} requests per route in blocks of {args.block}, {args.concurrency} in flight, "
          f"{args.owners} owners' tokens round-robin; one uvicorn process, access log off")
    rates = {}
    for name, (done, seconds) in totals.items():
        rates[name] = done / seconds
        print(f"   {name:<18} {done:6,} requests in {seconds:6.2f} s   {rates[name]:8.1f} req/s")
    warm = min(200, args.requests)
    print(f"   check-ins recorded: {checkins:,} transitions, {audited:,} audit entries "
          f"(expected {args.requests + warm:,} each, warm-up included)")
    if checkins != args.requests + warm or audited != checkins:
        print("FAIL: not every check-in was recorded with its audit entry")
        return 1
    strict = rates["check-in"] / rates["bare (async def)"]
    same_path = rates["check-in"] / rates["bare (def)"]
    print(f"   ratio check-in / bare (def), the same thread-pool dispatch: {same_path:.2f}")
    verdict = "PASS" if strict >= TARGET else "FAIL"
    print(f"{verdict}: check-in / bare (async def) = {strict:.2f} (target >= {TARGET})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
