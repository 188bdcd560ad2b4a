"""/metrics: Prometheus' text format, for loopback clients or a bearer token from the settings.

Who may read: a client on the loopback (the scraper beside Baton) that did not come through a
proxy (a request carrying X-Forwarded-For, Forwarded or X-Real-IP came from further away, even
when the proxy itself is on the loopback), or anyone showing ``BATON_METRICS_TOKEN`` as a bearer
token. Anyone else gets 404 when no token is set (the endpoint is not there for them) and 403
when one is set but was not shown. The figures come from the database (``services.metrics``).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from baton.services import metrics
from baton.services.switch import SwitchService
from baton.store.engine import reading

PROXIED = ("x-forwarded-for", "forwarded", "x-real-ip")


def refusal(request: Request, token: str) -> int | None:
    """The status refusing ``request`` (404 or 403), or None when it may read the metrics."""
    given = request.headers.get("authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return None
    if _loopback(request.client.host if request.client else "") and not any(h in request.headers for h in PROXIED):
        return None
    return 403 if token else 404


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SnapshotCollector(Collector):
    """The figures of one snapshot as Prometheus metric families."""

    def __init__(self, snap: metrics.Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        s = self.snap
        yield GaugeMetricFamily("baton_switches_due", "Switches whose next due moment has passed and is not yet "
                                "handled (the worker's backlog).", value=s.due_switches)
        yield GaugeMetricFamily("baton_detection_lag_seconds", "Seconds since the oldest due moment not yet "
                                "handled; 0 when nothing is due.", value=s.detection_lag)
        by_status = GaugeMetricFamily("baton_switches", "Switches by status.", labels=["status"])
        for status, n in sorted(s.switches.items()):
            by_status.add_metric([status], n)
        yield by_status
        families = {name: GaugeMetricFamily(f"baton_outbox_{name}", about, labels=["channel"]) for name, about in (
            ("waiting", "Messages waiting to be sent (not yet sent, not given up)."),
            ("oldest_age_seconds", "Seconds since the oldest waiting message was written; 0 when none waits."),
            ("due", "Waiting messages due for an attempt now."),
            ("retrying", "Waiting messages that failed at least one attempt (delivery failures being retried)."),
            ("given_up", "Messages given up after their last attempt (delivery failures for good)."),
            ("held", "Waiting messages of a fire or stage held until the switch's witnesses hear it (not due)."),
            ("superseded", "Held messages not sent: a witness ran their stage while it held the switch."))}
        for channel, queue in sorted(s.queues.items()):
            for name, value in (("waiting", queue.waiting), ("oldest_age_seconds", queue.oldest_age),
                                ("due", queue.due), ("retrying", queue.retrying), ("given_up", queue.given_up),
                                ("held", queue.held), ("superseded", queue.superseded)):
                families[name].add_metric([channel], value)
        yield from families.values()
        yield CounterMetricFamily("baton_checkins", "Check-ins recorded (every owner, every way).", value=s.checkins)
        released = CounterMetricFamily("baton_releases", "Releases recorded, real and drills.", labels=["drill"])
        for drill, n in sorted(s.releases.items()):
            released.add_metric([str(drill).lower()], n)
        yield released
        yield GaugeMetricFamily("baton_workers_running", "Workers whose heartbeat is fresher than "
                                "BATON_HEARTBEAT_STALE_SECONDS.", value=s.workers_running)
        yield GaugeMetricFamily("baton_worker_heartbeat_age_seconds", "Seconds since the newest worker heartbeat; "
                                "+Inf when no worker ever ran.",
                                value=float("inf") if s.heartbeat_age is None else s.heartbeat_age)


def exposition(snap: metrics.Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap))
    return generate_latest(registry)


def install(app: FastAPI, service: SwitchService) -> None:
    settings = service.settings

    def scrape() -> bytes:
        with reading(service.engine) as conn:
            return exposition(metrics.snapshot(conn, service.clock.now(), settings.heartbeat_stale()))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        refused = refusal(request, settings.metrics_token.get_secret_value())
        if refused == 404:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if refused == 403:
            return JSONResponse({"detail": "the metrics need the bearer token in BATON_METRICS_TOKEN "
                                           "(or a request from the loopback)"}, status_code=403)
        try:
            body = await run_in_threadpool(scrape)
        except SQLAlchemyError as exc:
            return Response(f"# the database cannot be reached ({type(exc).__name__})\n", status_code=503,
                            media_type="text/plain; charset=utf-8")
        return Response(body, media_type=CONTENT_TYPE_LATEST)
