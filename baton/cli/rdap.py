"""The RDAP adapter: asks registries what they publish about the register's domains.

``RdapClient.lookup_all`` finds each domain's RDAP service through the IANA bootstrap
(RFC 9224, cached for a day in ``cache_dir`` and in memory) or sends every query to
``base_url`` (a private or test server), asks a bounded number of domains at once, and
returns one ``Result`` per name, in order. A domain that fails carries a short error and
never stops the others. Answers are read by ``handover.rdap``; nothing here decides what
differs from the register.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from handover.errors import HandoverError
from handover.names import DomainName
from handover.rdap import Bootstrap, Observed, parse_bootstrap, parse_domain

BOOTSTRAP_URL = "https://data.iana.org/rdap/dns.json"
BOOTSTRAP_MAX_AGE = timedelta(days=1)
CACHE_FILE = "rdap-bootstrap-dns.json"
RDAP_MEDIA_TYPE = "application/rdap+json"
MAX_REDIRECTS = 3
MAX_RETRY_AFTER = 5.0  # seconds: a 429 asking for a longer wait is reported, not waited for
DEFAULT_RETRY_AFTER = 1.0  # seconds, when a 429 does not say how long to wait
MAX_ANSWER = 2 * 1024 * 1024  # bytes: RDAP answers are a few kilobytes, the bootstrap some tens


@dataclass(frozen=True)
class Result:
    """One domain's lookup: what the registry published, or why that is not known."""

    domain: DomainName
    observed: Observed | None
    error: str | None


class LookupFailed(Exception):
    """A lookup that ended with a message for the owner (already short and readable)."""


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    host: str
    content_type: str


@dataclass(frozen=True)
class _Cached:
    fetched: datetime
    bootstrap: Bootstrap

    def fresh(self, now: datetime) -> bool:
        return self.fetched <= now < self.fetched + BOOTSTRAP_MAX_AGE


