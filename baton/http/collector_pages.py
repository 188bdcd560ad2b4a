"""A compartment's collector on the web: the holder's download page forwards a share sealed in the browser,
and the collector's page gathers what arrived and opens it in the collector's browser (``services.collector``).

    GET  /d/<token>                    the download page; with a collector, the form that forwards the share
    POST /d/<token>/forward            the share, sealed to the collector in the holder's browser → stored
    GET  /c/<token>                    the collector's page: the sealed shares received, opened in the browser
    GET  /c/<token>/compartment.age    the released compartment's age file (ciphertext) for that page

Every POST passes the link pages' guard (another site's form, a link pressed too often, an address that
keeps trying unknown links) and the body limit; a refusal is a page in the person's language.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.datastructures import FormData

from baton.errors import BatonError
from baton.http import pagelanguage, scripts
from baton.http.link_pages import LinkPages
from baton.services import collector, releases
from baton.services.releases import PackageBuilder
from baton.services.vault import VaultService
from baton.store.links import Purpose


def download_page(page: Callable[..., HTMLResponse], vault: VaultService, builder: PackageBuilder, token: str,
                  error: str | None = None, status_code: int = 200) -> HTMLResponse:
    """The holder's download page; where the compartment has a collector, with the forwarding form (scripted)."""
    shown = releases.show_download(builder, token, vault.clock.now())
    forwarding = collector.forwarding(vault, token)
    if forwarding is None or forwarding["forwarded_at"] is not None:
        return page("download", status_code=status_code, **shown, forwarding=forwarding, forward_error=error)
    return scripts.with_script(page("download", status_code=status_code, **shown, forwarding=forwarding,
                                         forward_error=error, forward_url=f"/d/{token}/forward",
                                         script=scripts.script("forward")), "forward")


def install(app: FastAPI, vault: VaultService, builder: PackageBuilder, pages: LinkPages) -> None:
    def spoken(token: str, purpose: Purpose) -> str | None:
        return vault.holder_language(token, purpose)

    @app.post("/d/{token}/forward", response_class=HTMLResponse, include_in_schema=False)
    async def forward(request: Request, token: str) -> HTMLResponse:
        def act(form: FormData) -> HTMLResponse:
            given = form.get("sealed")
            try:
                done = collector.forward(vault, token, given if isinstance(given, str) else "")
            except BatonError as exc:  # the page again, saying why; nothing was stored
                language = spoken(token, Purpose.DOWNLOAD) or "en"
                return download_page(pages.page, vault, builder, token, pagelanguage.translate(str(exc), language),
                                     exc.status)
            return pages.page("forward_done", **done)
        return await pages.on_link_form(request, lambda: collector.forwarding(vault, token), act,
                                        lambda: spoken(token, Purpose.DOWNLOAD))

    @app.get("/c/{token}", response_class=HTMLResponse, include_in_schema=False)
    def collect_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            view = collector.collection(vault, token)
            return scripts.with_script(pages.page("collect", **view, file_url=f"/c/{token}/compartment.age",
                                                  script=scripts.script("collector")), "collector")
        return pages.on_link(request, show, lambda: spoken(token, Purpose.COLLECT))

    @app.get("/c/{token}/compartment.age", include_in_schema=False, response_model=None)
    def compartment_file(request: Request, token: str) -> Response:
        def give() -> Response:
            path, name = collector.compartment_file(vault, token)
            return FileResponse(path, media_type="application/octet-stream", filename=name,
                                headers={"Cache-Control": "no-store"})
        return pages.on_link(request, give, lambda: spoken(token, Purpose.COLLECT))
