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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from baton.errors import BatonError, http_status
from baton.http import policyform, websessions
from baton.http.csrf import FIELD, CsrfTokens, cross_site
from baton.http.handover_api import store_uploads
from baton.http.ratelimit import RateLimiter
from baton.services import accounts, drills, releases
from baton.services.access import OwnerAccess
from baton.services.handover import HandoverService
from baton.services.releases import PackageBuilder
from baton.services.switch import SwitchService
from baton.services.vault import LANGUAGES, ROLES, VaultService
from baton.store import auditlog
from baton.store.engine import reading
from baton.store.tables import audit_entries, packages
from baton.store.tables import releases as release_rows
from baton.timeutil import local
from handover.errors import HandoverError, ImportRejected
from switch import PolicyError, SwitchError, new_token, policy_from_dict

Page = Callable[..., HTMLResponse]
AUDIT_SHOWN = 200
HASH_WAIT = 10.0  # seconds a sign-in waits for a free password hasher before "busy"
SIGNIN_REFUSED = ("The email, the password or the authenticator code is not right (a code works once): "
                  "please type them again.")
NAV = (("/", "Dashboard"), ("/timeline", "Timeline"), ("/policy", "Policy"), ("/people", "People"),
       ("/register", "Register"), ("/readiness", "Readiness"), ("/drill", "Drills"))


@dataclass(frozen=True)
class Session:
    owner: accounts.Owner
    cookie: str
    totp: bool

    def __repr__(self) -> str:
        return f"Session(owner={self.owner.email!r}, cookie='***')"


class SignInFirst(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


class FormRefused(Exception):
    """A POST without a valid CSRF token or from another origin."""


def countdown(until: datetime | None, now: datetime) -> str:
    """How long until a moment, as people say it: 'in 6 days, 4 hours', '3 hours ago'."""
    if until is None:
        return ""
    seconds = int((until - now).total_seconds())
    ahead = seconds >= 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in
             ((days, "day"), (hours, "hour"), (minutes, "minute")) if n][:2] or ["less than a minute"]
    text = ", ".join(parts)
    return f"in {text}" if ahead else f"{text} ago"


def field_errors(exc: Exception, fields: tuple[str, ...], default: str) -> dict[str, str]:
    """A service error's message placed next to the field it names ('email: expected …')."""
    message = str(exc)
    name = message.split(":", 1)[0].strip().replace("person name", "name")
    return {name if name in fields else default: message}


