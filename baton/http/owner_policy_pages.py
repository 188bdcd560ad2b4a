"""The owner's policy page: the form with every mistake next to its field, and a preview of what
would happen if the owner never checked in again (the page lands on it, also on a phone)."""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from baton.errors import BatonError, http_status
from baton.http import eventwords, policyform, policywords
from baton.http.csrf import FIELD
from baton.http.ownerkit import OwnerKit, Session, countdown, text_of
from baton.services import accounts, verifiers
from baton.services.access import OwnerAccess
from switch import PolicyError, SwitchError, policy_from_dict, unaskable_verifiers

HASTENING_CODE = ("This change could make your release earlier: enter the current 6-digit code from your "
                  "authenticator app (each code works once). Nothing was saved.")


def install(app: FastAPI, kit: OwnerKit, access: OwnerAccess) -> None:
    service = kit.service
    Owner = Annotated[Session, Depends(kit.signed_in)]

    def policy_page(who: Session, form: policyform.PolicyForm, status_code: int = 200, saved: bool = False,
                    previewed: bool = False) -> HTMLResponse:
        lines: list[dict[str, Any]] = []
        cut = False
        now = service.clock.now()
        unaskable: tuple[str, ...] = ()
        short_of_quorum: tuple[int, int] | None = None
        if form.policy is not None and not form.errors:
            typed = policy_from_dict(form.policy)
            unaskable = unaskable_verifiers(verifiers.addressed_policy(service.engine, who.owner.id, typed))
            if typed.confirm and unaskable and len(typed.confirm.verifiers) - len(unaskable) < typed.confirm.quorum:
                short_of_quorum = (len(typed.confirm.verifiers) - len(unaskable), typed.confirm.quorum)
            found, cut = policyform.preview(typed, now)
            lines = [{"at_local": kit.local_time(line.at, who), "after": countdown(line.at, now),
                      "event": eventwords.kind_words(str(line.event.kind)), "stage": line.event.stage,
                      "reason": eventwords.in_zone(line.event.reason, who.owner.timezone)} for line in found]
        changes = access.held_changes(who.owner.id)
        held = next((c for c in reversed(changes) if c["kind"] == "policy"), None)
        errors = [(name, form.errors[name]) for name in (*policyform.FIELDS, "code") if name in form.errors]
        return kit.view(who, "policy", "/policy", status_code, form=form, preview=lines, preview_cut=cut, saved=saved,
                        previewed=previewed, changes=changes, held=held, listed_errors=errors,
                        unaskable=unaskable, short_of_quorum=short_of_quorum)

    @app.get("/policy", response_class=HTMLResponse, include_in_schema=False)
    def policy(who: Owner) -> HTMLResponse:
        stored = verifiers.shown_with_addresses(service.engine, who.owner.id, service.get_policy(who.owner.id))
        return policy_page(who, policyform.read_form(policyform.form_values(stored)))

    @app.post("/policy", response_class=HTMLResponse, include_in_schema=False)
    async def save_policy(request: Request, who: Owner) -> HTMLResponse:
        async with request.form() as submitted:
            kit.checked(request, who, text_of(submitted.get(FIELD)))
            typed = {name: text_of(submitted.get(name)) for name in policyform.FIELDS}
            action = submitted.get("action")
            code = text_of(submitted.get("code"))
        form = policyform.read_form(typed, service.check_policy)
        if form.errors:
            return await run_in_threadpool(policy_page, who, form, 422, False, action != "save")
        if action != "save":
            return await run_in_threadpool(policy_page, who, form, 200, False, True)
        assert form.policy is not None

        def save() -> HTMLResponse:
            try:
                if who.totp and service.hastening(who.owner.id, form.policy or {}):
                    with service.engine.begin() as conn:  # a fresh code: a stolen session alone cannot hasten
                        fresh = accounts.verify_totp(conn, service.key, who.owner.id, code, service.clock.now())
                    if not fresh:
                        return policy_page(who, policyform.PolicyForm(form.values, {"code": HASTENING_CODE}), 422)
                service.set_policy(who.owner.id, form.policy or {}, via="web")
            except PolicyError as exc:
                where = policyform.form_field(exc.field)
                failed = policyform.PolicyForm(form.values, {where: policywords.owner_words(exc.field, exc.detail)})
                return policy_page(who, failed, 422)
            except (BatonError, SwitchError) as exc:
                return policy_page(who, policyform.PolicyForm(form.values, {"interval": str(exc)}), http_status(exc))
            return policy_page(who, form, saved=True)
        return await run_in_threadpool(save)
