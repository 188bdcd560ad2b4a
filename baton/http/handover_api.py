"""The handover's HTTP face: the register, readiness, the renewal calendar, the profile, the
notices and what the successors fetch; and the customer's notice page (``/n/{token}``).

The customer's page follows the link rule: a GET only shows the notice, a POST records
the answer (all or nothing; a bad field is shown next to itself, with what was typed).
"""

import io
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, SkipValidation
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from baton.errors import BadRequest
from baton.http.handover_models import (
    HandoverData,
    HandoverProfile,
    HandoverProfileInput,
    ImportReport,
    NoticeStatus,
    Readiness,
    RegisterDomains,
    RegisterSummary,
    Updated,
)
from baton.http.link_pages import OnLinkForm
from baton.http.models import MAX_ID, Problem, RejectedImport, binary, problems
from baton.services import notices
from baton.services.handover import HandoverService
from handover import i18n
from handover.errors import HandoverError, ImportRejected
from handover.requests import slug

OwnerWork = Callable[[Any, Callable[[int], Any], int], Awaitable[JSONResponse]]
UPLOAD_SUFFIXES = (".csv", ".json")
IMPORT_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"], "title": "RegisterFiles", "properties": {"files": {
        "type": "array", "title": "Files", "items": {"type": "string", "contentMediaType": "application/octet-stream"},
        "description": "customers.csv, domains.csv, hosting.csv, registrars.csv, and/or WHMCS JSON"}}}}}}
Release = Annotated[int | None, Query(ge=1, le=MAX_ID, description="A release's number; the latest when absent.")]


class ObservedDomain(BaseModel):
    domain: str = Field(examples=["straße.de"])
    expires: str | None = Field(None, description="YYYY-MM-DD, as RDAP reported it.", examples=["2027-05-01"])
    statuses: list[str] | None = Field(None, examples=[["clientTransferProhibited"]])


class Observed(BaseModel):
    domains: list[ObservedDomain]


async def store_uploads(files: list[UploadFile], folder: Path) -> None:
    """Save uploaded register files into ``folder`` under their own names (checked), in chunks."""
    for upload in files:
        name = Path(upload.filename or "").name
        if not name.lower().endswith(UPLOAD_SUFFIXES) or name.startswith("."):
            raise BadRequest(f"files: expected .csv or .json files, got {name or 'a file without a name'!r}")
        if (folder / name).exists():
            raise BadRequest(f"files: expected each file name once, got {name!r} twice")
        with open(folder / name, "wb") as target:
            while chunk := await upload.read(1 << 20):
                target.write(chunk)


