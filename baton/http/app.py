"""The HTTP face: the JSON API for the owner (bearer token) and the one-time link pages.

Link pages follow one rule: a GET only shows, a POST acts (mail scanners and chat
previews open links). Errors map to status codes in one place (``baton.errors``).
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from baton import __version__
from baton.errors import BatonError, Unauthorized, http_status
from baton.http import (
    access_api,
    bodylimit,
    collector_pages,
    handover_api,
    health,
    holder_pages,
    link_pages,
    metrics,
    outage,
    owner_pages,
    pagelanguage,
    scripts,
    switch_api,
    vault_api,
    witness_api,
)
from baton.http.auth import owner_auth
from baton.http.bodylimit import BodyLimit, BodyTooLarge, size_text
from baton.http.csrf import CsrfTokens
from baton.http.headers import SecurityHeaders
from baton.http.ratelimit import RateLimiter
from baton.jobs.witnessing import Witnessing
from baton.jobs.worker import Worker
from baton.services.access import OwnerAccess
from baton.services.handover import HandoverService
from baton.services.people import PeopleBook
from baton.services.reissue import Reissue
from baton.services.releases import PackageBuilder, vault_parts
from baton.services.switch import SwitchService
from baton.services.vault import VaultService
from baton.services.witness.linking import Linking
from baton.services.witness.watching import Witness
from baton.store.links import PATHS, Purpose
from switch import SwitchError

LINK_KINDS = frozenset(PATHS.values())  # /l/…, /v/…, /e/…: a link's page
HOLDER_LINKS = {PATHS[p]: p for p in (Purpose.ENROL, Purpose.KEYCHECK, Purpose.DOWNLOAD, Purpose.COLLECT)}


def _wants_page(request: Request) -> bool:
    """A browser (it accepts HTML) asking outside the API; API clients keep getting problem JSON."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def create_app(service: SwitchService, worker: Worker | None = None, vault: VaultService | None = None,
               builder: PackageBuilder | None = None) -> FastAPI:
    """The application; with a worker, it runs beside the API for the app's lifetime."""
    if vault is None or builder is None:
        vault, builder = vault_parts(service)

    linking, witness = Linking(service), Witness(service)
    witnessing = Witnessing(linking, witness)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(witnessing.ask_first)  # a primary back from the dead hears its witnesses first
        if worker is not None:
            worker.start()
        witnessing.start()
        try:
            yield
        finally:
            witnessing.stop()
            if worker is not None:
                worker.stop()

    app = FastAPI(title="Baton", version=__version__, lifespan=lifespan,
                  description="The owner's API of Baton's dead-man's switch, and its link pages.")
    failures = RateLimiter(service.settings.token_failures_per_minute)
    link_failures = RateLimiter(service.settings.token_failures_per_minute * 3)
    link_posts = RateLimiter(service.settings.link_posts_per_minute)
    auth = owner_auth(service, failures)
    links = link_pages.link_pages(service, link_failures, link_posts)

    def answer(request: Request, status: int, message: str, page_message: str | None = None,
               language: str | None = None, headers: dict[str, str] | None = None) -> Response:
        """A refusal as the request's face speaks: problem JSON on the API; elsewhere a page, on a link's page in
        its person's language (else the browser's), on the owner's pages in English as they are."""
        path = request.url.path
        if path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=status, headers=headers)
        kind = path.split("/")[1]
        spoken = "en"
        if kind in LINK_KINDS:
            spoken = language or pagelanguage.negotiate(request.headers.get("accept-language"))
        response = links.page("link_invalid", status_code=status, why="refused", language=spoken, kind=kind,
                              message=pagelanguage.translate(page_message or message, spoken))
        response.headers.update(headers or {})
        return response

    def holder_language(path: str) -> str | None:
        """The language of the holder whose link ``path`` is (enrolment, key check, download), if any."""
        kind, _, rest = path.strip("/").partition("/")
        purpose = HOLDER_LINKS.get(kind)
        try:
            return vault.holder_language(rest.split("/")[0], purpose) if purpose is not None and rest else None
        except outage.DATABASE_DOWN:
            return None  # the refusal is said in the browser's language, and the outage shows on the next page

    async def too_large(request: Request, exc: BodyTooLarge) -> Response:
        address = request.client.host if request.client else "?"
        language = None if link_failures.blocked(address) else await run_in_threadpool(holder_language,
                                                                                         request.url.path)
        return answer(request, 413, exc.detail, pagelanguage.TOO_LARGE % {"limit": size_text(exc.limit)}, language)

    # Innermost first: the security headers go on the size limit's refusals too.
    app.add_middleware(BodyLimit, limit=bodylimit.limits(service.settings),
                       refuse=lambda scope, exc: too_large(Request(scope), exc))
    app.add_middleware(SecurityHeaders, https=service.settings.base_url.startswith("https://"))
    app.add_exception_handler(BodyTooLarge, too_large)  # type: ignore[arg-type]
    outage.install(app, service.engine, answer)

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
        if exc.status_code in (404, 405) and _wants_page(request):
            return _missing_page(request, exc)
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

    def _missing_page(request: Request, exc: StarletteHTTPException) -> Response:
        """A page, in the browser's language, for an address that is not there or a method it does not answer."""
        spoken = pagelanguage.negotiate(request.headers.get("accept-language"))
        missing = exc.status_code == 404
        message = pagelanguage.NO_PAGE if missing else pagelanguage.WRONG_METHOD
        response = links.page("link_invalid", status_code=exc.status_code, why="no-page" if missing else "wrong-method",
                              language=spoken, message=pagelanguage.translate(message, spoken))
        response.headers.update(exc.headers or {})  # a 405 says which methods the address answers (Allow)
        response.headers["Content-Language"] = spoken
        return response

    @app.exception_handler(BatonError)
    async def _baton_error(_request: Request, exc: BatonError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(SwitchError)
    async def _switch_error(_request: Request, exc: SwitchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=http_status(exc))
    health.install(app, service)
    scripts.install(app)
    metrics.install(app, service)
    switch_api.install(app, service, auth)
    witness_api.install(app, service, auth, linking, witness)
    access = OwnerAccess(service)
    access_api.install(app, access, auth)
    link_pages.install(app, service, access, links)
    book = PeopleBook(service, vault)
    vault_api.install(app, vault, book, builder, auth.as_owner, auth.owner, auth.owner_id_of, links.page, links.on_link,
                      links.on_link_form)
    collector_pages.install(app, vault, builder, links)
    holder_pages.install(app, Reissue(vault), links, RateLimiter(service.settings.token_failures_per_minute))
    handover = HandoverService(service, vault)
    handover_api.install(app, handover, auth.as_owner, auth.owner, auth.owner_id_of, links.on_link, links.on_link_form)
    owner_pages.install(app, service, vault, book, builder, handover, CsrfTokens(bytes(service.signer.key)), links.page)
    return app


def api_from_settings() -> FastAPI:
    """The API and pages without a worker, built from the settings: the factory each of uvicorn's
    worker processes calls (``baton serve --workers N``, ``baton api --workers N``). The process
    that starts them has migrated the database; this one only checks the revision."""
    from baton.runtime import build
    from baton.settings import get_settings
    return create_app(build(get_settings(), upgrade=False).service)
