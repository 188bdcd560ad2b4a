"""The one-time link pages: a GET only shows, a POST acts (mail scanners and chat previews open
links). Every refusal is a page that explains itself, in the language of the link's person.
A form's link is looked at before its body is read: an unknown, used or expired link is refused
without reading (or spooling) a byte of what was posted to it. This module holds the shared
mechanics and the switch's own links: check-in (``/l``), verifier (``/v``) and release request
(``/q``)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from baton.errors import BatonError, LinkError, http_status
from baton.http import pagelanguage
from baton.http.csrf import cross_site
from baton.http.ratelimit import RateLimiter
from baton.services import verifiers
from baton.services.access import OwnerAccess
from baton.services.messages import render_page
from baton.services.switch import SwitchService
from baton.store.links import Purpose
from switch import SwitchError

PRESS_A_BUTTON = "Please press one of the two buttons: reachable or unreachable."
_Page = TypeVar("_Page", bound=Response)  # a link's page, or a file it gives (a key check's challenge)
_Done = TypeVar("_Done")


class OnLink(Protocol):
    """Run a link page's work, refusals made pages (see ``link_pages``)."""

    def __call__(self, request: Request, act: Callable[[], _Page],
                 language: Callable[[], str | None] = ...) -> _Page | HTMLResponse: ...


class OnLinkForm(Protocol):
    """Check a link, then read its page's form and act on it, refusals made pages (see ``link_pages``)."""

    async def __call__(self, request: Request, check: Callable[[], object], act: Callable[[FormData], HTMLResponse],
                       language: Callable[[], str | None] = ...) -> HTMLResponse: ...


@dataclass(frozen=True)
class LinkPages:
    page: Callable[..., HTMLResponse]
    too_many: Callable[..., HTMLResponse]
    on_link: OnLink
    on_link_form: OnLinkForm


def link_pages(service: SwitchService, link_failures: RateLimiter, link_posts: RateLimiter) -> LinkPages:
    def page(name: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render_page(name, **context), status_code=status_code,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                     "X-Robots-Tag": "noindex"})

    def too_many(language: str = "en") -> HTMLResponse:
        return page("link_invalid", status_code=429, why="refused", language=language, message=pagelanguage.translate(
            "Too many attempts in a short time. Wait a minute, then open the link again.", language))

    def refusal(request: Request, language: Callable[[], str | None], status_code: int, why: str,
                message: str) -> HTMLResponse:
        spoken = language() or pagelanguage.negotiate(request.headers.get("accept-language"))
        parts = request.url.path.split("/")  # whose link: l (owner), e/k/d (holder)…
        # A holder's spent or expired download link: after a release the owner cannot send a new one, but
        # the holder can get one by answering a sealed key check (``holder_pages``).
        spent = len(parts) > 2 and parts[1] == "d" and why in ("used", "expired")
        reissue = f"/d/{parts[2]}/reissue" if spent else None
        return page("link_invalid", status_code=status_code, why=why, language=spoken,
                    message=pagelanguage.translate(message, spoken), kind=parts[1], reissue_url=reissue)

    def guard(request: Request, language: Callable[[], str | None]) -> HTMLResponse | None:
        """The refusals that need no look-up of the link: lock-out, another site's form, a link pressed too often."""
        address = request.client.host if request.client else "?"
        if link_failures.blocked(address):  # no look-up for an address that keeps trying unknown links
            return too_many(pagelanguage.negotiate(request.headers.get("accept-language")))
        if request.method == "POST":
            if cross_site(request, service.settings.base_url):
                return refusal(request, language, 403, "refused", "This form did not come from Baton's own page: "
                                                                  "open the link again and press the button there.")
            if link_posts.blocked(request.url.path):  # per link: a key-check code cannot be guessed fast
                return too_many(language() or pagelanguage.negotiate(request.headers.get("accept-language")))
            link_posts.hit(request.url.path)
        return None

    def attempt(request: Request, act: Callable[[], _Done], language: Callable[[], str | None]) -> _Done | HTMLResponse:
        try:
            return act()
        except LinkError as exc:
            if exc.why == "unknown":
                link_failures.hit(request.client.host if request.client else "?")
            return refusal(request, language, 404 if exc.why == "unknown" else 410, exc.why, str(exc))
        except (BatonError, SwitchError) as exc:
            return refusal(request, language, http_status(exc), "refused", str(exc))

    def on_link(request: Request, act: Callable[[], _Page],
                language: Callable[[], str | None] = lambda: None) -> _Page | HTMLResponse:
        """Run a link page's work; every refusal is a page that explains itself, never JSON, in the language
        of the link's person when ``language`` finds one, else in the browser's (``Accept-Language``)."""
        refused = guard(request, language)
        return refused if refused is not None else attempt(request, act, language)

    async def on_link_form(request: Request, check: Callable[[], object], act: Callable[[FormData], HTMLResponse],
                           language: Callable[[], str | None] = lambda: None) -> HTMLResponse:
        """A link page's form: ``check`` looks at the link (unknown, used or expired: refused) before a byte of
        the body is read; then the form is read, within the size limit, and ``act`` runs with it."""
        def looked() -> None:
            check()

        refused = await run_in_threadpool(guard, request, language)
        if refused is None:
            refused = await run_in_threadpool(attempt, request, looked, language)
        if refused is not None:
            return refused
        async with request.form() as form:
            return await run_in_threadpool(attempt, request, lambda: act(form), language)
    return LinkPages(page, too_many, on_link, on_link_form)


