"""The HTTP face: the JSON API for the owner (bearer token) and the one-time link pages.

Link pages follow one rule: a GET only shows, a POST acts (mail scanners and chat
previews open links). Errors map to status codes in one place (``baton.errors``).
"""


import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from baton import __version__
from baton.errors import BatonError, LinkError, Unauthorized, http_status
from baton.links import Purpose
from baton.messages import render_page
from baton.ratelimit import RateLimiter
from baton.service import SwitchService
from baton.worker import Worker
from switch import SwitchError, iso

_bearer = HTTPBearer(auto_error=False)


class SwitchStatus(BaseModel):
    """The switch as the owner sees it; ``*_local`` fields are in the owner's time zone."""

    status: Literal["armed", "grace", "confirming", "fired", "released", "paused"]
    timezone: str
    deadline: str | None
    deadline_local: str | None
    next_reminder: str | None
    next_reminder_local: str | None
    fires_at: str | None
    fires_at_local: str | None
    paused_until: str | None
    paused_until_local: str | None
    last_checkin: str | None
    last_checkin_local: str | None
    pending_stages: list[str]
    release_request: dict[str, str] | None


class PauseRequest(BaseModel):
    until: datetime = Field(description="When the pause ends (ISO 8601 with a time zone).")


class ChannelRequest(BaseModel):
    url: str = Field(description="An Apprise URL, e.g. ntfy://topic or json://host/path.")
    label: str = ""


class RequesterRequest(BaseModel):
    name: str
    email: str


class Problem(BaseModel):
    detail: str


class TimelineEntry(BaseModel):
    at: str
    recorded_at: str
    event: str
    stage: str | None
    who: str | None
    reason: str


class AuditResult(BaseModel):
    entries: int
    ok: bool
    problem: str | None


