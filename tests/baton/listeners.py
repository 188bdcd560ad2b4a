"""Loopback listeners for the outbound tests: a webhook that answers (and can answer slowly), a TCP
port that accepts and never answers, and a UDP port; each records what reached it, and when."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


@dataclass
class Hit:
    """One request a webhook answered: when it arrived (``time.time()``), its method, path, headers, body."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Webhook:
    """An HTTP server on 127.0.0.1 that records every request; ``delay`` seconds before each answer."""

    port: int
    delay: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, scheme: str = "json", path: str = "hook") -> str:
        return f"{scheme}://{HOST}:{self.port}/{path}"

    def received(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)


@contextmanager
def webhook(delay: float = 0.0) -> Iterator[Webhook]:
    hook = Webhook(0, delay)

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            arrived = time.time()
            length = int(self.headers.get("Content-Length", 0) or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with hook.lock:
                hook.hits.append(Hit(arrived, self.command, self.path, dict(self.headers), body))
            if hook.delay:
                time.sleep(hook.delay)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Silent:
    """A TCP port on 127.0.0.1 that accepts connections and never says a word (nor reads one)."""

    port: int
    connections: list[float] = field(default_factory=list)  # when each was accepted
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> int:
        with self.lock:
            return len(self.connections)


@contextmanager
def silent() -> Iterator[Silent]:
    """Closing on the way out ends every connection it holds, so a sender stuck on one is let go."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.1)
    found = Silent(listener.getsockname()[1])
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            with found.lock:
                found.connections.append(time.time())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@dataclass
class Traps:
    """A TCP and a UDP port on 127.0.0.1 (the UDP one on the TCP one's number) that keep anything sent."""

    port: int
    tcp: list[bytes] = field(default_factory=list)  # one entry per connection: the bytes it sent
    udp: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def anything(self) -> list[bytes]:
        with self.lock:
            return [*self.tcp, *self.udp]


@contextmanager
def traps() -> Iterator[Traps]:
    """Listen on TCP and UDP at 127.0.0.1 (and TCP at ::1 when the machine has IPv6) on one port."""
    tcp = socket.create_server((HOST, 0))
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((HOST, port))
    sockets = [tcp, udp]
    try:
        tcp6 = socket.create_server(("::1", port), family=socket.AF_INET6)
        sockets.append(tcp6)
    except OSError:
        pass
    for sock in sockets:
        sock.settimeout(0.1)
    found = Traps(port)
    stop = threading.Event()

    def serve_tcp(sock: socket.socket) -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(0.5)
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            with found.lock:
                found.tcp.append(data or b"(connected)")
            conn.close()

    def serve_udp() -> None:
        while not stop.is_set():
            try:
                data, _ = udp.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            with found.lock:
                found.udp.append(data)

    threads = [threading.Thread(target=serve_tcp, args=(s,), daemon=True) for s in sockets if s is not udp]
    threads.append(threading.Thread(target=serve_udp, daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield found
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        for sock in sockets:
            sock.close()
