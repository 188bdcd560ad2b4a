"""The vault's HTTP face: the owner's vault and people API, and holders' link pages.

The owner's machine sends only ciphertext and public keys; holders' pages take a public
key, a key-check code, or give a package. A GET only shows; a POST acts.
"""

import base64
import io
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Header, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from baton import drills, releases
from baton.errors import BadRequest
from baton.releases import PackageBuilder
from baton.vaultservice import VaultService

OwnerWork = Callable[[Any, Callable[[int], Any], int], Awaitable[JSONResponse]]


class OwnerKey(BaseModel):
    recipient: str = Field(description="The owner's age public key (age1…).")


class NewCompartment(BaseModel):
    name: str
    release_recipient: str = Field(description="The release key's age public key.")
    release_key_owner: str = Field(description="The release key, age-encrypted to the owner (base64).")


class SealedShare(BaseModel):
    recipient: str
    sealed: str = Field(description="The share file, age-encrypted to the holder (base64).")


class Split(BaseModel):
    split_id: int
    policy: dict[str, Any]
    protected_release_key: str = Field(description="The release key under the master secret (base64).")
    sealed: dict[str, SealedShare]


class NewPerson(BaseModel):
    name: str = Field(description="A short id: ana, notary-rossi.")
    display_name: str = ""
    email: str | None = None
    language: str = "en"
    role: str = Field(description="heir, staff, notary or verifier.")


class PersonKey(BaseModel):
    recipient: str
    source: str = Field("owner", description="keycard (made on the owner's machine) or owner (given in person).")


class CheckRequest(BaseModel):
    names: list[str] | None = None


class Code(BaseModel):
    code: str


class DrillRequest(BaseModel):
    ask_holders: bool = Field(False, description="Also e-mail each holder a key check (nothing else is sent).")


