"""Talking to another deployment (a witness, or a sibling witness): a POST of a signed message and the key
it says it signs with, over the outbound guard (``BATON_OUTBOUND_ALLOW``), each call bounded by
``BATON_WITNESS_TIMEOUT`` to connect and again for the answer. An address is only ever shown as host:port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from baton import netguard


class WitnessUnreachable(Exception):
    """A witness that did not answer, or answered something that is not a signed answer."""


def post(settings: Any, url: str, data: dict[str, Any]) -> tuple[int, Any]:
    """POST a signed message to a witness: (HTTP status, its JSON answer); WitnessUnreachable otherwise."""
    import requests
    guard = netguard.Guard(netguard.parse_networks(settings.outbound_allow), settings.witness_timeout,
                           settings.witness_timeout)
    with netguard.guarded(guard) as session:
        try:
            answer = requests.post(url, json=data, timeout=(settings.witness_timeout, settings.witness_timeout),
                                   allow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - said in words on the link; the URL may not be logged raw
            why = session.refused[0] if session.refused else type(exc).__name__
            raise WitnessUnreachable(f"the witness at {host(url)} did not answer ({why})") from None
    try:
        return answer.status_code, answer.json()
    except ValueError:
        raise WitnessUnreachable(f"the witness at {host(url)} answered HTTP {answer.status_code} without "
                                 "JSON") from None


def fetch_key(settings: Any, url: str) -> str:
    """The witness's public key, as it says it (for the owner to compare)."""
    import requests
    guard = netguard.Guard(netguard.parse_networks(settings.outbound_allow), settings.witness_timeout,
                           settings.witness_timeout)
    with netguard.guarded(guard) as session:
        try:
            answer = requests.get(f"{url.rstrip('/')}/witness/key", allow_redirects=False,
                                  timeout=(settings.witness_timeout, settings.witness_timeout))
            key = str(answer.json()["public_key"])
        except Exception as exc:  # noqa: BLE001
            why = session.refused[0] if session.refused else type(exc).__name__
            raise WitnessUnreachable(f"expected a Baton witness at {host(url)}, but it did not answer as one "
                                     f"({why})") from None
    return key


def host(url: str) -> str:
    """Host and port of a witness's address, for messages and logs (never a user or password in it)."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.hostname}{port}" if parts.hostname else url.split("@")[-1][:60]
