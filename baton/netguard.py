"""The outbound guard: a connection made on an owner's behalf never reaches the server's own network.

An owner chooses where Baton connects for them (an Apprise URL today; an RDAP server should
look-ups ever run on the server). Without a guard that choice reaches whatever the server can
reach: a cloud metadata service at 169.254.169.254, an admin port on 127.0.0.1, a database on
10.0.0.5. So every address a name resolves to is checked and the connection is refused when one
is loopback, link-local, private, unique-local, multicast, reserved, unspecified or otherwise not
public — IPv4 and IPv6, and IPv4 inside IPv6 (mapped, 6to4, NAT64) by the address it carries —
unless the operator allowed its range (``BATON_OUTBOUND_ALLOW``).

The check is made when the connection is made: ``Guard.connect`` resolves the name, checks every
address, and connects to an address it checked, so a name that resolved to a public address when
a channel was added and to 127.0.0.1 now (DNS rebinding) is refused. ``install`` puts the guard
around urllib3's connection creation (what requests, and so Apprise, use) and around requests'
transport (timeouts from settings, no proxy), and it acts only inside ``guarded(guard)``: in the
threads that send for owners, and in threads those start with a copy of their context. Elsewhere
— the SMTP relay, the database, a test's own HTTP client — nothing changes. Another HTTP stack
(httpx, for RDAP) would call ``Guard.connect`` from its own connection hook.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


class Refused(OSError):
    """A connection (or a URL) the guard will not allow; the message says which rule, never a URL.

    An ``OSError``, so an HTTP library reports it as the connection error it is rather than
    crashing; the sender learns of it from the ``Session`` that recorded it.
    """


def getaddrinfo(host: str, port: int | None) -> list[tuple[Any, ...]]:
    """The resolver the guard asks (TCP addresses of ``host``); tests replace it to make a name
    resolve as they need, the guard itself unchanged."""
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR ranges such as ``10.0.0.0/8`` or ``fd00::/8``; ValueError names the first bad one."""
    found = []
    for value in values:
        try:
            found.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"expected address ranges like 10.0.0.0/8 or fd00::/8, got {value!r}") from None
    return tuple(found)


def carried(address: Address) -> Address:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def kind_of(address: Address) -> str | None:
    """Why ``address`` is not a public one (``'loopback'``, ``'private'``, …), or None when it is.
    An IPv6 address that carries an IPv4 one is judged by the IPv4 address it reaches."""
    inner = carried(address)
    for name, test in (("unspecified", lambda a: a.is_unspecified), ("loopback", lambda a: a.is_loopback),
                       ("link-local", lambda a: a.is_link_local), ("multicast", lambda a: a.is_multicast),
                       ("unique-local", lambda a: a in _UNIQUE_LOCAL), ("private", lambda a: a.is_private),
                       ("reserved", lambda a: a.is_reserved), ("not public", lambda a: not a.is_global)):
        if test(inner):
            return name
    return None