def install(app: FastAPI, vault: VaultService, builder: PackageBuilder, as_owner: OwnerWork, caller: Any,
            owner_id_of: Callable[[Any], Awaitable[int]], page: Callable[..., HTMLResponse],
            on_link: Callable[[Request, Callable[[], HTMLResponse]], HTMLResponse]) -> None:
    errors: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 409: {}, 422: {}}
    Who = Annotated[Any, Depends(caller)]

    @app.get("/api/vault/key", tags=["vault"], responses=errors)
    async def get_owner_key(who: Who) -> JSONResponse:
        """The owner's age public key."""
        return await as_owner(who, lambda owner: {"recipient": vault.owner_key(owner),
                                                  "owner_email": vault.owner_email(owner)}, 200)

    @app.put("/api/vault/key", tags=["vault"], responses=errors)
    async def put_owner_key(who: Who, body: OwnerKey) -> JSONResponse:
        """Set the owner's age public key, once."""
        return await as_owner(who, lambda owner: vault.set_owner_key(owner, body.recipient), 200)

    @app.get("/api/vault/compartments", tags=["vault"], responses=errors)
    async def list_compartments(who: Who) -> JSONResponse:
        """Compartments: version, size, release key, split and problems."""
        return await as_owner(who, vault.list_compartments, 200)

    @app.post("/api/vault/compartments", tags=["vault"], responses=errors, status_code=201)
    async def create_compartment(who: Who, body: NewCompartment) -> JSONResponse:
        """A new, empty compartment with its release key (public, and encrypted to the owner)."""
        kept = _b64(body.release_key_owner, "release_key_owner")
        return await as_owner(who, lambda owner: vault.create_compartment(owner, body.name, body.release_recipient,
                                                                          kept), 201)

    @app.get("/api/vault/compartments/{name}/release-key", tags=["vault"], responses=errors)
    async def release_key(who: Who, name: str) -> Response:
        """The release key, encrypted to the owner (for splitting again on the owner's machine)."""
        owner = await owner_id_of(who)
        data = await run_in_threadpool(vault.release_key_for_owner, owner, name)
        return Response(data, media_type="application/octet-stream")

    @app.get("/api/vault/compartments/{name}/file", tags=["vault"], responses=errors)
    async def get_file(who: Who, name: str) -> Response:
        """The compartment's age file (empty before the first upload); its version is in ETag."""
        owner = await owner_id_of(who)
        version, digest = await run_in_threadpool(vault.compartment_file, owner, name)
        headers = {"ETag": f'"{version}"', "Cache-Control": "no-store"}
        if digest is None:
            return Response(b"", media_type="application/octet-stream", headers=headers)
        return FileResponse(vault.store.path(digest), media_type="application/octet-stream", headers=headers)

    @app.put("/api/vault/compartments/{name}/file", tags=["vault"], responses=errors)
    async def put_file(who: Who, name: str, request: Request,
                       if_match: Annotated[str | None, Header()] = None) -> JSONResponse:
        """Upload a new age file; ``If-Match`` carries the version it was made from (a stale one is refused)."""
        if if_match is None or not if_match.strip('"').isdigit():
            raise BadRequest(f"If-Match: expected the version you read, like \"3\", got {if_match!r}")
        expected = int(if_match.strip('"'))
        owner = await owner_id_of(who)
        body = await request.body()
        return JSONResponse(await run_in_threadpool(vault.upload, owner, name, expected, io.BytesIO(body)))

    @app.put("/api/vault/compartments/{name}/split", tags=["vault"], responses=errors)
    async def put_split(who: Who, name: str, body: Split) -> JSONResponse:
        """Store a split made on the owner's machine (sealed shares and the protected release key)."""
        data = body.model_dump()
        return await as_owner(who, lambda owner: vault.set_split(owner, name, data), 200)

    @app.get("/api/vault/readiness", tags=["vault"], responses=errors)
    async def readiness(who: Who) -> JSONResponse:
        """What would go wrong if the switch fired now, each with what to do."""
        return await as_owner(who, lambda owner: drills.readiness(vault, owner), 200)

    @app.get("/api/people", tags=["people"], responses=errors)
    async def list_people(who: Who) -> JSONResponse:
        """Holders and verifiers, with their key status."""
        return await as_owner(who, vault.list_people, 200)

    @app.post("/api/people", tags=["people"], responses=errors, status_code=201)
    async def add_person(who: Who, body: NewPerson) -> JSONResponse:
        """Add a holder (sent an enrolment link) or a verifier."""
        return await as_owner(who, lambda owner: vault.add_person(owner, body.name, body.display_name, body.email,
                                                                  body.language, body.role), 201)

    @app.delete("/api/people/{name}", tags=["people"], responses=errors)
    async def remove_person(who: Who, name: str) -> JSONResponse:
        """Remove a person who holds no share of a current split."""
        def remove(owner: int) -> dict[str, str]:
            vault.remove_person(owner, name)
            return {"removed": name}
        return await as_owner(who, remove, 200)

    @app.put("/api/people/{name}/key", tags=["people"], responses=errors)
    async def set_key(who: Who, name: str, body: PersonKey) -> JSONResponse:
        """Set a holder's public key (from a key card made on the owner's machine)."""
        if body.source not in ("keycard", "owner"):
            raise BadRequest(f"source: expected keycard or owner, got {body.source!r}")
        return await as_owner(who, lambda owner: vault.set_key(owner, name, body.recipient, body.source), 200)

    @app.post("/api/people/checks", tags=["people"], responses=errors)
    async def request_checks(who: Who, body: CheckRequest) -> JSONResponse:
        """Send new key checks to holders (all with a key when no names are given)."""
        return await as_owner(who, lambda owner: vault.request_checks(owner, body.names, "owner", notify=True), 200)

    @app.post("/api/people/{name}/checks/{check}", tags=["people"], responses=errors)
    async def prove(who: Who, name: str, check: int, body: Code) -> JSONResponse:
        """Answer a key check with the code found in the sealed challenge."""
        return await as_owner(who, lambda owner: vault.prove(owner, name, check, body.code), 200)

    @app.post("/api/drill", tags=["vault"], responses=errors)
    async def drill(who: Who, body: DrillRequest | None = None) -> JSONResponse:
        """Run a fire drill: DRILL packages for the owner only, key checks, and the findings."""
        ask = bool(body and body.ask_holders)
        return await as_owner(who, lambda owner: drills.start_drill(vault, builder, owner, ask), 200)

    @app.get("/api/drill/{release}/packages/{package}", tags=["vault"], responses=errors)
    async def drill_package(who: Who, release: int, package: int) -> Response:
        """A drill package's zip."""
        owner = await owner_id_of(who)
        path = await run_in_threadpool(releases.drill_package, builder, owner, release, package, vault.clock.now())
        return FileResponse(path, media_type="application/zip", filename=path.name)

    # -- holders' link pages --------------------------------------------------------------------
    @app.get("/e/{token}", response_class=HTMLResponse, include_in_schema=False)
    def enrol_page(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("enrol", **vault.enrolment(token), typed="", error=None))

    @app.post("/e/{token}", response_class=HTMLResponse, include_in_schema=False)
    def enrol(request: Request, token: str, recipient: Annotated[str, Form()] = "") -> HTMLResponse:
        def act() -> HTMLResponse:
            try:
                view = vault.enrol_by_link(token, recipient)
            except BadRequest as exc:
                secret = "SECRET-KEY" in recipient.upper() or "PRIVATE KEY" in recipient.upper()
                return page("enrol", status_code=422, **vault.enrolment(token), typed="" if secret else recipient,
                            error=str(exc))
            return page("enrol_done", name=view["display_name"], check_url=view["check_url"])
        return on_link(request, act)

    @app.get("/k/{token}", response_class=HTMLResponse, include_in_schema=False)
    def keycheck_page(request: Request, token: str) -> HTMLResponse:
        def show() -> HTMLResponse:
            view, _sealed = vault.check_by_link(token)
            return page("keycheck", **view, challenge_url=f"/k/{token}/challenge.age", typed="", error=None)
        return on_link(request, show)

    @app.get("/k/{token}/challenge.age", include_in_schema=False)
    def keycheck_challenge(token: str) -> Response:
        _view, sealed = vault.check_by_link(token)
        return Response(sealed, media_type="application/octet-stream",
                        headers={"Content-Disposition": 'attachment; filename="baton-key-check.age"',
                                 "Cache-Control": "no-store"})

    @app.post("/k/{token}", response_class=HTMLResponse, include_in_schema=False)
    def keycheck(request: Request, token: str, code: Annotated[str, Form()] = "") -> HTMLResponse:
        def act() -> HTMLResponse:
            view, _sealed = vault.check_by_link(token)
            try:
                done = vault.prove_by_link(token, code)
            except BadRequest as exc:
                return page("keycheck", status_code=422, **view, challenge_url=f"/k/{token}/challenge.age",
                            typed=code, error=str(exc))
            return page("keycheck_done", name=done["display_name"])
        return on_link(request, act)

    @app.get("/d/{token}", response_class=HTMLResponse, include_in_schema=False)
    def download_page(request: Request, token: str) -> HTMLResponse:
        return on_link(request, lambda: page("download", **releases.show_download(builder, token,
                                                                                   vault.clock.now())))

    @app.post("/d/{token}", include_in_schema=False, response_model=None)
    def download(request: Request, token: str) -> Response:
        holder: dict[str, Any] = {}

        def act() -> HTMLResponse:
            path, filename = releases.take_download(builder, token, vault.clock.now())
            holder["file"] = FileResponse(path, media_type="application/zip", filename=filename,
                                          headers={"Cache-Control": "no-store"})
            return HTMLResponse("")
        shown = on_link(request, act)
        file: Response = holder.get("file", shown)
        return file


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise BadRequest(f"{field}: expected base64, got something else") from None
