"""Baton's composition: settings, database, API, worker, outbox, delivery and CLI."""

__all__ = ["__version__"]
__version__ = "0.1.0"
