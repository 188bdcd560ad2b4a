"""How the server commands run uvicorn: in this process, or in N processes beside a worker.

With one process the application object is handed to uvicorn; with several, uvicorn starts them
itself (spawned, so nothing of this process's threads or connections goes with them) and each
builds its own from the settings (``baton.http.app:api_from_settings``), while this process
supervises them — restarting one that dies — and runs the worker, if it has one, in its threads.
Proxy headers are believed only from ``BATON_TRUSTED_PROXIES``: uvicorn then puts the client's
address (from X-Forwarded-For) where the rate limits and the sign-in records read it.
"""

from __future__ import annotations

from typing import Any

from baton.settings import Settings

FACTORY = "baton.http.app:api_from_settings"


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy settings: none believed unless the operator listed the proxies' addresses."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}


def run_api(settings: Settings, host: str | None, port: int | None, workers: int, application: Any = None) -> None:
    """Serve the API: ``application`` in this process when given and ``workers`` is 1, else
    ``workers`` processes built by the factory. Returns when uvicorn is told to stop."""
    import uvicorn

    from baton import logging_setup
    options: dict[str, Any] = {"host": host or settings.host, "port": port or settings.port, "log_level": "info",
                               **proxy_options(settings)}
    if workers == 1 and application is not None:
        server = uvicorn.Server(uvicorn.Config(application, **options))
        logging_setup.install()  # after uvicorn configured its loggers
        server.run()
        return
    # uvicorn configures its loggers in this process; each child installs the filters as it builds the app.
    uvicorn.run(FACTORY, factory=True, workers=workers, **options)
