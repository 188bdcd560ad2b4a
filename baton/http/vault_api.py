"""The vault's HTTP face: the owner's vault and people API, and holders' link pages.

The owner's machine sends only ciphertext and public keys; holders' pages take a public
key, a key-check code, or give a package. A GET only shows; a POST acts.
"""

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, WithJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from baton.errors import BadRequest
from baton.http import collector_pages, pagelanguage, scripts
from baton.http.link_pages import OnLinkForm
from baton.http.models import MAX_ID, Language, binary, problems
from baton.http.vault_models import (
    CompartmentView,
    DrillReport,
    KeyCheck,
    NewPersonView,
    OwnerKeyView,
    PersonView,
    Removed,
    Uploaded,
    VaultFinding,
)
from baton.services import collector, drills, releases, uploads
from baton.services.people import PeopleBook
from baton.services.releases import PackageBuilder
from baton.services.vault import VaultService
from baton.store.links import Purpose

OwnerWork = Callable[[Any, Callable[[int], Any], int], Awaitable[JSONResponse]]
CompartmentName = Annotated[str, Path(description="The compartment's name.", examples=["operations"])]
PersonName = Annotated[str, Path(description="The person's short id.", examples=["ana"])]
NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,62}$"  # documented only: the service checks it, in its own words
UPLOAD_CHUNK = 1 << 20  # bytes of an upload gathered before they are written out
_VERSION = re.compile(r'"?([0-9]{1,10})"?')  # ASCII digits only: str.isdigit() takes "²", which int() refuses
# Public keys made for the document's examples.
AGE_KEY = "age1fshylh4x5vjsq0nvhx4zz5s902eap7pp9d5ss8rsr3hl968sjevq2q5w6s"
OTHER_AGE_KEY = "age1v6lnld6rnugrl7mwerw33zmsf9gtx9l86zj47n8gxk2k2ngpdgwsnwzkxg"
# A share policy as ``vault.shares.policy_from_dict`` reads it (its messages name what is wrong).
SHARE_POLICY = {"oneOf": [
    {"type": "object", "title": "One group", "required": ["threshold", "holders"],
     "properties": {"threshold": {"type": "integer", "minimum": 1},
                    "holders": {"type": "array", "items": {"type": "string"}}}},
    {"type": "object", "title": "Groups", "required": ["groups"],
     "properties": {"group_threshold": {"type": "integer", "minimum": 1, "default": 1},
                    "groups": {"type": "array", "items": {
                        "type": "object", "required": ["threshold", "holders"],
                        "properties": {"name": {"type": "string"}, "threshold": {"type": "integer", "minimum": 1},
                                       "holders": {"type": "array", "items": {"type": "string"}}}}}}},
]}


class OwnerKey(BaseModel):
    recipient: str = Field(description="The owner's age public key (age1…).", examples=[AGE_KEY])


class NewCompartment(BaseModel):
    name: str = Field(description="Lower-case letters, digits, '.', '_' or '-'.", examples=["estate"],
                      json_schema_extra={"pattern": NAME_PATTERN})
    release_recipient: str = Field(description="The release key's age public key.", examples=[OTHER_AGE_KEY])
    release_key_owner: str = Field(description="The release key, age-encrypted to the owner (base64).",
                                   examples=["YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSDigKYK"])


class SealedShare(BaseModel):
    recipient: str = Field(description="The holder's key the share is sealed to.", examples=[AGE_KEY])
    sealed: str = Field(description="The share file, age-encrypted to the holder (base64).")


class Split(BaseModel):
    split_id: int = Field(ge=0, lt=2**15, description="The SLIP-39 identifier of the split (15 bits).")
    policy: Annotated[dict[str, Any], WithJsonSchema(SHARE_POLICY)] = Field(
        description="{threshold, holders} for one group, or {group_threshold, groups: [{name, threshold, holders}]}.")
    protected_release_key: str = Field(description="The release key under the master secret (base64).",
                                       examples=["AAECAwQFBgcICQoLDA0ODw=="])
    sealed: dict[str, SealedShare] = Field(description="Each holder's share, by the holder's short id.")


