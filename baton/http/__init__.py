"""The web face: the FastAPI app, one module per area of routes (switch, vault, handover, owner
pages, link pages), the API models, and what guards them (headers, CSRF, sessions, rate limits)."""