def install(app: FastAPI, handover: HandoverService, as_owner: OwnerWork, caller: Any,
            owner_id_of: Callable[[Any], Awaitable[int]],
            on_link: Callable[[Request, Callable[[], HTMLResponse]], HTMLResponse], on_link_form: OnLinkForm) -> None:
    Who = Annotated[Any, Depends(caller)]
    engine, signer, clock = handover.engine, handover.service.signer, handover.service.clock

    @app.exception_handler(ImportRejected)
    async def _rejected(_request: Request, exc: ImportRejected) -> JSONResponse:
        return JSONResponse({"detail": str(exc).splitlines()[0], "total": exc.total,
                             "errors": [e.to_dict() for e in exc.errors]}, status_code=422)

    @app.exception_handler(HandoverError)
    async def _bad_input(_request: Request, exc: HandoverError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.post("/api/register/import", tags=["register"], response_model=ImportReport,
              responses=problems(422, s422=RejectedImport | Problem), openapi_extra={"requestBody": IMPORT_BODY})
    async def import_register(who: Who, request: Request) -> JSONResponse:
        """Import the register, all or nothing; a rejected import lists every bad row (file, row, column)."""
        # The form is read here, not by FastAPI, so that the token is checked before its files are spooled.
        owner = await owner_id_of(who)
        async with request.form() as form:
            files = form.getlist("files")
            if not files:
                raise BadRequest("files: expected a value, got none")
            for number, upload in enumerate(files):
                if isinstance(upload, str):
                    raise BadRequest(f"files.{number}: expected a file (a part with a file name), got a plain form "
                                     "field")
            with tempfile.TemporaryDirectory(prefix="baton-import-") as folder:
                await store_uploads(files, Path(folder))  # type: ignore[arg-type]
                report = await run_in_threadpool(handover.import_files, owner, [Path(folder)])
        return JSONResponse(report.to_dict())

    @app.get("/api/register", tags=["register"], response_model=RegisterSummary, responses=problems())
    async def register_summary(who: Who) -> JSONResponse:
        """How many customers, domains, hosting services and registrars the register holds."""
        return await as_owner(who, handover.summary, 200)

    @app.get("/api/register/domains", tags=["register"], response_model=RegisterDomains, responses=problems())
    async def register_domains(who: Who) -> JSONResponse:
        """Every domain with its registrar, expiry and statuses (for `baton domains check`)."""
        return await as_owner(who, lambda owner: {"domains": handover.list_domains(owner)}, 200)

    @app.post("/api/register/domains/observed", tags=["register"], response_model=Updated,
              responses=problems(422))
    async def register_observed(who: Who, body: Observed) -> JSONResponse:
        """Store expiry and statuses as RDAP reported them."""
        items = [d.model_dump() for d in body.domains]
        return await as_owner(who, lambda owner: {"updated": handover.apply_observed(owner, items)}, 200)

    @app.get("/api/register/calendar", tags=["register"], response_class=Response, responses={
        200: {"description": "The calendar as CSV (one row per date) or as iCalendar (one event per date).",
              "content": {"text/csv": {"schema": {"type": "string"}},
                          "text/calendar": {"schema": {"type": "string"}}}},
        **problems(422)})
    async def register_calendar(who: Who, format: Annotated[Literal["csv", "ics"], Query(
            description="csv, or ics (iCalendar).")] = "csv") -> Response:
        """The renewal calendar: expiries, earliest transfer dates, renewals due (CSV or iCalendar)."""
        owner = await owner_id_of(who)
        content, media = await run_in_threadpool(handover.calendar, owner, format)
        return Response(content, media_type=media)

    @app.get("/api/handover/profile", tags=["handover"], response_model=HandoverProfile | None,
             responses=problems())
    async def get_profile(who: Who) -> JSONResponse:
        """The owner's handover profile (wording, successor, terms), or null."""
        from baton.store.register import profile_to_dict
        return await as_owner(who, lambda owner: (lambda p: None if p is None else profile_to_dict(p))(
            handover.profile(owner)), 200)

    @app.put("/api/handover/profile", tags=["handover"], response_model=HandoverProfile, responses=problems(422))
    async def put_profile(who: Who, body: Annotated[HandoverProfileInput, SkipValidation]) -> JSONResponse:
        """Set the handover profile; a wrong field is named with what was expected. Answers the profile as
        stored (texts trimmed, defaults written out)."""
        # Documented by the model, read by the profile's own validator: its refusals name the field.
        data: Any = body
        return await as_owner(who, lambda owner: handover.set_profile(owner, data), 200)

    @app.get("/api/readiness", tags=["handover"], response_model=Readiness, responses=problems())
    async def readiness(who: Who) -> JSONResponse:
        """What would go wrong if the switch fired today (register, notices, vault), each with what to do."""
        return await as_owner(who, handover.readiness, 200)

    @app.get("/api/handover/data", tags=["handover"], response_model=HandoverData, responses=problems(404, 422))
    async def handover_data(who: Who, release: Release = None) -> JSONResponse:
        """The register, profile and customers' answers of a release (the latest): no secret is in it."""
        return await as_owner(who, lambda owner: notices.handover_data(engine, owner, clock.now(), release), 200)

    @app.get("/api/notices", tags=["handover"], response_model=NoticeStatus, responses=problems(404, 422))
    async def notice_status(who: Who, release: Release = None) -> JSONResponse:
        """Who was sent a notice in a release (the latest), who read it and who answered."""
        return await as_owner(who, lambda owner: notices.notice_status(engine, owner, release), 200)

    @app.post("/api/notices/printable", tags=["handover"], response_class=Response,
              responses={**binary("application/zip", "One printable HTML notice per customer (empty before any "
                                                     "release with notices)."), **problems(404, 422)})
    async def notice_printable(who: Who, release: Release = None) -> Response:
        """Every notice of a release as printable HTML, one file per customer, in a zip; each printed
        notice gets a personal link of its own (made now), so a customer without e-mail can answer."""
        owner = await owner_id_of(who)

        def pack() -> bytes:
            buffer = io.BytesIO()
            pages = notices.printable(engine, handover.service.settings, handover.service.key, owner, clock.now(),
                                      release)
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for number, (customer, html) in enumerate(pages, start=1):
                    archive.writestr(f"notice-{number:05d}-{slug(customer)}.html", html)
            return buffer.getvalue()
        return Response(await run_in_threadpool(pack), media_type="application/zip")

    # -- the customer's page --------------------------------------------------------------------
    def notice_page(name: str, language: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(i18n.render(f"pages/{name}.html", language, **context), status_code=status_code,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                     "X-Robots-Tag": "noindex", "Content-Language": language})

    @app.get("/n/{token}", response_class=HTMLResponse, include_in_schema=False)
    def show_notice(request: Request, token: str, answered: int = 0) -> HTMLResponse:
        def show() -> HTMLResponse:
            page = notices.show_notice(engine, handover.service.key, token, clock.now())
            if answered and page.answer:  # where a recorded answer lands (POST, then redirect, then GET)
                return notice_page("notice_done", page.language, business=page.context["business"],
                                   answer=_shown_answer(page), change=f"{request.url.path}#answer")
            return notice_page("notice", page.language, **notices.page_context(page))
        return on_link(request, show)

    @app.post("/n/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def answer_notice(request: Request, token: str) -> HTMLResponse:
        def act(form: FormData) -> HTMLResponse:
            fields: dict[str, list[str]] = {}
            for key, value in form.multi_items():
                if isinstance(value, str):
                    fields.setdefault(key, []).append(value)
            page, typed, problems = notices.answer_notice(engine, signer, handover.service.key, token, fields,
                                                          clock.now())
            if problems:
                return notice_page("notice", page.language, status_code=422,
                                   **notices.page_context(page, typed, problems))
            # Redirect after the POST: Back or a reload never asks to send the answer again. The address is
            # relative (this same page), so the link's token is not repeated in a header.
            return HTMLResponse("", status_code=303, headers={"Location": "?answered=1", "Cache-Control": "no-store"})
        return await on_link_form(request, lambda: notices.show_notice(engine, handover.service.key, token,
                                                                       clock.now()), act)


def _shown_answer(page: "notices.NoticePage") -> dict[str, Any]:
    answer = page.answer or {}
    names = {d["ascii"]: d["name"] for d in page.context["domains"]}
    registrars = {r["id"]: r["name"] for r in page.context["registrars"]}
    # A hosting service is named as its customer knows it (its provider and domain), never by its id.
    providers = {s["id"]: f"{s['provider']} ({s['domain']})" if s.get("domain") else s["provider"]
                 for s in page.context["services"]}
    accounts = {registrars.get(k, k): v for k, v in (answer.get("accounts") or {}).items()}
    accounts |= {providers.get(k, k): v for k, v in (answer.get("hosting_accounts") or {}).items()}
    return {"read_at": answer.get("read_at"), "accounts": accounts,
            "auth_codes_for": [names.get(a, a) for a in answer.get("auth_codes_for") or []]}

