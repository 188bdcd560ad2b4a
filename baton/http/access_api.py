"""Who may act for the owner, and what waits: API tokens, release-request links, and the changes held
for a cooling-off (``services.access``). Lists never show a token; every removal is audited."""

from typing import Annotated

from fastapi import Depends, FastAPI, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from baton.http.auth import Caller, OwnerAuth
from baton.http.models import MAX_ID, problems
from baton.http.switch_models import (
    ChannelRemoved,
    Done,
    HeldChange,
    Requester,
    RequesterAdded,
    TokenAdded,
    TokenRequest,
    TokenView,
)
from baton.services.access import OwnerAccess

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


class RequesterRequest(BaseModel):
    name: str = Field(examples=["Ana Souza"])
    email: str = Field(examples=["ana@example.org"])


def install(app: FastAPI, access: OwnerAccess, auth: OwnerAuth) -> None:
    Owner = Annotated[Caller, Depends(auth.owner)]
    as_owner = auth.as_owner

    @app.get("/api/tokens", response_model=list[TokenView], responses=problems(), tags=["access"])
    async def list_tokens(who: Owner) -> JSONResponse:
        """The owner's API tokens: name, when made, when last used."""
        return await as_owner(who, access.tokens)

    @app.post("/api/tokens", status_code=201, response_model=TokenAdded, responses=problems(422), tags=["access"])
    async def add_token(who: Owner, body: TokenRequest) -> JSONResponse:
        """A new API token (shown once)."""
        return await as_owner(who, lambda owner_id: access.add_token(owner_id, body.name), status_code=201)

    @app.delete("/api/tokens/{token_id}", response_model=Done, responses=problems(404, 422), tags=["access"])
    async def revoke_token(who: Owner, token_id: Id) -> JSONResponse:
        """Revoke an API token: it stops working at once (the one calling included)."""
        def revoke(owner_id: int) -> dict[str, bool]:
            access.revoke_token(owner_id, token_id)
            return {"ok": True}
        return await as_owner(who, revoke)

    @app.post("/api/requesters", status_code=201, response_model=RequesterAdded, responses=problems(422),
              tags=["access"])
    async def add_requester(who: Owner, body: RequesterRequest) -> JSONResponse:
        """A standing link with which a holder may ask for release; shown once. It could make a release
        earlier, so it works only after the cooling-off, and the owner is told on every channel."""
        return await as_owner(who, lambda owner_id: access.add_requester(owner_id, body.name, body.email),
                              status_code=201)

    @app.get("/api/requesters", response_model=list[Requester], responses=problems(), tags=["access"])
    async def list_requesters(who: Owner) -> JSONResponse:
        """The release-request links not revoked."""
        return await as_owner(who, access.requesters)

    @app.delete("/api/requesters/{link_id}", response_model=Done, responses=problems(404, 422), tags=["access"])
    async def revoke_requester(who: Owner, link_id: Id) -> JSONResponse:
        """Revoke a release-request link (a request already waiting is refused by checking in)."""
        def revoke(owner_id: int) -> dict[str, bool]:
            access.revoke_requester(owner_id, link_id)
            return {"ok": True}
        return await as_owner(who, revoke)

    @app.get("/api/changes", response_model=list[HeldChange], responses=problems(), tags=["access"])
    async def list_changes(who: Owner) -> JSONResponse:
        """Changes that could hasten a release, waiting for their cooling-off."""
        return await as_owner(who, access.held_changes)

    @app.delete("/api/changes/{change_id}", response_model=HeldChange, responses=problems(404, 422),
                tags=["access"])
    async def cancel_change(who: Owner, change_id: Id) -> JSONResponse:
        """Cancel a change still waiting: it never takes effect."""
        return await as_owner(who, lambda owner_id: access.cancel_change(owner_id, change_id))

    @app.delete("/api/channels/{channel}", response_model=ChannelRemoved, responses=problems(404, 422),
                tags=["alerts"])
    async def remove_channel(who: Owner, channel: Id) -> JSONResponse:
        """Remove one of the owner's channels; alerts stop going to it at once, or, with a cooling-off, when
        the held removal takes effect (see ``pending_changes``)."""
        return await as_owner(who, lambda owner_id: access.remove_channel(owner_id, channel))
