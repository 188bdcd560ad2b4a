"""The witness's endpoints (a primary pairs, syncs and sends heartbeats, every message signed) and the
owner's (link a witness, list them). DESIGN "Surviving our own server"."""


from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from baton.errors import BatonError
from baton.http.auth import Caller, OwnerAuth
from baton.http.models import problems
from baton.services.switch import SwitchService
from baton.services.witness.claims import Claims
from baton.services.witness.linking import Linking
from baton.services.witness.watching import InsufficientStorage, Witness
from baton.services.witness.wire import WireError


class WitnessRequest(BaseModel):
    url: str = Field(description="The witness's address: http(s)://host[:port].", max_length=500)
    code: str = Field(description="The one-time pairing code from the witness's operator.", max_length=100)
    key: str = Field(description="The witness's public key, as you compared it.", max_length=128)
    silence: str = Field("2d", description="How long the primary may be silent before the witness may act.",
                         max_length=20)


class WitnessView(BaseModel):
    id: int
    url: str
    key: str
    rank: int
    silence_seconds: float
    last_heartbeat: str | None
    synced_version: int | None
    problem: str | None
    problem_at: str | None


def install(app: FastAPI, service: SwitchService, auth: OwnerAuth, linking: Linking, witness: Witness) -> None:
    Owner = Annotated[Caller, Depends(auth.owner)]

    @app.get("/witness/key", include_in_schema=False)
    async def witness_key() -> JSONResponse:
        """This deployment's public signing key, for an owner to compare before linking it as a witness."""
        return JSONResponse({"public_key": service.signer.public_hex})

    async def receive(request: Request, kind: str) -> JSONResponse:
        try:
            data: Any = await request.json()
        except ValueError:
            return JSONResponse({"detail": "body: expected a signed message in JSON"}, status_code=422)
        try:
            if kind == "pair":
                answer = await run_in_threadpool(witness.pair, data)
            else:
                answer = await run_in_threadpool(witness.receive, data, kind)
        except WireError as exc:
            await run_in_threadpool(witness.refuse, data, kind, str(exc))
            return JSONResponse({"detail": str(exc)}, status_code=401)
        except InsufficientStorage as exc:
            await run_in_threadpool(witness.refuse, data, kind, str(exc))
            return JSONResponse({"detail": str(exc)}, status_code=507)
        except BatonError as exc:
            await run_in_threadpool(witness.refuse, data, kind, str(exc))
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        return JSONResponse(answer)

    @app.post("/witness/pair", include_in_schema=False)
    async def pair(request: Request) -> JSONResponse:
        """A primary pairs with the operator's one-time code (signed by the primary's key)."""
        return await receive(request, "pair")

    @app.post("/witness/sync", include_in_schema=False)
    async def sync(request: Request) -> JSONResponse:
        """A primary's new version of a switch (ciphertext and policy only); older versions are refused."""
        return await receive(request, "sync")

    @app.post("/witness/heartbeat", include_in_schema=False)
    async def heartbeat(request: Request) -> JSONResponse:
        """A primary's signed heartbeat: its switch's state; the answer says what this witness did."""
        return await receive(request, "heartbeat")

    claims = Claims(service)

    @app.post("/witness/claims", include_in_schema=False)
    async def claim(request: Request) -> JSONResponse:
        """A sibling witness asks whether this one holds a takeover claim, or tells its own (signed by a key the
        primary named); the signed answer carries this witness's claim, if any."""
        try:
            data: Any = await request.json()
        except ValueError:
            return JSONResponse({"detail": "body: expected a signed claim in JSON"}, status_code=422)
        try:
            answer = await run_in_threadpool(claims.receive, data)
        except WireError as exc:
            await run_in_threadpool(claims.refuse, data, str(exc))
            return JSONResponse({"detail": str(exc)}, status_code=401)
        except BatonError as exc:
            await run_in_threadpool(claims.refuse, data, str(exc))
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        return JSONResponse(answer)

    @app.get("/api/witnesses", response_model=list[WitnessView], responses=problems(), tags=["witness"])
    async def list_witnesses(who: Owner) -> JSONResponse:
        """The owner's witnesses: address, key, last heartbeat, last synced version, any problem."""
        return await auth.as_owner(who, linking.listed)

    @app.post("/api/witnesses", status_code=201, response_model=WitnessView, responses=problems(409, 422),
              tags=["witness"])
    async def add_witness(who: Owner, body: WitnessRequest) -> JSONResponse:
        """Link a witness: refused, nothing linked, when it does not answer, the code is wrong or its key is
        not the one compared."""
        return await auth.as_owner(who, lambda owner_id: linking.add(owner_id, body.url, body.code, body.key,
                                                                     body.silence), status_code=201)
