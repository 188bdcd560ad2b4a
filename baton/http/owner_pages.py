"""The owner's web pages: sign-in (password and TOTP), the dashboard with its countdown and
check-in button, the timeline and audit log, the policy with a preview, people and their
keys, the register, the readiness report, and fire drills.

Pages are rendered on the server and carry no script. A session is a random cookie
(HttpOnly, SameSite=Strict, Secure on https deployments) kept only as a hash; every form
carries a CSRF token bound to the session and every POST checks it and the Origin.
Failed sign-ins are limited per address and per account: a locked web sign-in never stops
the owner checking in by API token, CLI or a reminder's link, which have limits of their own.
"""


import tempfile
import threading
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from baton.errors import BatonError, http_status
from baton.http import eventwords, owner_drill_pages, owner_people_pages, owner_policy_pages, websessions
from baton.http.csrf import FIELD, CsrfTokens, cross_site
from baton.http.handover_api import store_uploads
from baton.http.ownerkit import FormRefused, OwnerKit, Page, Session, SignInFirst, countdown
from baton.http.ownerkit import text_of as _text
from baton.http.ratelimit import RateLimiter
from baton.services import accounts, health
from baton.services.access import OwnerAccess
from baton.services.handover import HandoverService
from baton.services.people import PeopleBook
from baton.services.releases import PackageBuilder
from baton.services.switch import SwitchService
from baton.services.vault import VaultService
from baton.services.witness.linking import Linking
from baton.store import auditlog
from baton.store.engine import reading
from baton.store.tables import audit_entries, owners
from handover.errors import HandoverError, ImportRejected
from switch import SwitchError, new_token

AUDIT_SHOWN = 200
HASH_WAIT = 10.0  # seconds a sign-in waits for a free password hasher before "busy"
SIGNIN_REFUSED = ("The email, the password or the authenticator code is not right (a code works once): "
                  "please type them again.")
NAV = (("/", "Dashboard"), ("/timeline", "Timeline"), ("/policy", "Policy"), ("/people", "People"),
       ("/register", "Register"), ("/readiness", "Readiness"), ("/drill", "Drills"))


