"""The switch's routes of the owner's API: check in, status, policy, pause, timeline, audit,
channels and release requesters."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SkipValidation
from starlette.concurrency import run_in_threadpool

from baton.errors import BadRequest
from baton.http.auth import Caller, OwnerAuth
from baton.http.models import problems
from baton.http.switch_models import (
    AuditResult,
    ChannelAdded,
    ChannelView,
    Policy,
    PolicyInput,
    SwitchStatus,
    TimelineEntry,
)
from baton.services import health
from baton.services.switch import SwitchService
from baton.store import auditlog
from baton.store.engine import reading


class PauseRequest(BaseModel):
    until: datetime = Field(description="When the pause ends (ISO 8601 with a time zone).",
                            examples=["2026-03-20T09:00:00+07:00"])


class ChannelRequest(BaseModel):
    url: str = Field(description="An Apprise URL, e.g. ntfy://topic or json://host/path.",
                     examples=["ntfy://baton-alerts"])
    label: str = Field("", max_length=100, examples=["phone"])



def install(app: FastAPI, service: SwitchService, auth: OwnerAuth) -> None:
    Bearer = Annotated[Caller, Depends(auth.caller)]  # check-in authenticates in its own single trip
    Owner = Annotated[Caller, Depends(auth.owner)]
    as_owner, refuse = auth.as_owner, auth.refuse

    @app.post("/api/checkin", response_model=SwitchStatus, responses=problems(409), tags=["switch"])
    async def checkin(who: Bearer) -> JSONResponse:
        """Check in: cancels every stage not yet run and re-arms the switch."""
        view = await run_in_threadpool(service.check_in_with_token, who.token, "api")
        if view is None:
            refuse(who)
        return JSONResponse(view.to_dict())

    @app.get("/api/status", response_model=SwitchStatus, responses=problems(), tags=["switch"])
    async def status(who: Owner) -> JSONResponse:
        """State, deadline and next reminder, in UTC and in the owner's time zone."""
        def status_of(owner_id: int) -> dict[str, Any]:
            seen = health.worker_report(service.engine, service.settings, service.clock.now())
            return {**service.status(owner_id).to_dict(), "worker": seen.to_dict()}
        return await as_owner(who, status_of)

    @app.get("/api/policy", response_model=Policy, responses=problems(), tags=["switch"])
    async def get_policy(who: Owner) -> JSONResponse:
        """The switch policy, every default written out."""
        return await as_owner(who, service.get_policy)

    @app.put("/api/policy", response_model=SwitchStatus, responses=problems(409, 422), tags=["switch"])
    async def put_policy(who: Owner, policy: Annotated[PolicyInput, SkipValidation]) -> JSONResponse:
        """Replace the policy (validated; errors name the field). Counts as a check-in. A policy that could
        make a release earlier waits a cooling-off (``pending_changes``), announced on every channel."""
        # Documented by the model, read by the switch's own validator: its refusals name the field.
        data: Any = policy
        return await as_owner(who, lambda owner_id: service.set_policy(owner_id, data).to_dict())

    @app.post("/api/pause", response_model=SwitchStatus, responses=problems(409, 422), tags=["switch"])
    async def pause(who: Owner, body: PauseRequest) -> JSONResponse:
        """Pause until a moment, at most the policy's max_pause away. Told to nobody else."""
        if body.until.tzinfo is None:
            raise BadRequest(f"until: expected a moment with a time zone, got {body.until.isoformat()}")
        return await as_owner(who, lambda owner_id: service.pause(owner_id, body.until).to_dict())

    @app.get("/api/timeline", response_model=list[TimelineEntry], responses=problems(422), tags=["switch"])
    async def timeline(who: Owner, limit: Annotated[int, Query(description="How many of the latest; 1 to 1000 "
                                                                            "(others are brought into range).")
                                                     ] = 100) -> JSONResponse:
        """The recorded transitions, oldest first: due moment, recorded moment, reason."""
        return await as_owner(who, lambda owner_id: service.timeline(owner_id, max(1, min(limit, 1000))))

    @app.get("/api/audit/verify", response_model=AuditResult, responses=problems(), tags=["audit"])
    async def audit_verify(who: Owner) -> JSONResponse:
        """Verify the owner's audit chain; names the first broken entry."""
        def verify(owner_id: int) -> dict[str, Any]:
            with reading(service.engine) as conn:
                count, problem = auditlog.verify(conn, owner_id)
            return {"entries": count, "ok": problem is None, "problem": str(problem) if problem else None}
        return await as_owner(who, verify)

    @app.post("/api/channels", status_code=201, response_model=ChannelAdded, responses=problems(422),
              tags=["alerts"])
    async def add_channel(who: Owner, body: ChannelRequest) -> JSONResponse:
        """Add an Apprise URL for the owner's alerts. Refused (422, naming the rule) when its scheme is not
        one the operator allows, when a parameter sets the method, headers, payload or timeouts, or when
        its host resolves to a loopback, private or otherwise non-public address."""
        return await as_owner(who, lambda owner_id: {"id": service.add_channel(owner_id, body.url, body.label)},
                              status_code=201)

    @app.get("/api/channels", response_model=list[ChannelView], responses=problems(), tags=["alerts"])
    async def list_channels(who: Owner) -> JSONResponse:
        """The owner's channels: id, label, scheme and host — never the URL, which may hold a secret."""
        return await as_owner(who, service.list_channels)