class RdapClient:
    """Looks domains up over RDAP; safe to reuse, holds no connection between calls."""

    def __init__(self, bootstrap_url: str = BOOTSTRAP_URL, base_url: str | None = None, timeout: float = 10,
                 max_workers: int = 8, cache_dir: Path | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.bootstrap_url = bootstrap_url
        self.base_url = base_url
        self.timeout = timeout
        self.max_workers = max_workers
        self.cache_dir = cache_dir
        self.sleep = sleep
        self._memory: _Cached | None = None
        self._lock = threading.Lock()

    # -- the public calls ---------------------------------------------------------------------------------------
    def lookup_all(self, names: list[DomainName], now: datetime,
                   on_result: Callable[[], None] | None = None) -> list[Result]:
        """One ``Result`` per name, in the order given; ``now`` dates the bootstrap cache and Retry-After dates.
        ``on_result`` is called (from a worker thread) as each lookup ends, for a progress bar."""
        if not names:
            return []
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        done = on_result or (lambda: None)
        with self._http() as http:
            try:
                bootstrap = None if self.base_url else self._bootstrap(http, now)
            except LookupFailed as exc:
                return [Result(name, None, str(exc)) for name in names]

            def one(name: DomainName) -> Result:
                try:
                    return self._lookup(http, bootstrap, name, now)
                finally:
                    done()

            workers = min(self.max_workers, len(names))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rdap") as pool:
                return list(pool.map(one, names))

    def lookup(self, name: DomainName, now: datetime) -> Result:
        return self.lookup_all([name], now)[0]

    # -- one domain ---------------------------------------------------------------------------------------------
    def _lookup(self, http: httpx.Client, bootstrap: Bootstrap | None, name: DomainName, now: datetime) -> Result:
        try:
            url = self._domain_url(bootstrap, name)
            return Result(name, parse_domain(self._domain_json(http, url, now), name), None)
        except (LookupFailed, HandoverError) as exc:
            return Result(name, None, str(exc))

    def _domain_url(self, bootstrap: Bootstrap | None, name: DomainName) -> str:
        base = self.base_url if bootstrap is None else bootstrap.url_for(name)
        if base is None:
            raise LookupFailed(f"no RDAP service is known for .{name.unicode.rsplit('.', 1)[-1]}")
        return f"{base.rstrip('/')}/domain/{name.ascii}"

    def _domain_json(self, http: httpx.Client, url: str, now: datetime) -> Any:
        answer = self._get(http, url, RDAP_MEDIA_TYPE)
        if answer.status == 429:
            delay = retry_after(answer.headers.get("retry-after"), now)
            if delay > MAX_RETRY_AFTER:
                raise LookupFailed(f"rate limited by {answer.host} (RDAP 429, retry after {delay:.0f} s)")
            self.sleep(delay)
            answer = self._get(http, url, RDAP_MEDIA_TYPE)
            if answer.status == 429:
                raise LookupFailed(f"rate limited by {answer.host} (RDAP 429, again after waiting {delay:g} s)")
        if answer.status == 404:
            raise LookupFailed("not found at the registry (RDAP 404)")
        if answer.status != 200:
            raise LookupFailed(f"unexpected answer from {answer.host}: HTTP {answer.status}")
        return _json(answer)

    # -- HTTP ---------------------------------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, follow_redirects=True, max_redirects=MAX_REDIRECTS,
                            headers={"User-Agent": "baton-rdap"})

    def _get(self, http: httpx.Client, url: str, accept: str) -> _Answer:
        try:
            with http.stream("GET", url, headers={"Accept": accept}) as response:
                return _Answer(response.status_code, response.headers, _read_capped(response), response.url.host,
                               response.headers.get("content-type", ""))
        except httpx.TooManyRedirects as exc:
            raise LookupFailed(f"more than {MAX_REDIRECTS} redirects from {_host_of(exc, url)}") from None
        except httpx.TransportError as exc:
            raise LookupFailed(f"cannot reach {_host_of(exc, url)}: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise LookupFailed(f"bad answer from {_host_of(exc, url)}: {type(exc).__name__}") from None
        except httpx.InvalidURL:
            raise LookupFailed(f"cannot ask {url!r}: not a valid URL") from None

    # -- the bootstrap ------------------------------------------------------------------------------------------
    def _bootstrap(self, http: httpx.Client, now: datetime) -> Bootstrap:
        """The bootstrap: cached if fresh, else fetched; a stale copy when fetching fails."""
        with self._lock:
            if self._memory and self._memory.fresh(now):
                return self._memory.bootstrap
            saved = self._read_cache()
            if saved and saved.fresh(now):
                self._memory = saved
                return saved.bootstrap
            try:
                self._memory = self._fetch_bootstrap(http, now)
            except (LookupFailed, HandoverError) as exc:
                stale = max((c for c in (self._memory, saved) if c), key=lambda c: c.fetched, default=None)
                if stale:
                    return stale.bootstrap
                raise LookupFailed(f"cannot load the RDAP bootstrap: {exc}") from None
            return self._memory.bootstrap

    def _fetch_bootstrap(self, http: httpx.Client, now: datetime) -> _Cached:
        answer = self._get(http, self.bootstrap_url, "application/json")
        if answer.status != 200:
            raise LookupFailed(f"unexpected answer from {answer.host}: HTTP {answer.status}")
        data = _json(answer)
        fetched = _Cached(now, parse_bootstrap(data))
        self._write_cache(now, data)
        return fetched

    def _cache_path(self) -> Path | None:
        return self.cache_dir / CACHE_FILE if self.cache_dir else None

    def _read_cache(self) -> _Cached | None:
        path = self._cache_path()
        if path is None or not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("url") != self.bootstrap_url:
                return None
            fetched = datetime.fromisoformat(saved["fetched"])
            fetched = fetched if fetched.tzinfo else fetched.replace(tzinfo=UTC)
            return _Cached(fetched, parse_bootstrap(saved["data"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, HandoverError):
            return None  # a damaged cache is fetched again

    def _write_cache(self, now: datetime, data: Any) -> None:
        path = self._cache_path()
        if path is None:
            return
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps({"url": self.bootstrap_url, "fetched": now.isoformat(), "data": data}),
                                 encoding="utf-8")
            os.replace(temporary, path)
        except OSError:  # the cache only saves a download: the lookups go on without it
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


def retry_after(value: str | None, now: datetime) -> float:
    """Seconds to wait by a Retry-After header (seconds or an HTTP date); a missing or unreadable one is 1 s."""
    if value is None or not value.strip():
        return DEFAULT_RETRY_AFTER
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER:
            raise LookupFailed(f"the answer from {response.url.host} is larger than {MAX_ANSWER // 1024} KiB")
    return bytes(body)


def _json(answer: _Answer) -> Any:
    try:
        return json.loads(answer.body)
    except ValueError:
        got = answer.content_type.split(";")[0].strip() or "no content type"
        raise HandoverError(f"expected a JSON answer from {answer.host}, got {got} that is not JSON") from None


def _host_of(exc: httpx.HTTPError, url: str) -> str:
    """The host the failed request went to (after redirects, when known)."""
    try:
        return exc.request.url.host
    except RuntimeError:
        try:
            return httpx.URL(url).host
        except httpx.InvalidURL:
            return url

