"""The HTTP face: the JSON API for the owner (bearer token) and the one-time link pages.

Link pages follow one rule: a GET only shows, a POST acts (mail scanners and chat
previews open links). Errors map to status codes in one place (``baton.errors``).
"""


import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, SkipValidation
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from baton import __version__, api_handover, api_vault, auditlog, pagelanguage, web_owner
from baton.api_models import (
    AuditResult,
    ChannelAdded,
    Policy,
    PolicyInput,
    RequesterAdded,
    SwitchStatus,
    TimelineEntry,
    problems,
)
from baton.csrf import CsrfTokens, cross_site
from baton.db import reading
from baton.errors import BadRequest, BatonError, LinkError, Unauthorized, http_status
from baton.handoverservice import HandoverService
from baton.headers import SecurityHeaders
from baton.links import Purpose
from baton.messages import render_page
from baton.ratelimit import RateLimiter
from baton.releases import PackageBuilder, vault_parts
from baton.service import SwitchService
from baton.timeutil import local
from baton.vaultservice import VaultService
from baton.worker import Worker
from switch import SwitchError

_bearer = HTTPBearer(auto_error=False)
_Page = TypeVar("_Page", bound=Response)  # a link's page, or a file it gives (a key check's challenge)


class PauseRequest(BaseModel):
    until: datetime = Field(description="When the pause ends (ISO 8601 with a time zone).",
                            examples=["2026-03-20T09:00:00+07:00"])


class ChannelRequest(BaseModel):
    url: str = Field(description="An Apprise URL, e.g. ntfy://topic or json://host/path.",
                     examples=["ntfy://baton-alerts"])
    label: str = Field("", examples=["phone"])


class RequesterRequest(BaseModel):
    name: str = Field(examples=["Ana Souza"])
    email: str = Field(examples=["ana@example.org"])


