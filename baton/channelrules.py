"""Which Apprise URLs an owner may use, and what of one may be shown.

An owner writes a channel's URL and the service sends to it, so the URL is checked twice: when it
is added (a 422 naming the rule, nothing saved) and before every send (a URL stored before a rule
existed, or written around the API, is refused and never sent). The rules:

- its scheme is one the operator allows (``BATON_APPRISE_SCHEMES``: by default push, chat and
  webhook services over HTTP(S); nothing that opens raw sockets, writes local files or sends mail);
- no parameter sets the request's method, headers, query, payload, timeouts or retries (Apprise's
  ``+name``, ``-name`` and ``:name`` keys, ``method``, ``rto``, ``cto``, ``timeout``, ``retry``,
  ``wait``): with those a URL became a request of the owner's design, held as long as they liked;
- the host it names, for the services that take one, does not resolve to an address the guard
  refuses (``baton.netguard``). That is checked when the URL is added, to say so at once; at send
  time the guard checks every connection itself, whatever the name resolves to by then.

A URL may hold a secret (a webhook token, a password): messages here name a scheme, a parameter's
key or a host, never the URL.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from baton.netguard import Guard, Refused

REFUSED_KEYS = {"method": "the HTTP method", "rto": "a read timeout", "cto": "a connect timeout",
                "timeout": "a timeout", "retry": "retries", "wait": "the wait between retries"}
PREFIXES = {"qsd+": ("+", "an HTTP header"), "qsd-": ("-", "a query parameter"), "qsd:": (":", "a payload field")}


class ChannelRefused(ValueError):
    """A URL that breaks a rule; ``rule`` is ``apprise``, ``scheme``, ``parameter`` or ``address``."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


@dataclass(frozen=True)
class Described:
    """What may be shown of a channel: its scheme, and the server it names (None when it names none,
    or when what stands in the host's place is a token)."""

    scheme: str
    host: str | None


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].strip().lower() if "://" in url else ""


def _instance(url: str) -> Any:
    import apprise

    made = apprise.Apprise.instantiate(url.strip())
    if made is None:
        shown = scheme_of(url) or url.strip()[:12]
        raise ChannelRefused("apprise", f"expected an Apprise URL such as ntfy://topic or json://host/path, "
                                        f"got one starting {shown!r}")
    return made


def _host(instance: Any) -> tuple[str, bool]:
    """What stands in the URL's host place, and whether the service takes it as the server to reach
    (``json://host/…``) rather than as a token or a topic (``tgram://bot-token/…``, ``ntfy://topic``)."""
    host = str(getattr(instance, "host", None) or "").strip()
    return host, "host" in (getattr(instance, "template_tokens", None) or {})


def _looks_like_a_server(host: str) -> bool:
    """An IP address, a name with a dot, or localhost: what no token or topic looks like."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return "." in host or host.lower() == "localhost"


def _parameters(url: str) -> None:
    from apprise.utils.parse import parse_url

    parsed = parse_url(url.strip(), default_schema="unknown", verify_host=False) or {}  # type: ignore[no-untyped-call]
    for key in parsed.get("qsd") or {}:
        if key in REFUSED_KEYS:
            raise ChannelRefused("parameter", f"expected no parameter that sets {REFUSED_KEYS[key]}, got {key!r}")
    for group, (prefix, what) in PREFIXES.items():
        for key in parsed.get(group) or {}:
            raise ChannelRefused("parameter", f"expected no parameter that sets {what}, got {prefix + key!r}")


def check(url: str, schemes: tuple[str, ...], guard: Guard | None) -> Described:
    """What the URL names, if it keeps every rule; ChannelRefused naming the rule otherwise.

    ``guard``: resolve the host it names and refuse a refused address (when the URL is added); None
    at send time, where the guard checks each connection as it is made.
    """
    instance = _instance(url)
    scheme = scheme_of(url)
    if scheme not in schemes:
        raise ChannelRefused("scheme", f"expected a scheme the operator allows ({', '.join(sorted(schemes))}), "
                                       f"got {scheme!r}")
    _parameters(url)
    host, is_server = _host(instance)
    # A service that takes the host as its server is checked whatever the host looks like (2130706433 is
    # 127.0.0.1 too); for the others, whatever looks like a server (a Zulip organisation's own host).
    if guard is not None and host and (is_server or _looks_like_a_server(host)):
        try:
            guard.check_host(host)
        except Refused as exc:
            raise ChannelRefused("address", str(exc)) from None
    return Described(scheme, host if is_server and _looks_like_a_server(host) else None)


def describe(url: str) -> Described:
    """Scheme and server for a listing; never raises (a URL Apprise no longer reads shows its scheme)."""
    try:
        host, is_server = _host(_instance(url))
        return Described(scheme_of(url), host if is_server and _looks_like_a_server(host) else None)
    except Exception:  # noqa: BLE001 - a listing must show every channel, readable or not
        return Described(scheme_of(url), None)