def install(app: FastAPI, service: SwitchService, vault: VaultService, book: PeopleBook, builder: PackageBuilder,
            handover: HandoverService, csrf: CsrfTokens, page: Page) -> None:
    settings = service.settings
    access = OwnerAccess(service)
    secure = settings.base_url.startswith("https://")
    cookie_name = "__Host-baton_session" if secure else "baton_session"
    nonce_name = "__Host-baton_signin" if secure else "baton_signin"
    limits = websessions.SessionLimits(timedelta(minutes=settings.session_idle_minutes),
                                       timedelta(hours=settings.session_hours))

    def clock() -> float:  # the service's clock: limits move with a test's fake time
        return service.clock.now().timestamp()
    by_address = RateLimiter(settings.signin_failures_per_minute, clock=clock)
    by_account = RateLimiter(settings.signin_failures_per_account, window=15 * 60, clock=clock)
    hashing = threading.BoundedSemaphore(settings.signin_concurrency)

    @app.exception_handler(SignInFirst)
    async def _sign_in_first(_request: Request, exc: SignInFirst) -> Response:
        return RedirectResponse(f"/signin?next={quote(exc.path)}", status_code=303)

    @app.exception_handler(FormRefused)
    async def _refused(_request: Request, _exc: FormRefused) -> Response:
        return page("link_invalid", status_code=403, why="refused",
                    message="This form has expired or did not come from Baton's own page. "
                            "Go back, reload the page and try again.")

    def address(request: Request) -> str:
        return request.client.host if request.client else "?"

    def cookie(response: Response, name: str, value: str, max_age: int, path: str = "/") -> None:
        response.set_cookie(name, value, max_age=max_age, path=path, secure=secure, httponly=True, samesite="strict")

    def signed_in(request: Request) -> Session:
        token = request.cookies.get(cookie_name, "")
        now = service.clock.now()
        found = None
        if token:
            with reading(service.engine) as conn:  # most clicks only read
                found = websessions.find_session(conn, token, now, limits)
        if found is None:
            raise SignInFirst(request.url.path)
        if websessions.needs_writing(found, now, limits):
            with service.engine.begin() as conn:
                websessions.keep_alive(conn, found, now)
        if not found.live:
            raise SignInFirst(request.url.path)
        return Session(found.owner, token, found.totp)

    Owner = Annotated[Session, Depends(signed_in)]

    def checked(request: Request, session: Session, given: str | None) -> None:
        if not csrf.valid("owner", session.cookie, given) or cross_site(request, settings.base_url):
            raise FormRefused()

    def view(session: Session, name: str, active: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return page(f"owner/{name}", status_code=status_code, owner=session.owner, totp=session.totp, nav=NAV,
                    active=active, csrf=csrf.token("owner", session.cookie), **context)

    kit = OwnerKit(service, signed_in, checked, view, page)
    local_time = kit.local_time

    # -- sign-in ------------------------------------------------------------------------------
    def signin_page(request: Request, nonce: str, status_code: int = 200, errors: dict[str, str] | None = None,
                    email: str = "", next_path: str = "/") -> HTMLResponse:
        with reading(service.engine) as conn:  # an empty install: the page says what comes first
            empty = conn.execute(select(func.count()).select_from(owners)).scalar_one() == 0
        response = page("owner/signin", status_code=status_code, errors=errors or {}, email=email,
                        next_path=next_path, csrf=csrf.token("signin", nonce), empty=empty)
        cookie(response, nonce_name, nonce, max_age=3600, path="/signin")
        return response

    def safe_next(value: str) -> str:
        """Only a path of this site: never '//evil.example' or a full URL."""
        return value if value.startswith("/") and not value.startswith(("//", "/\\")) else "/"

    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_form(request: Request, next: str = "/") -> HTMLResponse:
        return signin_page(request, new_token("n_")[0], next_path=safe_next(next))

    @app.post("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin(request: Request, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
               totp: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form(alias=FIELD)] = "",
               next: Annotated[str, Form()] = "/") -> Response:
        nonce = request.cookies.get(nonce_name, "")
        next_path = safe_next(next)
        if not csrf.valid("signin", nonce, csrf_token) or cross_site(request, settings.base_url):
            return signin_page(request, new_token("n_")[0], 403, {"form": "This sign-in form had expired: "
                                                                  "please type your details again."}, email, next_path)
        account = email.strip().lower()
        if by_address.blocked(address(request)) or by_account.blocked(account):
            return signin_page(request, nonce, 429, {"form": "Too many failed sign-ins: wait a few minutes and try "
                                                     "again. Checking in by a reminder's link or the CLI still works."},
                               email, next_path)
        missing = {name: f"{label}: please fill this in" for name, label, value in
                   (("email", "Email", email), ("password", "Password", password)) if not value.strip()}
        if missing:
            return signin_page(request, nonce, 422, missing, email, next_path)
        # Every attempt counts for its address before the costly hash (argon2id: ~0.2 s of a core and
        # 64 MiB), so parallel attempts cannot slip past the limit; the hash runs with no connection
        # held and at most ``signin_concurrency`` at a time, so a flood of sign-ins cannot starve
        # check-ins of connections, threads or memory.
        by_address.hit(address(request))
        with reading(service.engine) as conn:
            found = accounts.password_row(conn, account)
        if not hashing.acquire(timeout=HASH_WAIT):
            return signin_page(request, nonce, 503, {"form": "Baton is busy signing people in: try again in a "
                                                     "minute."}, email, next_path)
        try:
            matched = accounts.password_matches(found, password)  # spends the time even for no such owner
        finally:
            hashing.release()
        owner_id = found[0] if matched and found is not None else None
        with service.engine.begin() as conn:
            # One answer for every failure: a wrong address, password or code, or a missing code, must
            # not tell a guesser that the password was right (it would then only need the code).
            if owner_id is None or (accounts.has_totp(conn, owner_id) and not totp.strip()) \
                    or not accounts.verify_totp(conn, service.key, owner_id, totp, service.clock.now()):
                failed: dict[str, str] | None = {"form": SIGNIN_REFUSED}
            else:
                failed = None
                accounts.rehash_if_needed(conn, owner_id, password)
                websessions.purge_expired(conn, service.clock.now(), limits)  # sessions nobody closed
                session = websessions.open_session(conn, owner_id, service.clock.now(), limits, address(request),
                                                   request.headers.get("user-agent", ""))
                service.record(conn, owner_id, "web.signin", {"address": address(request)})
        if failed is not None:
            by_account.hit(account)
            return signin_page(request, nonce, 401, failed, email, next_path)
        response = RedirectResponse(next_path, status_code=303)
        cookie(response, cookie_name, session, max_age=int(limits.absolute.total_seconds()))
        response.delete_cookie(nonce_name, path="/signin")
        return response

    @app.post("/signout", include_in_schema=False)
    def signout(request: Request, who: Owner, csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> Response:
        checked(request, who, csrf_token)
        with service.engine.begin() as conn:
            websessions.close_session(conn, who.cookie)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(cookie_name, path="/", secure=secure, httponly=True, samesite="strict")
        return response

    def readable(event: dict[str, Any], who: Session) -> dict[str, Any]:
        """A timeline row as a person reads it: the kind in words, every moment in the owner's zone."""
        return {**event, "at_local": local_time(event["at"], who), "event": eventwords.kind_words(event["event"]),
                "reason": eventwords.in_zone(event.get("reason") or "", who.owner.timezone)}

    # -- dashboard ----------------------------------------------------------------------------
    def dashboard(who: Session, status_code: int = 200, notice: str = "", error: str = "") -> HTMLResponse:
        now = service.clock.now()
        state, recent = service.overview(who.owner.id)
        worker = health.worker_report(service.engine, settings, now)
        asked = state.release_request or {}
        return view(who, "dashboard", "/", status_code, view=state.to_dict(), notice=notice, error=error,
                    release_asked=local_time(asked.get("at"), who),
                    release_completes=local_time(asked.get("completes"), who),
                    countdown=countdown(state.deadline, now), fires_in=countdown(state.fires_at, now),
                    now_local=local_time(now, who), worker=worker,
                    witnesses=[{**w, "last_heartbeat": local_time(w["last_heartbeat"], who)}
                               for w in Linking(service).listed(who.owner.id)],
                    recent=[readable(e, who) for e in reversed(recent)])

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(who: Owner, checked_in: int = 0) -> HTMLResponse:
        return dashboard(who, notice="Checked in. The switch is re-armed." if checked_in else "")

    @app.post("/checkin", include_in_schema=False)
    def web_checkin(request: Request, who: Owner, csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> Response:
        checked(request, who, csrf_token)
        try:
            service.check_in(who.owner.id, "web")
        except (BatonError, SwitchError) as exc:
            return dashboard(who, http_status(exc), error=str(exc))
        return RedirectResponse("/?checked_in=1", status_code=303)

    # -- timeline and audit log -----------------------------------------------------------------
    @app.get("/timeline", response_class=HTMLResponse, include_in_schema=False)
    def timeline(who: Owner) -> HTMLResponse:
        events = service.timeline(who.owner.id, 1000)
        with reading(service.engine) as conn:
            count, problem = auditlog.verify(conn, who.owner.id)
            rows = conn.execute(select(audit_entries.c.seq, audit_entries.c.at, audit_entries.c.kind,
                                       audit_entries.c.data, audit_entries.c.hash)
                                .where(audit_entries.c.owner_id == who.owner.id)
                                .order_by(audit_entries.c.seq.desc()).limit(AUDIT_SHOWN)).all()
        return view(who, "timeline", "/timeline",
                    events=[readable(e, who) for e in reversed(events)],
                    audit=[{"seq": r.seq, "at_local": local_time(r.at, who), "kind": r.kind,
                            "data": eventwords.in_zone(", ".join(f"{k}={v}" for k, v in sorted(r.data.items())),
                                                       who.owner.timezone), "hash": r.hash[:16]}
                           for r in rows],
                    audit_count=count, audit_problem=str(problem) if problem else None)

    @app.post("/changes/{change_id}/cancel", include_in_schema=False)
    def cancel_change(request: Request, who: Owner, change_id: int,
                      csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> Response:
        checked(request, who, csrf_token)
        try:
            change = access.cancel_change(who.owner.id, change_id, via="web")
        except BatonError as exc:
            return dashboard(who, http_status(exc), error=str(exc))
        return dashboard(who, notice=f"Cancelled: {change['what']}. It will not take effect.")

    # -- register -------------------------------------------------------------------------------
    def register_page(who: Session, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("report", None)
        context.setdefault("rejected", None)
        context.setdefault("error", "")
        return view(who, "register", "/register", status_code, summary=handover.summary(who.owner.id), **context)

    @app.get("/register", response_class=HTMLResponse, include_in_schema=False)
    def register(who: Owner) -> HTMLResponse:
        return register_page(who)

    @app.post("/register", response_class=HTMLResponse, include_in_schema=False)
    async def upload_register(request: Request, who: Owner) -> HTMLResponse:
        async with request.form() as submitted:  # closes the uploaded files' spools
            checked(request, who, _text(submitted.get(FIELD)))
            files = [f for f in submitted.getlist("files") if isinstance(f, StarletteUpload) and f.filename]
            return await import_uploads(who, files)

    async def import_uploads(who: Session, files: list[StarletteUpload]) -> HTMLResponse:
        if not files:
            return await run_in_threadpool(partial(
                register_page, who, 422, error="files: choose at least one file (customers.csv, domains.csv, "
                                               "hosting.csv, registrars.csv or a WHMCS export)"))
        with tempfile.TemporaryDirectory(prefix="baton-import-") as folder:
            try:
                await store_uploads(files, Path(folder))  # type: ignore[arg-type]
                report = await run_in_threadpool(handover.import_files, who.owner.id, [Path(folder)])
            except ImportRejected as rejected:
                listed = {"total": rejected.total, "errors": [e.to_dict() for e in rejected.errors]}
                return await run_in_threadpool(partial(register_page, who, 422, rejected=listed))
            except (BatonError, HandoverError) as refused:
                return await run_in_threadpool(partial(register_page, who, 422, error=str(refused)))
        return await run_in_threadpool(partial(register_page, who, report=report.to_dict()))

    owner_policy_pages.install(app, kit, access)
    owner_people_pages.install(app, kit, vault, book)
    owner_drill_pages.install(app, kit, vault, builder, handover)