class NewPerson(BaseModel):
    name: str = Field(description="A short id: ana, notary-rossi.", examples=["notary-rossi"],
                      json_schema_extra={"pattern": NAME_PATTERN})
    display_name: str = Field("", examples=["Notary Rossi"])
    email: str | None = Field(None, examples=["rossi@example.org"])
    language: Language = "en"
    role: Literal["heir", "staff", "notary", "verifier"]
    timezone: str | None = Field(None, description="The zone of the dates in their messages (default: the "
                                                   "owner's).", examples=["Europe/Rome"])
    share_contact: bool = Field(False, description="Show this person's e-mail to the other holders of their "
                                                   "compartments in a release (otherwise only their name).")


class PersonEdit(BaseModel):
    display_name: str | None = Field(None, examples=["Giulia Rossi"])
    email: str | None = Field(None, description="Verifiers only; waits a cooling-off when the policy asks them.",
                              examples=["giulia@example.org"])
    language: Language | None = None
    timezone: str | None = Field(None, description='"" goes back to the owner\'s zone.', examples=["Europe/Rome"])


class PersonKey(BaseModel):
    recipient: str = Field(description="An age public key (age1…) or an SSH public key.", examples=[AGE_KEY])
    source: Literal["keycard", "owner"] = Field(
        "owner", description="keycard (made on the owner's machine) or owner (given in person).")


class Collector(BaseModel):
    collector: str | None = Field(description="A person with an age key, by short id; null for nobody.",
                                  examples=["notary-rossi"])


class CollectorView(BaseModel):
    compartment: str
    collector: str | None


class CheckRequest(BaseModel):
    names: list[str] | None = Field(None, description="Whom to check; every holder with a key when null.",
                                    examples=[["ana"]])


class Code(BaseModel):
    code: str = Field(description="The code found in the sealed challenge.", examples=["K7QX-M2PD-9WRT"])


class DrillRequest(BaseModel):
    ask_holders: bool = Field(False, description="Also e-mail each holder a key check (nothing else is sent).")


