"""The shapes of the owner's JSON API, as its OpenAPI document shows them.

The routes answer with ``JSONResponse`` built from the services' dicts, so FastAPI does not
check what they send: each model here is written from the function that makes the dict,
and ``tests/baton/http/test_openapi_contract.py`` checks real answers against the document.
Moments are ISO 8601 text in UTC (``2026-01-01T09:00:00Z``) unless a field says otherwise;
durations are text as people write them (``30d``, ``1w2d``, ``12h``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_ID = 2**31 - 1  # the largest row id: ids are INTEGER, 32 bits on PostgreSQL
Language = Literal["en", "id", "pt", "it", "pt-BR", "pt-PT"]  # ``baton.services.vault.LANGUAGES``


# -- errors --------------------------------------------------------------------------------------
class Problem(BaseModel):
    """Every refusal: one line saying what was expected and what arrived, and where."""

    detail: str = Field(examples=["until: expected a moment with a time zone, got 2026-03-01T09:00:00"])


class RowProblem(BaseModel):
    """One bad cell (or row) of an import."""

    file: str
    row: int = Field(description="1-based data row (the header is row 0); 0 for the file itself.")
    column: str
    expected: str
    got: str


class RejectedImport(Problem):
    """An import with bad rows: nothing of it was kept."""

    total: int = Field(description="How many bad cells there are; at most 1000 are listed.")
    errors: list[RowProblem]


_WHY = {
    401: "No valid bearer token (the header is missing, or the token is unknown or revoked).",
    404: "Nothing of that name (or number) for this owner.",
    409: "The thing changed meanwhile, or cannot change now; the detail says which.",
    422: "Bad input: the detail names the field, what was expected and what arrived.",
    413: "The body is larger than this route accepts (the detail says how large it may be); it was not read.",
    429: "Too many failed tokens from this address; wait a minute.",
    503: "The database cannot be reached: the detail says that nothing was recorded (or, when it went away while "
         "saving, that it may not have been); try again in a few minutes.",
}


def absent(**field: Any) -> Any:
    """A field that is either absent or set, never null (a plain ``= None`` would document a null)."""
    return Field(None, json_schema_extra=_no_default, **field)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def problems(*codes: int, **models: Any) -> dict[int | str, dict[str, Any]]:
    """A route's error responses: 401 and 429 (every route takes a token), 413 and 503 (every request has a
    size limit and needs the database) and ``codes``, each a ``Problem`` unless ``models`` gives another
    (``problems(422, s422=RejectedImport | Problem)``)."""
    return {code: {"model": models.get(f"s{code}", Problem), "description": _WHY[code]}
            for code in sorted({401, 413, 429, 503, *codes})}


def binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 response that is a file, not JSON."""
    return {200: {"description": description,
                  "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}
