"""Deployment settings, from ``BATON_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from handover.rules import TransferRules
from handover.transition import MinimumTerms

_RULES = TransferRules()  # ICANN's current values
_TERMS = MinimumTerms()


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "baton"


class Settings(BaseSettings):
    """Everything a deployment can set; the defaults run on one machine with SQLite."""

    # A refused value is never echoed: settings hold passwords, the ping URL's check and the metrics token.
    model_config = SettingsConfigDict(env_prefix="BATON_", env_file=".env", extra="ignore", hide_input_in_errors=True)

    data_dir: Path = default_data_dir()
    key_file: Path | None = None  # the deployment's secret key, outside the database; default data_dir/deployment.key
    database_url: str = ""  # empty: SQLite file in data_dir
    base_url: str = ""  # where links in messages point; default http://{host}:{port}
    host: str = "127.0.0.1"
    port: int = 8600

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout: float = 20.0
    mail_from: str = "Baton <baton@localhost>"

    sweep_seconds: float = 30.0  # safety sweep, beside the wake at the next due moment
    batch_size: int = 200
    # Due switches one worker claims and records together at most (one transaction, bulk writes; SKIP LOCKED on
    # PostgreSQL); a run's batches grow to it from 50 (``jobs.catchup``).
    wake_batch: Annotated[int, Field(ge=1)] = 500
    claim_seconds: float = 120.0  # a claimed message is retried by others after this lease
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    max_attempts: int = 200
    link_ttl_days: int = 14
    token_failures_per_minute: int = 10
    signin_failures_per_minute: int = 10  # web sign-in attempts per address
    signin_concurrency: int = 2  # password hashes (argon2id, 64 MiB each) computed at once
    signin_failures_per_account: int = 5  # failed web sign-ins per owner address, per 15 minutes
    link_posts_per_minute: int = 20  # actions on one link (a key-check code guessed, a button pressed)
    session_idle_minutes: int = 120  # a web session ends after this long without a click
    session_hours: int = 12  # and after this long in any case
    # A change that could hasten a release waits this long (never past the switch's deadline).
    cooling_off_hours: float = 72.0
    max_compartment_bytes: int = 2 * 1024**3
    # Request bodies and blobs
    max_body_bytes: int = 1024**2  # a form or JSON body (the vault upload and register imports have their own)
    max_import_bytes: int = 64 * 1024**2  # a register import (CSV files, a WHMCS export, RDAP observations)
    blob_retention_days: float = 7.0  # a compartment file no row refers to is deleted once this old
    key_stale_days: int = 365  # a key proven longer ago than this shows as stale
    package_link_days: int = 60  # how long a holder's download link works
    download_uses: int = 3  # how many times it works within that time (a broken download can be tried again)
    # After a release a holder whose download link is spent or expired answers a sealed key check for a new one.
    reissue_check_hours: int = 24  # how long such a key check can be answered
    reissue_checks_per_day: int = 5  # key checks one holder may start in 24 hours (each takes 5 wrong codes)
    notice_link_days: int = 180  # how long a customer's notice page works

    # Transfer rules (the policy is under revision, so they are settings); defaults: handover.rules.
    creation_lock_days: int = _RULES.creation_lock_days
    transfer_lock_days: int = _RULES.transfer_lock_days
    owner_change_lock_days: int = _RULES.owner_change_lock_days
    auto_renew_grace_days: int = _RULES.auto_renew_grace_days
    redemption_days: int = _RULES.redemption_days
    pending_delete_days: int = _RULES.pending_delete_days
    auth_code_days: int = _RULES.auth_code_days

    # The shortest transition a handover profile may promise customers (handover.transition: why).
    min_act_within_days: Annotated[int, Field(ge=0)] = _TERMS.act_within_days
    min_grace_days: Annotated[int, Field(ge=0)] = _TERMS.grace_days
    # Unused prepaid service is counted from the day the service is suspended (what was not served) or
    # from the notice's date (the customer may leave at once); handover.notices.
    refund_from: Literal["suspension", "notice"] = "suspension"

    rdap_bootstrap_url: str = "https://data.iana.org/rdap/dns.json"
    rdap_url: str = ""  # a single RDAP server for every query (private or test servers)
    rdap_timeout: float = 10.0

    # Outbound: delivery pools, timeouts and the guard
    email_senders: Annotated[int, Field(ge=1)] = 4  # SMTP connections (sender threads) at once, per worker
    send_batch: Annotated[int, Field(ge=1)] = 20  # e-mails one sender takes at a time over its connection
    apprise_senders: Annotated[int, Field(ge=1)] = 4  # Apprise alerts in flight at once, per worker
    sends_per_owner: Annotated[int, Field(ge=1)] = 1  # of each pool, how many one owner's messages may hold at once
    outbound_connect_timeout: Annotated[float, Field(gt=0)] = 5.0  # seconds, every connection made for an owner
    outbound_read_timeout: Annotated[float, Field(gt=0)] = 10.0  # seconds without an answer; no URL can raise either
    channel_backoff_base_seconds: float = 30.0  # an Apprise URL that fails waits this, doubling per failure,
    channel_backoff_max_seconds: float = 3600.0  # up to this (in the worker's memory, per URL)
    # Apprise services an owner may add (HTTP(S) push, chat and webhooks; comma-separated in the environment).
    apprise_schemes: Annotated[tuple[str, ...], NoDecode] = (
        "apprise", "apprises", "discord", "form", "forms", "gchat", "gotify", "gotifys", "hassio", "hassios",
        "json", "jsons", "matrix", "matrixs", "mmost", "mmosts", "ncloud", "nclouds", "nctalk", "nctalks",
        "ntfy", "ntfys", "opsgenie", "pagerduty", "pbul", "pover", "rocket", "rockets", "signal", "signals",
        "slack", "tgram", "webex", "workflow", "workflows", "wxteams", "xml", "xmls", "zulip")
    outbound_allow: Annotated[tuple[str, ...], NoDecode] = ()  # CIDRs the guard lets through, e.g. 10.8.0.0/16

    # Operations: processes, the worker's heartbeat and metrics (README: production layout)
    # Addresses or ranges whose X-Forwarded-For/-Proto are believed (the reverse proxy); none by default.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # /healthz answers 503 when the newest worker heartbeat is older than this; default 3 sweeps.
    heartbeat_stale_seconds: Annotated[float | None, Field(gt=0)] = None
    ping_url: SecretStr = SecretStr("")  # GET after every sweep (a healthchecks-style check); may hold a secret
    ping_timeout: Annotated[float, Field(gt=0)] = 5.0  # seconds to connect, and again to read the answer
    # Witnesses (DESIGN "Surviving our own server"): how often a primary sends each witness its heartbeat and
    # changes, how often a witness looks at the switches it watches, and the free disk below which a witness
    # refuses new versions (and says so).
    witness_heartbeat_seconds: Annotated[float, Field(gt=0)] = 60.0
    witness_watch_seconds: Annotated[float, Field(gt=0)] = 30.0
    witness_min_free_bytes: Annotated[int, Field(ge=0)] = 64 * 1024**2
    witness_timeout: Annotated[float, Field(gt=0)] = 10.0  # seconds to connect to a witness, and to read its answer
    metrics_token: SecretStr = SecretStr("")  # /metrics with this bearer token from anywhere; else loopback only

    @field_validator("apprise_schemes", "outbound_allow", "trusted_proxies", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        """A comma- or space-separated list, as an environment variable gives it."""
        return tuple(value.replace(",", " ").split()) if isinstance(value, str) else value

    @field_validator("outbound_allow")
    @classmethod
    def _ranges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from baton.netguard import parse_networks
        return tuple(str(net) for net in parse_networks(value))

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from baton.netguard import parse_networks
        parse_networks(value)  # uvicorn takes the same forms: addresses and CIDR ranges
        return value

    @field_validator("ping_url")
    @classmethod
    def _ping_url(cls, value: SecretStr) -> SecretStr:
        from urllib.parse import urlsplit
        url = value.get_secret_value().strip()
        parts = urlsplit(url)
        if url and (parts.scheme not in ("http", "https") or not parts.hostname):
            shown = f"{parts.scheme}://…" if parts.scheme else "a value without a scheme"
            raise ValueError(f"expected an http:// or https:// URL, got {shown}")
        return SecretStr(url)

    @field_validator("apprise_schemes")
    @classmethod
    def _schemes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(scheme.lower().removesuffix("://") for scheme in value)

    _base_url_derived: bool = PrivateAttr(False)  # no BATON_BASE_URL given: it follows where we listen

    @model_validator(mode="after")
    def _public_url(self) -> Settings:
        self._base_url_derived = not self.base_url.strip()
        self.base_url = (self.base_url.strip() or local_url(self.host, self.port)).rstrip("/")
        return self

    @property
    def base_url_given(self) -> bool:
        """Whether ``BATON_BASE_URL`` named the public address (else it is where the server listens)."""
        return not self._base_url_derived

    def listening(self, host: str | None, port: int | None) -> Settings:
        """These settings for a server on ``host``/``port`` (``baton serve --host --port``): the links in
        messages follow them unless ``BATON_BASE_URL`` was set, which names the public address."""
        host, port = host or self.host, port or self.port
        changed = self.model_copy(update={"host": host, "port": port})
        if self._base_url_derived:
            changed.base_url = local_url(host, port)
        changed._base_url_derived = self._base_url_derived
        return changed

    def transfer_rules(self) -> TransferRules:
        return TransferRules(self.creation_lock_days, self.transfer_lock_days, self.owner_change_lock_days,
                             self.auto_renew_grace_days, self.redemption_days, self.pending_delete_days,
                             self.auth_code_days)

    def minimum_terms(self) -> MinimumTerms:
        return MinimumTerms(self.min_act_within_days, self.min_grace_days)

    def heartbeat_stale(self) -> float:
        """Seconds after which the newest worker heartbeat means no worker is running."""
        return self.heartbeat_stale_seconds or 3 * self.sweep_seconds

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'baton.db'}"


def local_url(host: str, port: int) -> str:
    """The address of a server listening on ``host``: one on every interface is reached at the loopback."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