def create_app(service: SwitchService, worker: Worker | None = None) -> FastAPI:
    """The application; with a worker, it runs beside the API for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(title="Baton", version=__version__, lifespan=lifespan,
                  description="The owner's API of Baton's dead-man's switch, and its link pages.")
    failures = RateLimiter(service.settings.token_failures_per_minute)
    link_failures = RateLimiter(service.settings.token_failures_per_minute * 3)
    errors: dict[int | str, dict[str, Any]] = {401: {"model": Problem}, 422: {"model": Problem},
                                               429: {"model": Problem}}

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        if first.get("type") == "json_invalid":
            ctx = first.get("ctx", {})
            message = f"body: expected valid JSON, {ctx.get('error', 'could not parse it')}"
        else:
            message = f"{where}: {first.get('msg', 'invalid')}"
            if "input" in first and first.get("type") != "missing":
                message += f", got {json.dumps(first['input'], default=str)[:80]}"
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(BatonError)
    async def _baton_error(_request: Request, exc: BatonError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(SwitchError)
    async def _switch_error(_request: Request, exc: SwitchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=http_status(exc))

    def owner(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> int:
        address = request.client.host if request.client else "?"
        if failures.blocked(address):
            raise _TooMany()
        if credentials is None:
            raise Unauthorized("expected an Authorization: Bearer <token> header, got none")
        owner_id = service.authenticate(credentials.credentials)
        if owner_id is None:
            failures.hit(address)
            raise Unauthorized("the token is not valid")
        return owner_id

    Owner = Annotated[int, Depends(owner)]

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/checkin", response_model=SwitchStatus, responses=errors, tags=["switch"])
    def checkin(owner_id: Owner) -> dict[str, Any]:
        """Check in: cancels every stage not yet run and re-arms the switch."""
        return service.check_in(owner_id, via="api").to_dict()

    @app.get("/api/status", response_model=SwitchStatus, responses=errors, tags=["switch"])
    def status(owner_id: Owner) -> dict[str, Any]:
        """State, deadline and next reminder, in UTC and in the owner's time zone."""
        return service.status(owner_id).to_dict()

    @app.get("/api/policy", responses=errors, tags=["switch"])
    def get_policy(owner_id: Owner) -> dict[str, Any]:
        """The switch policy."""
        return service.get_policy(owner_id)

    @app.put("/api/policy", response_model=SwitchStatus, responses=errors, tags=["switch"])
    def put_policy(owner_id: Owner, policy: dict[str, Any]) -> dict[str, Any]:
        """Replace the policy (validated; errors name the field). Counts as a check-in."""
        return service.set_policy(owner_id, policy).to_dict()

    @app.post("/api/pause", response_model=SwitchStatus, responses={**errors, 409: {"model": Problem}},
              tags=["switch"])
    def pause(owner_id: Owner, body: PauseRequest) -> dict[str, Any]:
        """Pause until a moment, at most the policy's max_pause away. Told to nobody else."""
        if body.until.tzinfo is None:
            from baton.errors import BadRequest
            raise BadRequest(f"until: expected a moment with a time zone, got {body.until.isoformat()}")
        return service.pause(owner_id, body.until).to_dict()

    @app.get("/api/timeline", response_model=list[TimelineEntry], responses=errors, tags=["switch"])
    def timeline(owner_id: Owner, limit: int = 100) -> list[dict[str, Any]]:
        """The recorded transitions, oldest first: due moment, recorded moment, reason."""
        return service.timeline(owner_id, max(1, min(limit, 1000)))

    @app.get("/api/audit/verify", response_model=AuditResult, responses=errors, tags=["audit"])
    def audit_verify(owner_id: Owner) -> dict[str, Any]:
        """Verify the owner's audit chain; names the first broken entry."""
        from baton import auditlog
        with service.engine.connect() as conn:
            count, problem = auditlog.verify(conn, service.signer, owner_id)
        return {"entries": count, "ok": problem is None, "problem": str(problem) if problem else None}

    @app.post("/api/channels", status_code=201, responses=errors, tags=["alerts"])
    def add_channel(owner_id: Owner, body: ChannelRequest) -> dict[str, int]:
        """Add an Apprise URL for the owner's alerts."""
        return {"id": service.add_channel(owner_id, body.url, body.label)}

    @app.post("/api/requesters", status_code=201, responses=errors, tags=["switch"])
    def add_requester(owner_id: Owner, body: RequesterRequest) -> dict[str, str]:
        """A standing link with which a holder may ask for release; shown once."""
        return {"url": service.request_link(owner_id, body.name, body.email)}

    # -- link pages ---------------------------------------------------------------------------
    def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render_page(name, **context), status_code=status_code,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                     "X-Robots-Tag": "noindex"})

    def link_guard(request: Request) -> None:
        address = request.client.host if request.client else "?"
        if link_failures.blocked(address):
            raise _TooMany()

    def invalid(request: Request, exc: LinkError) -> HTMLResponse:
        if exc.why == "unknown":
            link_failures.hit(request.client.host if request.client else "?")
        return page("link_invalid", status_code=410 if exc.why != "unknown" else 404, message=str(exc),
                    why=exc.why)

    @app.get("/l/{token}", response_class=HTMLResponse, include_in_schema=False)
    def checkin_page(request: Request, token: str) -> HTMLResponse:
        link_guard(request)
        try:
            _link, view, email = service.open_link(token, Purpose.CHECKIN)
        except LinkError as exc:
            return invalid(request, exc)
        return page("checkin", view=view.to_dict(), email=email)

    @app.post("/l/{token}", response_class=HTMLResponse, include_in_schema=False)
    def checkin_by_link(request: Request, token: str) -> HTMLResponse:
        link_guard(request)
        try:
            view = service.check_in_by_link(token)
        except LinkError as exc:
            return invalid(request, exc)
        return page("checkin_done", view=view.to_dict())

    @app.get("/v/{token}", response_class=HTMLResponse, include_in_schema=False)
    def verify_page(request: Request, token: str) -> HTMLResponse:
        link_guard(request)
        try:
            link, _view, email = service.open_link(token, Purpose.VERIFY)
        except LinkError as exc:
            return invalid(request, exc)
        return page("verify", who=link.who, email=email,
                    closes=iso(link.expires_at) if link.expires_at else None)

    @app.post("/v/{token}", response_class=HTMLResponse, include_in_schema=False)
    def verify_answer(request: Request, token: str, answer: Annotated[str, Form()] = "") -> HTMLResponse:
        link_guard(request)
        if answer not in ("reachable", "unreachable"):
            return page("link_invalid", status_code=422, why="answer",
                        message="Please press one of the two buttons: reachable or unreachable.")
        try:
            service.vote_by_link(token, answer)
        except LinkError as exc:
            return invalid(request, exc)
        return page("verify_done", answer=answer)

    @app.get("/q/{token}", response_class=HTMLResponse, include_in_schema=False)
    def request_page(request: Request, token: str) -> HTMLResponse:
        link_guard(request)
        try:
            link, view, email = service.open_link(token, Purpose.REQUEST)
        except LinkError as exc:
            return invalid(request, exc)
        return page("request", who=link.who, email=email, view=view.to_dict(), error=None)

    @app.post("/q/{token}", response_class=HTMLResponse, include_in_schema=False)
    def request_release(request: Request, token: str) -> HTMLResponse:
        link_guard(request)
        try:
            view = service.request_by_link(token)
        except LinkError as exc:
            return invalid(request, exc)
        except SwitchError as exc:
            return page("link_invalid", status_code=409, why="refused", message=str(exc))
        return page("request_done", view=view.to_dict())

    return app


class _TooMany(BatonError):
    status = 429

    def __init__(self) -> None:
        super().__init__("too many failed attempts from this address; wait a minute and try again")