def install(app: FastAPI, vault: VaultService, book: PeopleBook, builder: PackageBuilder, as_owner: OwnerWork,
            caller: Any,
            owner_id_of: Callable[[Any], Awaitable[int]], page: Callable[..., HTMLResponse],
            on_link: Callable[..., HTMLResponse], on_link_form: OnLinkForm) -> None:
    Who = Annotated[Any, Depends(caller)]

    @app.get("/api/vault/key", tags=["vault"], response_model=OwnerKeyView, responses=problems(404))
    async def get_owner_key(who: Who) -> JSONResponse:
        """The owner's age public key."""
        return await as_owner(who, lambda owner: {"recipient": vault.owner_key(owner),
                                                  "owner_email": vault.owner_email(owner),
                                                  "owner_name": vault.owner_name(owner),
                                                  "fingerprint": vault.fingerprint}, 200)

    @app.put("/api/vault/key", tags=["vault"], response_model=OwnerKey, responses=problems(409, 422))
    async def put_owner_key(who: Who, body: OwnerKey) -> JSONResponse:
        """Set the owner's age public key, once."""
        return await as_owner(who, lambda owner: vault.set_owner_key(owner, body.recipient), 200)

    @app.get("/api/vault/compartments", tags=["vault"], response_model=list[CompartmentView], responses=problems())
    async def list_compartments(who: Who) -> JSONResponse:
        """Compartments: version, size, release key, split and problems."""
        return await as_owner(who, vault.list_compartments, 200)

    @app.post("/api/vault/compartments", tags=["vault"], response_model=CompartmentView,
              responses=problems(404, 409, 422), status_code=201)
    async def create_compartment(who: Who, body: NewCompartment) -> JSONResponse:
        """A new, empty compartment with its release key (public, and encrypted to the owner)."""
        kept = _b64(body.release_key_owner, "release_key_owner")
        return await as_owner(who, lambda owner: vault.create_compartment(owner, body.name, body.release_recipient,
                                                                          kept), 201)

    @app.get("/api/vault/compartments/{name}/release-key", tags=["vault"], response_class=Response,
             responses={**binary("application/octet-stream", "The release key, age-encrypted to the owner."),
                        **problems(404, 422)})
    async def release_key(who: Who, name: CompartmentName) -> Response:
        """The release key, encrypted to the owner (for splitting again on the owner's machine)."""
        owner = await owner_id_of(who)
        data = await run_in_threadpool(vault.release_key_for_owner, owner, name)
        return Response(data, media_type="application/octet-stream")

    @app.get("/api/vault/compartments/{name}/file", tags=["vault"], response_class=Response,
             responses={200: {**binary("application/octet-stream", "The age file; empty before the first upload.")[200],
                              "headers": {"ETag": {"description": 'The version, quoted: "3".',
                                                   "schema": {"type": "string"}}}},
                        **problems(404, 422)})
    async def get_file(who: Who, name: CompartmentName) -> Response:
        """The compartment's age file (empty before the first upload); its version is in ETag."""
        owner = await owner_id_of(who)
        version, digest = await run_in_threadpool(vault.compartment_file, owner, name)
        headers = {"ETag": f'"{version}"', "Cache-Control": "no-store"}
        if digest is None:
            return Response(b"", media_type="application/octet-stream", headers=headers)
        return FileResponse(vault.store.path(digest), media_type="application/octet-stream", headers=headers)

    @app.put("/api/vault/compartments/{name}/file", tags=["vault"], response_model=Uploaded,
             responses=problems(404, 409, 422), openapi_extra={"requestBody": {
                 "required": True, "description": "The new age file (age-encryption.org/v1), as made on the owner's "
                                                  "machine.",
                 "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def put_file(who: Who, name: CompartmentName, request: Request,
                       if_match: Annotated[str, Header(description='The version the file was made from, as read '
                                                                   'in ETag: "3".', examples=['"3"'])]
                       ) -> JSONResponse:
        """Upload a new age file; ``If-Match`` carries the version it was made from (a stale one is refused)."""
        version = _VERSION.fullmatch(if_match)
        if version is None or int(version[1]) > MAX_ID:
            raise BadRequest(f"If-Match: expected the version you read, like \"3\", got {if_match[:40]!r}")
        expected = int(version[1])
        owner = await owner_id_of(who)
        # Checked against If-Match before a byte is stored, streamed to the blob store in chunks (memory stays
        # bounded), checked again when recorded; a refused upload leaves no file behind.
        incoming = await run_in_threadpool(uploads.start, vault, owner, name, expected)
        try:
            pending = bytearray()
            async for chunk in request.stream():
                pending += chunk
                if len(pending) >= UPLOAD_CHUNK:
                    await run_in_threadpool(uploads.write, name, incoming, pending)
                    pending.clear()
            await run_in_threadpool(uploads.write, name, incoming, pending)
            return JSONResponse(await run_in_threadpool(uploads.finish, vault, owner, name, expected, incoming))
        finally:
            incoming.discard()

    @app.put("/api/vault/compartments/{name}/split", tags=["vault"], response_model=CompartmentView,
             responses=problems(404, 409, 422))
    async def put_split(who: Who, name: CompartmentName, body: Split) -> JSONResponse:
        """Store a split made on the owner's machine (sealed shares and the protected release key)."""
        data = body.model_dump()
        return await as_owner(who, lambda owner: vault.set_split(owner, name, data), 200)

    @app.put("/api/vault/compartments/{name}/collector", tags=["vault"], response_model=CollectorView,
             responses=problems(404, 409, 422))
    async def put_collector(who: Who, name: CompartmentName, body: Collector) -> JSONResponse:
        """Name the person the holders may forward their shares to after a release (null: nobody)."""
        return await as_owner(who, lambda owner: collector.set_collector(vault, owner, name, body.collector), 200)

    @app.get("/api/vault/readiness", tags=["vault"], response_model=list[VaultFinding], responses=problems())
    async def readiness(who: Who) -> JSONResponse:
        """What would go wrong if the switch fired now, each with what to do."""
        return await as_owner(who, lambda owner: drills.readiness(vault, owner), 200)

    @app.get("/api/people", tags=["people"], response_model=list[PersonView], responses=problems())
    async def list_people(who: Who) -> JSONResponse:
        """Holders and verifiers, with their key status."""
        return await as_owner(who, book.listed, 200)

    @app.post("/api/people", tags=["people"], response_model=NewPersonView, responses=problems(409, 422),
              status_code=201)
    async def add_person(who: Who, body: NewPerson) -> JSONResponse:
        """Add a holder (sent an enrolment link) or a verifier."""
        return await as_owner(who, lambda owner: book.add(owner, body.name, body.display_name, body.email,
                                                          body.language, body.role, body.timezone,
                                                          share_contact=body.share_contact), 201)

    @app.patch("/api/people/{name}", tags=["people"], response_model=PersonView, responses=problems(404, 422))
    async def edit_person(who: Who, name: PersonName, body: PersonEdit) -> JSONResponse:
        """Change a person's display name, language or time zone, or a verifier's address (which waits a
        cooling-off when the policy asks them)."""
        return await as_owner(who, lambda owner: book.edit(owner, name, display_name=body.display_name,
                                                           email=body.email, language=body.language,
                                                           timezone=body.timezone), 200)

    @app.delete("/api/people/{name}", tags=["people"], response_model=Removed,
                responses=problems(404, 409, 422))
    async def remove_person(who: Who, name: PersonName) -> JSONResponse:
        """Remove a person who holds no share of a current split; a verifier the policy asks leaves it through a
        policy change, which waits a cooling-off."""
        return await as_owner(who, lambda owner: book.remove(owner, name), 200)

    @app.put("/api/people/{name}/key", tags=["people"], response_model=PersonView, responses=problems(404, 422))
    async def set_key(who: Who, name: PersonName, body: PersonKey) -> JSONResponse:
        """Set a holder's public key (from a key card made on the owner's machine)."""
        return await as_owner(who, lambda owner: vault.set_key(owner, name, body.recipient, body.source), 200)

    @app.post("/api/people/checks", tags=["people"], response_model=list[KeyCheck], responses=problems(422))
    async def request_checks(who: Who, body: CheckRequest) -> JSONResponse:
        """Send new key checks to holders (all with a key when no names are given)."""
        return await as_owner(who, lambda owner: vault.request_checks(owner, body.names, "owner", notify=True), 200)

    @app.post("/api/people/{name}/checks/{check}", tags=["people"], response_model=PersonView,
              responses=problems(404, 409, 422))
    async def prove(who: Who, name: PersonName, check: Annotated[int, Path(ge=1, le=MAX_ID)], body: Code
                    ) -> JSONResponse:
        """Answer a key check with the code found in the sealed challenge."""
        return await as_owner(who, lambda owner: vault.prove(owner, name, check, body.code), 200)

    @app.post("/api/drill", tags=["vault"], response_model=DrillReport, responses=problems(409, 422))
    async def drill(who: Who, body: DrillRequest | None = None) -> JSONResponse:
        """Run a fire drill: DRILL packages for the owner only, key checks, and the findings."""
        ask = bool(body and body.ask_holders)
        return await as_owner(who, lambda owner: drills.start_drill(vault, builder, owner, ask), 200)

    @app.get("/api/drill/{release}/packages/{package}", tags=["vault"], response_class=Response,
             responses={**binary("application/zip", "The drill package, marked DRILL."), **problems(404, 409, 422)})
    async def drill_package(who: Who, release: Annotated[int, Path(ge=1, le=MAX_ID)],
                            package: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
        """A drill package's zip."""
        owner = await owner_id_of(who)
        path = await run_in_threadpool(releases.drill_package, builder, owner, release, package, vault.clock.now())
        return FileResponse(path, media_type="application/zip", filename=path.name)

    # -- holders' link pages --------------------------------------------------------------------
    # Each page speaks its holder's language (people.language), and so does a refusal of a link of theirs
    # (used, expired, a key check closed); a link that is nobody's is refused in the browser's language.
    def holder_link(request: Request, token: str, purpose: Purpose, act: Callable[[], HTMLResponse]) -> HTMLResponse:
        return on_link(request, act, lambda: vault.holder_language(token, purpose))

    def scripted(name: str, /, **context: Any) -> HTMLResponse:
        """A page whose key work runs in the holder's browser: its own script, pinned by hash (``scripts``)."""
        return scripts.with_script(page(name, script=scripts.script(name), **context), name)

    @app.get("/e/{token}", response_class=HTMLResponse, include_in_schema=False)
    def enrol_page(request: Request, token: str) -> HTMLResponse:
        return holder_link(request, token, Purpose.ENROL,
                           lambda: scripted("enrol", **vault.enrolment(token), typed="", error=None))

    @app.post("/e/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def enrol(request: Request, token: str) -> HTMLResponse:
        def act(form: FormData) -> HTMLResponse:
            recipient = _text(form.get("recipient"))
            try:
                view = vault.enrol_by_link(token, recipient)
            except BadRequest as exc:
                secret = "SECRET-KEY" in recipient.upper() or "PRIVATE KEY" in recipient.upper()
                shown = vault.enrolment(token)
                return scripted("enrol", status_code=422, **shown, typed="" if secret else recipient,
                                error=pagelanguage.translate(str(exc), shown["language"]))
            return page("enrol_done", language=view["language"], name=view["display_name"],
                        check_url=view["check_url"])
        return await on_link_form(request, lambda: vault.enrolment(token), act,
                                  lambda: vault.holder_language(token, Purpose.ENROL))

    @app.get("/k/{token}", response_class=HTMLResponse, include_in_schema=False)
    def keycheck_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            view, sealed = vault.check_by_link(token)
            return scripted("keycheck", **view, challenge_url=f"/k/{token}/challenge.age", typed="", error=None,
                            sealed_b64=base64.b64encode(sealed).decode())
        return holder_link(request, token, Purpose.KEYCHECK, show)

    @app.get("/k/{token}/challenge.age", include_in_schema=False, response_model=None)
    def keycheck_challenge(request: Request, token: str) -> Response:
        """The sealed challenge as a file; a bad link gets the same explaining page (and lock-out count)."""
        def sealed() -> Response:
            _view, data = vault.check_by_link(token)
            return Response(data, media_type="application/octet-stream",
                            headers={"Content-Disposition": 'attachment; filename="baton-key-check.age"',
                                     "Cache-Control": "no-store"})
        return on_link(request, sealed, lambda: vault.holder_language(token, Purpose.KEYCHECK))

    @app.post("/k/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def keycheck(request: Request, token: str) -> HTMLResponse:
        def act(form: FormData) -> HTMLResponse:
            code = _text(form.get("code"))
            view, sealed = vault.check_by_link(token)
            try:
                done = vault.prove_by_link(token, code)
            except BadRequest as exc:
                return scripted("keycheck", status_code=422, **view, challenge_url=f"/k/{token}/challenge.age",
                                typed=code, error=pagelanguage.translate(str(exc), view["language"]),
                                sealed_b64=base64.b64encode(sealed).decode())
            return page("keycheck_done", language=done["language"], name=done["display_name"])
        return await on_link_form(request, lambda: vault.check_by_link(token), act,
                                  lambda: vault.holder_language(token, Purpose.KEYCHECK))

    @app.get("/d/{token}", response_class=HTMLResponse, include_in_schema=False)
    def download_page(request: Request, token: str) -> HTMLResponse:
        return holder_link(request, token, Purpose.DOWNLOAD,
                           lambda: collector_pages.download_page(page, vault, builder, token))

    @app.post("/d/{token}", include_in_schema=False, response_model=None)
    def download(request: Request, token: str) -> Response:
        holder: dict[str, Any] = {}

        def act() -> HTMLResponse:
            path, filename = releases.take_download(builder, token, vault.clock.now())
            holder["file"] = FileResponse(path, media_type="application/zip", filename=filename,
                                          headers={"Cache-Control": "no-store"})
            return HTMLResponse("")
        shown = holder_link(request, token, Purpose.DOWNLOAD, act)
        file: Response = holder.get("file", shown)
        return file

def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise BadRequest(f"{field}: expected base64, got something else") from None
