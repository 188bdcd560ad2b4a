"""Bearer tokens and one-time links: random, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str = "") -> tuple[str, str]:
    """A fresh token (``prefix`` + 43 URL-safe characters) and the hash to store."""
    token = prefix + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of a token. Tokens carry 256 random bits, so one SHA-256 is enough."""
    return hashlib.sha256(token.encode()).hexdigest()
