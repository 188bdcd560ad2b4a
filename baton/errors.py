"""Errors of the composition layer, and their HTTP status and CLI exit code in one place.

    BatonError
    ├── BadRequest      input that names what was expected and what arrived   422 / 2
    ├── Unauthorized    no or wrong credentials                               401 / 3
    ├── NotFound        nothing of that name for this owner                   404 / 4
    ├── LinkError       a one-time link that is unknown, used or expired      410 / 5
    ├── Conflict        the thing changed under us, or cannot change now      409 / 6
    └── TooLarge        a body or file over its size limit (nothing kept)     413 / 2

The switch core's ``PolicyError`` and ``InputError`` map to 422 and 409.
"""

from __future__ import annotations

from switch import InputError, PolicyError, SwitchError


class BatonError(Exception):
    status = 500
    exit_code = 1


class BadRequest(BatonError):
    status = 422
    exit_code = 2


class Unauthorized(BatonError):
    status = 401
    exit_code = 3


class NotFound(BatonError):
    status = 404
    exit_code = 4


class LinkError(BatonError):
    """A link that cannot be used; ``why`` is unknown, used, expired, closed or revoked."""

    status = 410
    exit_code = 5

    def __init__(self, why: str, message: str) -> None:
        self.why = why
        super().__init__(message)


class Conflict(BatonError):
    status = 409
    exit_code = 6


class TooLarge(BatonError):
    status = 413
    exit_code = 2


def http_status(exc: Exception) -> int:
    if isinstance(exc, BatonError):
        return exc.status
    if isinstance(exc, PolicyError):
        return 422
    if isinstance(exc, InputError):
        return 409
    if isinstance(exc, SwitchError):
        return 422
    return 500


def exit_code(exc: Exception) -> int:
    if isinstance(exc, BatonError):
        return exc.exit_code
    if isinstance(exc, SwitchError):
        return 2
    return 1
