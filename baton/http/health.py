"""/healthz: 200 while the database answers and a worker beat recently, 503 otherwise (one query).

The body says which: ``{"status", "database", "worker": {"last_run", "seconds_ago", …}, "problems"}``
(``services.health`` holds the rule, and what "no worker yet" means).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from baton.services import health
from baton.services.switch import SwitchService


def install(app: FastAPI, service: SwitchService) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        found = await run_in_threadpool(health.check, service.engine, service.settings, service.clock.now())
        return JSONResponse(found.to_dict(), status_code=200 if found.healthy else 503,
                            headers={"Cache-Control": "no-store"})