@dataclass(frozen=True)
class Guard:
    """What may be reached, and for how long one may wait: ``allow`` ranges pass whatever their kind."""

    allow: tuple[Network, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 10.0

    def problem(self, address: Address) -> str | None:
        """Why the guard refuses ``address`` (``'loopback'``, …), or None when it may be used."""
        inner = carried(address)
        if any(a in net for net in self.allow for a in (address, inner) if a.version == net.version):
            return None
        return kind_of(address)

    def addresses(self, host: str, port: int | None) -> list[tuple[Any, ...]]:
        """Every address ``host`` resolves to, checked; Refused if any is refused (a name that mixes
        public and private addresses is refused whole, so no retry lands on the private one)."""
        host = host.strip("[]")
        try:
            found = getaddrinfo(host, port)
        except UnicodeError:
            raise socket.gaierror(f"cannot resolve a name with an empty or too long label: {host!r}") from None
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        for info in found:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            problem = self.problem(address)
            if problem is not None:
                said = f"{host} is" if literal == address else f"{host} resolves to {address}, which is"
                raise Refused(f"{said} {problem} (outbound connections reach public addresses only)")
        if not found:
            raise socket.gaierror(f"{host} resolves to no address")
        return found

    def check_host(self, host: str) -> None:
        """At the door (a URL being added): Refused when ``host`` resolves to a refused address.
        A name that does not resolve now passes: it is checked again at every connection."""
        with contextlib.suppress(socket.gaierror, UnicodeError, ValueError):
            self.addresses(host, None)

    def connect(self, address: tuple[str, int], timeout: object = None,
                source_address: tuple[str, int] | None = None,
                socket_options: Iterable[tuple[int, int, Any]] | None = None) -> socket.socket:
        """A TCP connection to a checked address of ``address`` (host, port), with the connect timeout
        from settings (or the caller's, if shorter) and the read timeout from settings set on it."""
        host, port = address
        wait = self.connect_timeout
        if isinstance(timeout, int | float) and 0 < timeout < wait:
            wait = float(timeout)
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in self.addresses(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(wait)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                sock.settimeout(self.read_timeout)  # a library that asks for none still gets ours
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        raise error or OSError(f"no address of {host} answered")

    def timeouts(self, asked: object) -> tuple[float, float]:
        """(connect, read) for an HTTP request: the caller's where shorter, never longer than ours."""
        connect, read = (asked if isinstance(asked, tuple) else (asked, asked)) if asked is not None else (None, None)
        return (min(connect, self.connect_timeout) if isinstance(connect, int | float) and connect > 0
                else self.connect_timeout,
                min(read, self.read_timeout) if isinstance(read, int | float) and read > 0 else self.read_timeout)


@dataclass
class Session:
    """One guarded stretch of work: the guard in force, and what it refused meanwhile."""

    guard: Guard
    refused: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self, address: tuple[str, int], timeout: object = None,
                source_address: tuple[str, int] | None = None,
                socket_options: Iterable[tuple[int, int, Any]] | None = None) -> socket.socket:
        try:
            return self.guard.connect(address, timeout, source_address, socket_options)
        except Refused as exc:
            with self._lock:
                self.refused.append(str(exc))
            raise


_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar("baton_netguard", default=None)


@contextlib.contextmanager
def guarded(guard: Guard) -> Iterator[Session]:
    """Within this block (and in threads started with a copy of its context) every connection made
    through urllib3 is checked by ``guard``; the session lists what was refused."""
    install()
    session = Session(guard)
    token = _current.set(session)
    try:
        yield session
    finally:
        _current.reset(token)


def current() -> Session | None:
    return _current.get()


_installed = threading.Lock()
_done: list[bool] = []


def install() -> None:
    """Put the guard around urllib3's ``create_connection`` and requests' ``HTTPAdapter.send``, once.

    Outside ``guarded`` both behave exactly as before. Inside, a connection goes to a checked
    address; a request gets the guard's timeouts (the caller's where shorter: a URL that asks for
    longer, or a library that sets none, still waits no longer) and no proxy from the environment,
    which would connect on our behalf where the guard cannot look.
    """
    with _installed:
        if _done:
            return
        import requests.adapters
        import urllib3.util.connection

        plain_connect = urllib3.util.connection.create_connection

        def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
            session = _current.get()
            if session is None:
                return plain_connect(address, *args, **kwargs)
            return session.connect(address, *args, **kwargs)

        plain_send = requests.adapters.HTTPAdapter.send

        def send(self: Any, request: Any, stream: bool = False, timeout: object = None, verify: Any = True,
                 cert: Any = None, proxies: Any = None) -> Any:
            session = _current.get()
            if session is not None:
                timeout, proxies = session.guard.timeouts(timeout), {}
            return plain_send(self, request, stream=stream, timeout=timeout,  # type: ignore[arg-type]
                              verify=verify, cert=cert, proxies=proxies)

        urllib3.util.connection.create_connection = create_connection
        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
        _done.append(True)