def install(app: FastAPI, service: SwitchService, vault: VaultService, builder: PackageBuilder,
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

    def local_time(moment: datetime | str | None, session: Session) -> str:
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        return local(moment, session.owner.timezone) or ""

    # -- sign-in ------------------------------------------------------------------------------
    def signin_page(request: Request, nonce: str, status_code: int = 200, errors: dict[str, str] | None = None,
                    email: str = "", next_path: str = "/") -> HTMLResponse:
        response = page("owner/signin", status_code=status_code, errors=errors or {}, email=email,
                        next_path=next_path, csrf=csrf.token("signin", nonce))
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

    # -- dashboard ----------------------------------------------------------------------------
    def dashboard(who: Session, status_code: int = 200, notice: str = "", error: str = "") -> HTMLResponse:
        now = service.clock.now()
        state, recent = service.overview(who.owner.id)
        return view(who, "dashboard", "/", status_code, view=state.to_dict(), notice=notice, error=error,
                    countdown=countdown(state.deadline, now), fires_in=countdown(state.fires_at, now),
                    now_local=local_time(now, who),
                    recent=[{**e, "at_local": local_time(e["at"], who)} for e in reversed(recent)])

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
                    events=[{**e, "at_local": local_time(e["at"], who)} for e in reversed(events)],
                    audit=[{"seq": r.seq, "at_local": local_time(r.at, who), "kind": r.kind,
                            "data": ", ".join(f"{k}={v}" for k, v in sorted(r.data.items())), "hash": r.hash[:16]}
                           for r in rows],
                    audit_count=count, audit_problem=str(problem) if problem else None)

    # -- policy ---------------------------------------------------------------------------------
    def policy_page(who: Session, form: policyform.PolicyForm, status_code: int = 200, saved: bool = False,
                    previewed: bool = False) -> HTMLResponse:
        lines: list[dict[str, Any]] = []
        cut = False
        if form.policy is not None and not form.errors:
            found, cut = policyform.preview(policy_from_dict(form.policy), service.clock.now())
            lines = [{"at_local": local_time(line.at, who), "after": countdown(line.at, service.clock.now()),
                      "event": str(line.event.kind), "stage": line.event.stage, "reason": line.event.reason}
                     for line in found]
        changes = access.held_changes(who.owner.id)
        held = next((c for c in reversed(changes) if c["kind"] == "policy"), None)
        return view(who, "policy", "/policy", status_code, form=form, preview=lines, preview_cut=cut, saved=saved,
                    previewed=previewed, changes=changes, held=held)

    @app.get("/policy", response_class=HTMLResponse, include_in_schema=False)
    def policy(who: Owner) -> HTMLResponse:
        return policy_page(who, policyform.read_form(policyform.form_values(service.get_policy(who.owner.id))))

    @app.post("/policy", response_class=HTMLResponse, include_in_schema=False)
    async def save_policy(request: Request, who: Owner) -> HTMLResponse:
        async with request.form() as submitted:
            checked(request, who, _text(submitted.get(FIELD)))
            typed = {name: _text(submitted.get(name)) for name in policyform.FIELDS}
            action = submitted.get("action")
            code = _text(submitted.get("code"))
        form = policyform.read_form(typed, service.check_policy)
        if form.errors:
            return await run_in_threadpool(policy_page, who, form, 422)
        if action != "save":
            return await run_in_threadpool(policy_page, who, form, 200, False, True)
        assert form.policy is not None

        def save() -> HTMLResponse:
            try:
                if who.totp and service.hastening(who.owner.id, form.policy or {}):
                    with service.engine.begin() as conn:  # a fresh code: a stolen session alone cannot hasten
                        fresh = accounts.verify_totp(conn, service.key, who.owner.id, code, service.clock.now())
                    if not fresh:
                        return policy_page(who, policyform.PolicyForm(form.values, {"code": (
                            "This change could make your release earlier: enter the current 6-digit code from "
                            "your authenticator app (each code works once). Nothing was saved.")}), 422)
                service.set_policy(who.owner.id, form.policy or {}, via="web")
            except PolicyError as exc:
                where = policyform.form_field(exc.field)
                failed = policyform.PolicyForm(form.values, {where: f"{exc.field}: {exc.detail}"})
                return policy_page(who, failed, 422)
            except (BatonError, SwitchError) as exc:
                return policy_page(who, policyform.PolicyForm(form.values, {"interval": str(exc)}), http_status(exc))
            return policy_page(who, form, saved=True)
        return await run_in_threadpool(save)

    @app.post("/changes/{change_id}/cancel", include_in_schema=False)
    def cancel_change(request: Request, who: Owner, change_id: int,
                      csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> Response:
        checked(request, who, csrf_token)
        try:
            change = access.cancel_change(who.owner.id, change_id, via="web")
        except BatonError as exc:
            return dashboard(who, http_status(exc), error=str(exc))
        return dashboard(who, notice=f"Cancelled: {change['what']}. It will not take effect.")

    # -- people ---------------------------------------------------------------------------------
    def people_page(who: Session, status_code: int = 200, errors: dict[str, str] | None = None,
                    typed: dict[str, str] | None = None, notice: str = "") -> HTMLResponse:
        return view(who, "people", "/people", status_code, people=vault.list_people(who.owner.id),
                    errors=errors or {}, typed=typed or {"language": "en", "role": "heir"}, notice=notice,
                    languages=LANGUAGES, roles=ROLES, fingerprint=vault.fingerprint)

    @app.get("/people", response_class=HTMLResponse, include_in_schema=False)
    def people(who: Owner) -> HTMLResponse:
        return people_page(who)

    @app.post("/people", response_class=HTMLResponse, include_in_schema=False)
    def add_person(request: Request, who: Owner, name: Annotated[str, Form()] = "",
                   display_name: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
                   language: Annotated[str, Form()] = "en", role: Annotated[str, Form()] = "heir",
                   csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> HTMLResponse:
        checked(request, who, csrf_token)
        typed = {"name": name, "display_name": display_name, "email": email, "language": language, "role": role}
        if role != "verifier" and not email.strip():
            return people_page(who, 422, {"email": "email: a holder needs an address for the enrolment link"}, typed)
        try:
            vault.add_person(who.owner.id, name.strip(), display_name.strip(), email.strip() or None, language, role)
        except BatonError as exc:
            return people_page(who, exc.status, field_errors(exc, tuple(typed), "name"), typed)
        sent = " An enrolment link is on its way to them." if role != "verifier" else ""
        return people_page(who, notice=f"{name.strip()} was added.{sent}")

    @app.post("/people/checks", response_class=HTMLResponse, include_in_schema=False)
    def send_checks(request: Request, who: Owner, csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> HTMLResponse:
        checked(request, who, csrf_token)
        try:
            sent = vault.request_checks(who.owner.id, None, "owner", notify=True)
        except BatonError as exc:
            return people_page(who, exc.status, {"checks": str(exc)})
        return people_page(who, notice=f"Key checks sent to {len(sent)} holder{'' if len(sent) == 1 else 's'}.")

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

    # -- readiness and drills -------------------------------------------------------------------
    @app.get("/readiness", response_class=HTMLResponse, include_in_schema=False)
    def readiness(who: Owner) -> HTMLResponse:
        return view(who, "readiness", "/readiness", report=handover.readiness(who.owner.id),
                    now_local=local_time(service.clock.now(), who))

    def drill_page(who: Session, status_code: int = 200, report: dict[str, Any] | None = None,
                   error: str = "") -> HTMLResponse:
        with reading(service.engine) as conn:
            rows = conn.execute(
                select(release_rows.c.id, release_rows.c.created_at, func.count(packages.c.id).label("packages"))
                .outerjoin(packages, packages.c.release_id == release_rows.c.id)
                .where(release_rows.c.owner_id == who.owner.id, release_rows.c.drill.is_(True))
                .group_by(release_rows.c.id, release_rows.c.created_at)
                .order_by(release_rows.c.id.desc()).limit(50)).all()
            listed = {r.id: conn.execute(select(packages.c.id).where(packages.c.release_id == r.id)
                                         .order_by(packages.c.id)).scalars().all() for r in rows}
        past = [{"id": r.id, "at_local": local_time(r.created_at, who), "packages": listed[r.id]} for r in rows]
        return view(who, "drill", "/drill", status_code, past=past, report=report, error=error)

    @app.get("/drill", response_class=HTMLResponse, include_in_schema=False)
    def drill(who: Owner) -> HTMLResponse:
        return drill_page(who)

    @app.post("/drill", response_class=HTMLResponse, include_in_schema=False)
    def start_drill(request: Request, who: Owner, csrf_token: Annotated[str, Form(alias=FIELD)] = "",
                    ask_holders: Annotated[str, Form()] = "") -> HTMLResponse:
        checked(request, who, csrf_token)
        try:
            report = drills.start_drill(vault, builder, who.owner.id, ask_holders == "yes")
        except (BatonError, SwitchError) as exc:
            return drill_page(who, http_status(exc), error=str(exc))
        return drill_page(who, report=report)

    @app.get("/drill/{release}/packages/{package}", include_in_schema=False, response_model=None)
    def drill_package(who: Owner, release: int, package: int) -> Response:
        try:
            path = releases.drill_package(builder, who.owner.id, release, package, service.clock.now())
        except BatonError as exc:
            return page("link_invalid", status_code=exc.status, why="missing", message=str(exc))
        return FileResponse(path, media_type="application/zip", filename=path.name)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
