"""The owner's People page: the heirs, staff, notaries and verifiers, adding one, editing one (a verifier's
changes reach the policy: ``services.people``), asking every holder to prove their key, sending a holder
who has not enrolled their enrolment link again, and naming each compartment's collector
(``services.collector``)."""

from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse

from baton.errors import BatonError
from baton.http.csrf import FIELD
from baton.http.ownerkit import OwnerKit, Session, field_errors
from baton.services import collector, enrolment
from baton.services.people import PeopleBook
from baton.services.vault import LANGUAGES, ROLES, VaultService


def install(app: FastAPI, kit: OwnerKit, vault: VaultService, book: PeopleBook) -> None:
    Owner = Annotated[Session, Depends(kit.signed_in)]

    def people_page(who: Session, status_code: int = 200, errors: dict[str, str] | None = None,
                    typed: dict[str, str] | None = None, notice: str = "") -> HTMLResponse:
        listed = [{**p, "verified_local": kit.local_time(p["verified_at"], who),
                   "leaves_local": kit.local_time(p.get("leaves_at"), who),
                   "email_from_local": kit.local_time((p.get("email_from") or {}).get("takes_effect_at"), who)}
                  for p in book.listed(who.owner.id)]
        can_collect = [p for p in listed if p["role"] != "verifier" and (p["recipient"] or "").startswith("age1")]
        return kit.view(who, "people", "/people", status_code, people=listed,
                        errors=errors or {}, typed=typed or {"language": "en", "role": "heir"}, notice=notice,
                        languages=LANGUAGES, roles=ROLES, fingerprint=vault.fingerprint,
                        compartments=vault.list_compartments(who.owner.id), can_collect=can_collect)

    @app.get("/people", response_class=HTMLResponse, include_in_schema=False)
    def people(who: Owner) -> HTMLResponse:
        return people_page(who)

    @app.post("/people", response_class=HTMLResponse, include_in_schema=False)
    def add_person(request: Request, who: Owner, name: Annotated[str, Form()] = "",
                   display_name: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
                   language: Annotated[str, Form()] = "en", role: Annotated[str, Form()] = "heir",
                   timezone: Annotated[str, Form()] = "",
                   csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> HTMLResponse:
        kit.checked(request, who, csrf_token)
        typed = {"name": name, "display_name": display_name, "email": email, "language": language, "role": role,
                 "timezone": timezone}
        if role != "verifier" and not email.strip():
            return people_page(who, 422, {"email": "email: a holder needs an address for the enrolment link"}, typed)
        try:
            made = book.add(who.owner.id, name.strip(), display_name.strip(), email.strip() or None, language, role,
                            timezone.strip() or None, via="web")
        except BatonError as exc:
            return people_page(who, exc.status, field_errors(exc, tuple(typed), "name"), typed)
        sent = " An enrolment link is on its way to them." if role != "verifier" else ""
        if role == "verifier":
            sent = (" Your policy asks them from now on." if made.get("asked") else
                    " Your policy has no confirmation window yet, so nobody is asked: set one on the Policy page.")
        return people_page(who, notice=f"{name.strip()} was added.{sent}")

    @app.post("/people/checks", response_class=HTMLResponse, include_in_schema=False)
    def send_checks(request: Request, who: Owner, csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> HTMLResponse:
        kit.checked(request, who, csrf_token)
        try:
            sent = vault.request_checks(who.owner.id, None, "owner", notify=True)
        except BatonError as exc:
            return people_page(who, exc.status, {"checks": str(exc)})
        return people_page(who, notice=f"Key checks sent to {len(sent)} holder{'' if len(sent) == 1 else 's'}.")

    @app.post("/people/collector", response_class=HTMLResponse, include_in_schema=False)
    def set_collector(request: Request, who: Owner, compartment: Annotated[str, Form()] = "",
                      collector_name: Annotated[str, Form(alias="collector")] = "",
                      csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> HTMLResponse:
        kit.checked(request, who, csrf_token)
        try:
            done = collector.set_collector(vault, who.owner.id, compartment, collector_name.strip() or None)
        except BatonError as exc:
            return people_page(who, exc.status, {"checks": str(exc)})
        if done["collector"] is None:
            return people_page(who, notice=f"{compartment}: nobody collects the shares; holders forward nothing.")
        return people_page(who, notice=f"{compartment}: {done['collector']} collects the shares after a release; "
                                       "each holder may forward theirs, sealed to that key, from their download page.")

    @app.post("/people/{name}/enrolment", response_class=HTMLResponse, include_in_schema=False)
    def resend_enrolment(request: Request, who: Owner, name: str,
                         csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> HTMLResponse:
        kit.checked(request, who, csrf_token)
        try:
            sent = enrolment.resend_enrolment(vault, who.owner.id, name)
        except BatonError as exc:
            return people_page(who, exc.status, {"checks": str(exc)})
        return people_page(who, notice=f"A new enrolment link was sent to {sent['name']} ({sent['email']}); it "
                                       f"works until {kit.local_time(sent['expires'], who)}. Older links for "
                                       f"{sent['name']} no longer work.")

    def person_page(who: Session, name: str, status_code: int = 200, errors: dict[str, str] | None = None,
                    typed: dict[str, str] | None = None) -> HTMLResponse:
        person = next((p for p in book.listed(who.owner.id) if p["name"] == name and not p.get("leaves_at")), None)
        if person is None:
            return people_page(who, 404, {"checks": f"There is nobody called {name} in People."})
        shown = typed or {"display_name": person["display_name"], "email": person["email"] or "",
                          "language": person["language"], "timezone": person["timezone"] or ""}
        return kit.view(who, "person", "/people", status_code, person=person, typed=shown, errors=errors or {},
                        languages=LANGUAGES)

    @app.get("/people/{name}/edit", response_class=HTMLResponse, include_in_schema=False)
    def person(who: Owner, name: str) -> HTMLResponse:
        return person_page(who, name)

    @app.post("/people/{name}/edit", response_class=HTMLResponse, include_in_schema=False)
    def edit_person(request: Request, who: Owner, name: str, display_name: Annotated[str, Form()] = "",
                    email: Annotated[str | None, Form()] = None, language: Annotated[str, Form()] = "en",
                    timezone: Annotated[str, Form()] = "",
                    csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> HTMLResponse:
        kit.checked(request, who, csrf_token)
        typed = {"display_name": display_name, "email": email or "", "language": language, "timezone": timezone}
        try:
            edited = book.edit(who.owner.id, name, display_name=display_name, email=email, language=language,
                               timezone=timezone.strip(), via="web")
        except BatonError as exc:
            return person_page(who, name, exc.status, field_errors(exc, tuple(typed), "display_name"), typed)
        waits = edited.get("email_from")
        later = (f" The new address is used from {kit.local_time(waits['takes_effect_at'], who)}: a verifier's "
                 "address waits a cooling-off, and you were told on every channel." if waits else "")
        return people_page(who, notice=f"{name} was saved.{later}")

    @app.post("/people/{name}/remove", response_class=HTMLResponse, include_in_schema=False)
    def remove_person(request: Request, who: Owner, name: str,
                      csrf_token: Annotated[str, Form(alias=FIELD)] = "") -> HTMLResponse:
        kit.checked(request, who, csrf_token)
        try:
            removed = book.remove(who.owner.id, name, via="web")
        except BatonError as exc:
            return person_page(who, name, exc.status, {"display_name": str(exc)})
        leaves = removed.get("leaves_at")
        later = (f" Your policy still asks them until {kit.local_time(leaves, who)}: removing a verifier waits a "
                 "cooling-off, and you were told on every channel." if leaves else "")
        return people_page(who, notice=f"{name} was removed.{later}")
