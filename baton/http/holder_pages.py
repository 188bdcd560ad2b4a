"""A holder's way to a new download link after a release, from the page of their spent or expired link
(``/d/<token>/reissue``): start a key check, open the sealed code with their key, type it, and new links
go to their e-mail address (``services.reissue`` says why never to the page).

    GET  /d/<token>/reissue                        what happens, and a button to start
    POST /d/<token>/reissue                        the key check (the open one, else a new one) → 303
    GET  /d/<token>/reissue/<check>                its sealed code to copy, and the form
    GET  /d/<token>/reissue/<check>/challenge.age  the sealed code as a file
    POST /d/<token>/reissue/<check>                the code → new links by e-mail

The same pages work for ``baton keycheck <the check's address> -i <key file>``. Every POST passes the
link pages' guard (another site's form, a link pressed too often, an address that keeps trying unknown
links) and one more limit per spent link over all of these routes.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from baton.errors import BadRequest
from baton.http import pagelanguage, scripts
from baton.http.link_pages import LinkPages
from baton.http.ratelimit import RateLimiter
from baton.services.reissue import Reissue
from baton.store.links import Purpose


def install(app: FastAPI, reissue: Reissue, pages: LinkPages, attempts: RateLimiter) -> None:
    page, on_link = pages.page, pages.on_link

    def spoken(token: str) -> Callable[[], str | None]:
        return lambda: reissue.vault.holder_language(token, Purpose.DOWNLOAD)

    def limited(request: Request, token: str) -> HTMLResponse | None:
        """Every POST on one spent link's routes counts; past the limit, the too-many page (no look-up)."""
        if attempts.blocked(token):
            return pages.too_many(spoken(token)() or pagelanguage.negotiate(request.headers.get("accept-language")))
        attempts.hit(token)
        return None

    def base(token: str) -> str:
        return f"/d/{token}/reissue"

    @app.get("/d/{token}/reissue", response_class=HTMLResponse, include_in_schema=False)
    def reissue_page(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("reissue", **reissue.ask(token)), spoken(token))

    @app.post("/d/{token}/reissue", include_in_schema=False, response_model=None)
    def reissue_start(request: Request, token: str) -> Response:
        def act() -> Response:
            return RedirectResponse(f"{base(token)}/{reissue.start(token)}", status_code=303)
        return limited(request, token) or on_link(request, act, spoken(token))

    def check_page(token: str, check: str, status_code: int = 200, typed: str = "",
                   error: str | None = None) -> HTMLResponse:
        view, _sealed = reissue.challenge(token, check)
        address = f"{reissue.vault.settings.base_url}{base(token)}/{view['check']}"
        shown = page("reissue_check", status_code=status_code, **view, address=address,
                     script=scripts.script("keycheck"), typed=typed, error=error,
                     challenge_url=f"{base(token)}/{view['check']}/challenge.age")
        return scripts.with_script(shown, "keycheck")

    @app.get("/d/{token}/reissue/{check}", response_class=HTMLResponse, include_in_schema=False)
    def reissue_check_page(request: Request, token: str, check: str) -> HTMLResponse:
        return on_link(request, lambda: check_page(token, check), spoken(token))

    @app.get("/d/{token}/reissue/{check}/challenge.age", include_in_schema=False, response_model=None)
    def reissue_challenge(request: Request, token: str, check: str) -> Response:
        def sealed() -> Response:
            _view, data = reissue.challenge(token, check)
            return Response(data, media_type="application/octet-stream",
                            headers={"Content-Disposition": 'attachment; filename="baton-key-check.age"',
                                     "Cache-Control": "no-store"})
        return on_link(request, sealed, spoken(token))

    @app.post("/d/{token}/reissue/{check}", response_class=HTMLResponse, include_in_schema=False)
    async def reissue_answer(request: Request, token: str, check: str) -> HTMLResponse:
        def act(form: FormData) -> HTMLResponse:
            given = form.get("code")
            code = given if isinstance(given, str) else ""
            try:
                done = reissue.answer(token, check, code)
            except BadRequest as exc:  # a wrong code: the form again, the attempt counted
                language = spoken(token)() or "en"
                return check_page(token, check, 422, code, pagelanguage.translate(str(exc), language))
            return page("reissue_done", **done)
        return limited(request, token) or await pages.on_link_form(
            request, lambda: reissue.challenge(token, check), act, spoken(token))
