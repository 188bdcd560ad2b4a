"""Who is calling the owner's API: a bearer token, checked for lock-out before any database work,
and the owner behind it checked before the request's body or parameters are looked at."""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from baton.errors import BadRequest, BatonError, Unauthorized
from baton.http.ratelimit import RateLimiter
from baton.services.switch import SwitchService

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Caller:
    """The address a request came from and the token it gave; the owner once the token was checked."""

    address: str
    token: str
    owner_id: int | None = None  # set once the token was checked

    def __repr__(self) -> str:
        return f"Caller(address={self.address!r}, token='***', owner_id={self.owner_id!r})"


@dataclass(frozen=True)
class OwnerAuth:
    """The dependencies and helpers the owner's routes share."""

    caller: Callable[..., Awaitable[Caller]]  # a bearer header, from an address not locked out
    owner: Callable[..., Awaitable[Caller]]  # ... whose token is an owner's
    as_owner: Callable[..., Awaitable[JSONResponse]]
    owner_id_of: Callable[[Caller], Awaitable[int]]
    refuse: Callable[[Caller], NoReturn]


def owner_auth(service: SwitchService, failures: RateLimiter) -> OwnerAuth:
    async def caller(request: Request,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
        """Who is calling, checked for lock-out and a bearer header before any database work."""
        address = request.client.host if request.client else "?"
        if failures.blocked(address):
            raise _TooMany()
        if credentials is None:
            raise Unauthorized("expected an Authorization: Bearer <token> header, got none")
        return Caller(address, credentials.credentials)

    async def owner(request: Request, who: Annotated[Caller, Depends(caller)]) -> Caller:
        """The owner behind the token, checked before the request's body or parameters are looked at:
        a caller without a valid token learns nothing but 401."""
        owner_id = await run_in_threadpool(service.authenticate, who.token)
        if owner_id is None:
            refuse(who)
        await _refuse_nul(request)
        return Caller(who.address, who.token, owner_id)


    async def as_owner(who: Caller, work: Callable[[int], Any], status_code: int = 200) -> JSONResponse:
        """Do the authenticated owner's work in the thread pool; a JSON response."""
        return JSONResponse(await run_in_threadpool(work, await owner_id_of(who)), status_code=status_code)

    async def owner_id_of(who: Caller) -> int:
        if who.owner_id is not None:
            return who.owner_id
        owner_id = await run_in_threadpool(service.authenticate, who.token)
        if owner_id is None:
            refuse(who)
        return owner_id

    def refuse(who: Caller) -> NoReturn:
        failures.hit(who.address)
        raise Unauthorized("the token is not valid")
    return OwnerAuth(caller, owner, as_owner, owner_id_of, refuse)



async def _refuse_nul(request: Request) -> None:
    """A NUL character in a path, query or JSON value is refused (422): no name, address or policy means
    one, and PostgreSQL cannot store it in text. Uploaded files are not looked at here."""
    places: list[tuple[str, Any]] = [(f"path.{k}", v) for k, v in request.path_params.items()]
    places += [(f"query.{k}", v) for k, v in request.query_params.multi_items()]
    if "json" in request.headers.get("content-type", ""):
        with contextlib.suppress(ValueError):  # FastAPI refuses a body that is not JSON itself, saying why
            places.append(("body", await request.json()))
    for where, value in places:
        found = _nul_at(value, where)
        if found is not None:
            raise BadRequest(f"{found}: expected text without NUL characters (U+0000), got one")


def _nul_at(value: Any, where: str) -> str | None:
    """Where the first NUL character is in a JSON value (``stages.0.name``), or None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        place = (str(key) if where == "body" else f"{where}.{key}").replace("\x00", "\\0")
        found = _nul_at(key, place) or _nul_at(item, place)
        if found is not None:
            return found
    return None


class _TooMany(BatonError):
    status = 429

    def __init__(self) -> None:
        super().__init__("too many failed attempts from this address; wait a minute and try again")