def create_app(service: SwitchService, worker: Worker | None = None, vault: VaultService | None = None,
               builder: PackageBuilder | None = None) -> FastAPI:
    """The application; with a worker, it runs beside the API for the app's lifetime."""
    if vault is None or builder is None:
        vault, builder = vault_parts(service)

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
    app.add_middleware(SecurityHeaders, https=service.settings.base_url.startswith("https://"))
    failures = RateLimiter(service.settings.token_failures_per_minute)
    link_failures = RateLimiter(service.settings.token_failures_per_minute * 3)
    link_posts = RateLimiter(service.settings.link_posts_per_minute)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        kind, said = first.get("type"), str(first.get("msg", "invalid"))
        if kind == "json_invalid":
            ctx = first.get("ctx", {})
            message = f"body: expected valid JSON, {ctx.get('error', 'could not parse it')}"
        elif kind == "missing":
            message = f"{where}: expected a value, got none"
        elif "Expected UploadFile" in said:
            message = f"{where}: expected a file (a part with a file name), got a plain form field"
        else:
            # Pydantic's wording made to read like ours: "expected …, got …".
            if kind in ("model_attributes_type", "dict_type"):
                said = "expected a JSON object"
            elif said.startswith("Input should be "):
                said = "expected " + said.removeprefix("Input should be ")
            message = f"{where}: {said.removeprefix('Value error, ')}"
            if "input" in first:
                message += f", got {json.dumps(first['input'], default=str)[:80]}"
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _unreadable(request: Request, exc: StarletteHTTPException) -> Response:
        """A body that cannot even be read (bytes that are not UTF-8 as JSON, a broken multipart form) is
        bad input like any other: 422 saying what was expected (FastAPI's own answer is a bare 400)."""
        if exc.status_code != 400:
            return await http_exception_handler(request, exc)
        cause = exc.__cause__
        if isinstance(cause, UnicodeDecodeError):
            message = (f"body: expected JSON in UTF-8, got the byte 0x{cause.object[cause.start]:02x} at position "
                       f"{cause.start}, which is not UTF-8")
        else:
            media = request.headers.get("content-type", "").split(";")[0].strip() or "request"
            message = f"body: expected a well-formed {media} body, got one that could not be read ({exc.detail})"
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(BatonError)
    async def _baton_error(_request: Request, exc: BatonError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(SwitchError)
    async def _switch_error(_request: Request, exc: SwitchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=http_status(exc))

    async def caller(request: Request,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> _Caller:
        """Who is calling, checked for lock-out and a bearer header before any database work."""
        address = request.client.host if request.client else "?"
        if failures.blocked(address):
            raise _TooMany()
        if credentials is None:
            raise Unauthorized("expected an Authorization: Bearer <token> header, got none")
        return _Caller(address, credentials.credentials)

    async def owner(request: Request, who: Annotated[_Caller, Depends(caller)]) -> _Caller:
        """The owner behind the token, checked before the request's body or parameters are looked at:
        a caller without a valid token learns nothing but 401."""
        owner_id = await run_in_threadpool(service.authenticate, who.token)
        if owner_id is None:
            refuse(who)
        await _refuse_nul(request)
        return _Caller(who.address, who.token, owner_id)

    Bearer = Annotated[_Caller, Depends(caller)]  # check-in authenticates in its own single trip
    Caller = Annotated[_Caller, Depends(owner)]

    async def as_owner(who: _Caller, work: Callable[[int], Any], status_code: int = 200) -> JSONResponse:
        """Do the authenticated owner's work in the thread pool; a JSON response."""
        return JSONResponse(await run_in_threadpool(work, await owner_id_of(who)), status_code=status_code)

    async def owner_id_of(who: _Caller) -> int:
        if who.owner_id is not None:
            return who.owner_id
        owner_id = await run_in_threadpool(service.authenticate, who.token)
        if owner_id is None:
            refuse(who)
        return owner_id

    def refuse(who: _Caller) -> NoReturn:
        failures.hit(who.address)
        raise Unauthorized("the token is not valid")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/checkin", response_model=SwitchStatus, responses=problems(409), tags=["switch"])
    async def checkin(who: Bearer) -> JSONResponse:
        """Check in: cancels every stage not yet run and re-arms the switch."""
        view = await run_in_threadpool(service.check_in_with_token, who.token, "api")
        if view is None:
            refuse(who)
        return JSONResponse(view.to_dict())

    @app.get("/api/status", response_model=SwitchStatus, responses=problems(), tags=["switch"])
    async def status(who: Caller) -> JSONResponse:
        """State, deadline and next reminder, in UTC and in the owner's time zone."""
        return await as_owner(who, lambda owner_id: service.status(owner_id).to_dict())

    @app.get("/api/policy", response_model=Policy, responses=problems(), tags=["switch"])
    async def get_policy(who: Caller) -> JSONResponse:
        """The switch policy, every default written out."""
        return await as_owner(who, service.get_policy)

    @app.put("/api/policy", response_model=SwitchStatus, responses=problems(409, 422), tags=["switch"])
    async def put_policy(who: Caller, policy: Annotated[PolicyInput, SkipValidation]) -> JSONResponse:
        """Replace the policy (validated; errors name the field). Counts as a check-in."""
        # Documented by the model, read by the switch's own validator: its refusals name the field.
        data: Any = policy
        return await as_owner(who, lambda owner_id: service.set_policy(owner_id, data).to_dict())

    @app.post("/api/pause", response_model=SwitchStatus, responses=problems(409, 422), tags=["switch"])
    async def pause(who: Caller, body: PauseRequest) -> JSONResponse:
        """Pause until a moment, at most the policy's max_pause away. Told to nobody else."""
        if body.until.tzinfo is None:
            raise BadRequest(f"until: expected a moment with a time zone, got {body.until.isoformat()}")
        return await as_owner(who, lambda owner_id: service.pause(owner_id, body.until).to_dict())

    @app.get("/api/timeline", response_model=list[TimelineEntry], responses=problems(422), tags=["switch"])
    async def timeline(who: Caller, limit: Annotated[int, Query(description="How many of the latest; 1 to 1000 "
                                                                            "(others are brought into range).")
                                                     ] = 100) -> JSONResponse:
        """The recorded transitions, oldest first: due moment, recorded moment, reason."""
        return await as_owner(who, lambda owner_id: service.timeline(owner_id, max(1, min(limit, 1000))))

    @app.get("/api/audit/verify", response_model=AuditResult, responses=problems(), tags=["audit"])
    async def audit_verify(who: Caller) -> JSONResponse:
        """Verify the owner's audit chain; names the first broken entry."""
        def verify(owner_id: int) -> dict[str, Any]:
            with reading(service.engine) as conn:
                count, problem = auditlog.verify(conn, service.signer, owner_id)
            return {"entries": count, "ok": problem is None, "problem": str(problem) if problem else None}
        return await as_owner(who, verify)

    @app.post("/api/channels", status_code=201, response_model=ChannelAdded, responses=problems(422),
              tags=["alerts"])
    async def add_channel(who: Caller, body: ChannelRequest) -> JSONResponse:
        """Add an Apprise URL for the owner's alerts."""
        return await as_owner(who, lambda owner_id: {"id": service.add_channel(owner_id, body.url, body.label)},
                              status_code=201)

    @app.post("/api/requesters", status_code=201, response_model=RequesterAdded, responses=problems(422),
              tags=["switch"])
    async def add_requester(who: Caller, body: RequesterRequest) -> JSONResponse:
        """A standing link with which a holder may ask for release; shown once."""
        return await as_owner(who, lambda owner_id: {"url": service.request_link(owner_id, body.name, body.email)},
                              status_code=201)

    # -- link pages ---------------------------------------------------------------------------
    def page(name: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render_page(name, **context), status_code=status_code,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                     "X-Robots-Tag": "noindex"})

    def too_many(language: str = "en") -> HTMLResponse:
        return page("link_invalid", status_code=429, why="refused", language=language, message=pagelanguage.translate(
            "Too many attempts in a short time. Wait a minute, then open the link again.", language))

    def on_link(request: Request, act: Callable[[], _Page],
                language: Callable[[], str | None] = lambda: None) -> _Page | HTMLResponse:
        """Run a link page's work; every refusal is a page that explains itself, never JSON, in the language
        of the link's person when ``language`` finds one, else in the browser's (``Accept-Language``)."""
        browser = pagelanguage.negotiate(request.headers.get("accept-language"))

        def refused(status_code: int, why: str, message: str) -> HTMLResponse:
            spoken = language() or browser
            return page("link_invalid", status_code=status_code, why=why, language=spoken,
                        message=pagelanguage.translate(message, spoken),
                        kind=request.url.path.split("/")[1])  # whose link: l (owner), e/k/d (holder)…

        address = request.client.host if request.client else "?"
        if link_failures.blocked(address):
            return too_many(browser)  # no look-up for an address that keeps trying unknown links
        if request.method == "POST":
            if cross_site(request, service.settings.base_url):
                return refused(403, "refused", "This form did not come from Baton's own page: open the link "
                                               "again and press the button there.")
            if link_posts.blocked(request.url.path):  # per link: a key-check code cannot be guessed fast
                return too_many(language() or browser)
            link_posts.hit(request.url.path)
        try:
            return act()
        except LinkError as exc:
            if exc.why == "unknown":
                link_failures.hit(address)
            return refused(404 if exc.why == "unknown" else 410, exc.why, str(exc))
        except (BatonError, SwitchError) as exc:
            return refused(http_status(exc), "refused", str(exc))

    @app.get("/l/{token}", response_class=HTMLResponse, include_in_schema=False)
    def checkin_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            _link, view, email = service.open_link(token, Purpose.CHECKIN)
            return page("checkin", view=view.to_dict(), email=email)
        return on_link(request, show)

    @app.post("/l/{token}", response_class=HTMLResponse, include_in_schema=False)
    def checkin_by_link(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("checkin_done", view=service.check_in_by_link(token).to_dict()))

    @app.get("/v/{token}", response_class=HTMLResponse, include_in_schema=False)
    def verify_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            link, view, email = service.open_link(token, Purpose.VERIFY)
            return page("verify", who=link.who, email=email, closes=local(link.expires_at, view.timezone))
        return on_link(request, show)

    @app.post("/v/{token}", response_class=HTMLResponse, include_in_schema=False)
    def verify_answer(request: Request, token: str, answer: Annotated[str, Form()] = "") -> HTMLResponse:
        if answer not in ("reachable", "unreachable"):
            return page("link_invalid", status_code=422, why="answer",
                        message="Please press one of the two buttons: reachable or unreachable.")

        def act() -> HTMLResponse:
            service.vote_by_link(token, answer)
            return page("verify_done", answer=answer)
        return on_link(request, act)

    @app.get("/q/{token}", response_class=HTMLResponse, include_in_schema=False)
    def request_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            link, view, email = service.open_link(token, Purpose.REQUEST)
            return page("request", who=link.who, email=email, view=view.to_dict())
        return on_link(request, show)

    @app.post("/q/{token}", response_class=HTMLResponse, include_in_schema=False)
    def request_release(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("request_done", view=service.request_by_link(token).to_dict()))

    api_vault.install(app, vault, builder, as_owner, owner, owner_id_of, page, on_link)
    handover = HandoverService(service, vault)
    api_handover.install(app, handover, as_owner, owner, owner_id_of, on_link)
    web_owner.install(app, service, vault, builder, handover, CsrfTokens(bytes(service.signer.key)), page)
    return app


@dataclass(frozen=True)
class _Caller:
    address: str
    token: str
    owner_id: int | None = None  # set once the token was checked

    def __repr__(self) -> str:
        return f"_Caller(address={self.address!r}, token='***', owner_id={self.owner_id!r})"


async def _refuse_nul(request: Request) -> None:
    """A NUL character in a path, query or JSON value is refused (422): no name, address or policy means
    one, and PostgreSQL cannot store it in text. Uploaded files are not looked at here."""
    places: list[tuple[str, Any]] = [(f"path.{k}", v) for k, v in request.path_params.items()]
    places += [(f"query.{k}", v) for k, v in request.query_params.multi_items()]
    if "json" in request.headers.get("content-type", ""):
        with contextlib.suppress(ValueError):  # FastAPI refuses a body that is not JSON itself, saying why
            places.append(("body", await request.json()))
    for where, value in places:
        found = _nul_at(value, where)
        if found is not None:
            raise BadRequest(f"{found}: expected text without NUL characters (U+0000), got one")


def _nul_at(value: Any, where: str) -> str | None:
    """Where the first NUL character is in a JSON value (``stages.0.name``), or None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        place = (str(key) if where == "body" else f"{where}.{key}").replace("\x00", "\\0")
        found = _nul_at(key, place) or _nul_at(item, place)
        if found is not None:
            return found
    return None


class _TooMany(BatonError):
    status = 429

    def __init__(self) -> None:
        super().__init__("too many failed attempts from this address; wait a minute and try again")