def install(app: FastAPI, service: SwitchService, access: OwnerAccess, pages: LinkPages) -> None:
    page, on_link = pages.page, pages.on_link

    @app.get("/x/{token}", response_class=HTMLResponse, include_in_schema=False)
    def cancel_page(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("cancel_change", change=access.open_cancel_link(token)))

    @app.post("/x/{token}", response_class=HTMLResponse, include_in_schema=False)
    def cancel_change(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("cancel_change_done", change=access.cancel_by_link(token)))

    @app.get("/l/{token}", response_class=HTMLResponse, include_in_schema=False)
    def checkin_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            _link, view, email = service.open_link(token, Purpose.CHECKIN)
            return page("checkin", view=view.to_dict(), email=email)
        return on_link(request, show)

    @app.post("/l/{token}", response_class=HTMLResponse, include_in_schema=False)
    def checkin_by_link(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("checkin_done", view=service.check_in_by_link(token).to_dict()))

    def verifier_language(token: str) -> Callable[[], str | None]:
        return lambda: verifiers.link_language(service.engine, service.key, token)

    @app.get("/v/{token}", response_class=HTMLResponse, include_in_schema=False)
    def verify_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            link, view, _email = service.open_link(token, Purpose.VERIFY)
            asked = verifiers.question(service.engine, link.owner_id, link.who or "", view.timezone)
            return page("verify", language=asked.language, who=asked.who, owner=asked.owner,
                        closes=verifiers.moment(link.expires_at, asked.language, asked.timezone))
        return on_link(request, show, verifier_language(token))

    @app.post("/v/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def verify_answer(request: Request, token: str) -> HTMLResponse:
        language = verifier_language(token)

        def act(form: FormData) -> HTMLResponse:
            spoken = language() or "en"
            answer = form.get("answer")
            if not isinstance(answer, str) or answer not in ("reachable", "unreachable"):
                return page("link_invalid", status_code=422, why="answer", language=spoken,
                            message=pagelanguage.translate(PRESS_A_BUTTON, spoken))
            service.vote_by_link(token, answer)
            return page("verify_done", answer=answer, language=spoken)
        return await pages.on_link_form(request, lambda: service.open_link(token, Purpose.VERIFY), act, language)

    @app.get("/q/{token}", response_class=HTMLResponse, include_in_schema=False)
    def request_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            link, view, email = service.open_link(token, Purpose.REQUEST)
            return page("request", who=link.who, email=email, view=view.to_dict())
        return on_link(request, show)

    @app.post("/q/{token}", response_class=HTMLResponse, include_in_schema=False)
    def request_release(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("request_done", view=service.request_by_link(token).to_dict()))
