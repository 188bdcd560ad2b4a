"""The owner's side of the vault, run on the owner's own machine: keys, compartments, splits, key cards.

Everything secret is opened here and only here: the owner's identity file is locked
with a passphrase, compartments are decrypted in memory, changed, encrypted again to
the owner and the compartment's release key, and uploaded as ciphertext against the
version they were read at. Nothing secret is sent to the server or written in clear.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from baton.errors import BatonError, Conflict, NotFound
from vault import agecrypt, document, keys, release
from vault.document import Compartment
from vault.keys import RecipientKey, parse_recipient
from vault.shares import SharePolicy, policy_from_dict


class ServerError(BatonError):
    """The server refused; carries its status and message."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.exit_code = {401: 3, 404: 4, 409: 6, 410: 5, 422: 2}.get(status, 1)
        super().__init__(f"{message} (HTTP {status})")


def default_key_path() -> Path:
    return Path(os.environ.get("BATON_VAULT_KEY", Path.home() / ".config" / "baton" / "vault-key.age"))


@dataclass
class OwnerVault:
    """The owner's vault, through the API; ``unlock`` yields the owner's identity when needed."""

    http: httpx.Client
    key_path: Path
    passphrase: Callable[[], str]
    _identity: Any = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> OwnerVault:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transport ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServerError(response.status_code, str(detail))
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    # -- the owner's key ----------------------------------------------------------------------
    def init(self, passphrase: str) -> str:
        """Make the owner's identity (locked with ``passphrase``) and register its public key."""
        if self.key_path.exists():
            raise Conflict(f"{self.key_path} exists already; it holds your vault key (keep it, and a copy)")
        identity = keys.generate_identity()
        public = keys.public_of(identity).text
        self.key_path.parent.mkdir(parents=True, exist_ok=True)
        agecrypt.write_atomically(self.key_path, keys.lock_identity(identity, passphrase))
        self.json("PUT", "/api/vault/key", json={"recipient": public})
        return public

    def identity(self) -> Any:
        if self._identity is None:
            try:
                locked = self.key_path.read_bytes()
            except FileNotFoundError:
                raise NotFound(f"no vault key at {self.key_path}; run `baton vault init` (or set BATON_VAULT_KEY)") \
                    from None
            self._identity = keys.unlock_identity(locked, self.passphrase())
        return self._identity

    def owner_recipient(self) -> RecipientKey:
        return parse_recipient(self.json("GET", "/api/vault/key")["recipient"])

    # -- compartments -------------------------------------------------------------------------
    def compartments(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.json("GET", "/api/vault/compartments")
        return result

    def compartment_info(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.compartments() if c["name"] == name), None)

    def ensure_compartment(self, name: str) -> dict[str, Any]:
        found = self.compartment_info(name)
        if found is not None:
            return found
        release_key = release.new_release_key()
        kept = release.keep_for_owner(release_key, self.owner_recipient())
        made: dict[str, Any] = self.json("POST", "/api/vault/compartments", json={
            "name": name, "release_recipient": keys.public_of(release_key).text,
            "release_key_owner": base64.b64encode(kept).decode()})
        return made

    def open(self, name: str) -> tuple[int, Compartment]:
        """The compartment's version and its opened content (empty before the first upload)."""
        response = self._call("GET", f"/api/vault/compartments/{name}/file")
        version = int(response.headers["ETag"].strip('"'))
        if not response.content:
            return version, Compartment(name)
        return version, document.decrypt(io.BytesIO(response.content), [self.identity()], f"compartment {name}")

    def save(self, name: str, version: int, compartment: Compartment) -> dict[str, Any]:
        info = self.compartment_info(name)
        if info is None:
            raise NotFound(f"no compartment {name!r}")
        owner = self.owner_recipient()
        # The owner must be able to open what they write: a wrong passphrase or another key file stops here.
        if keys.public_of(self.identity()).text != owner.text:
            raise Conflict(f"{self.key_path} holds another key than the one this vault is encrypted to "
                           f"({owner.text[:12]}…); use the vault key made by `baton vault init`")
        recipients = [owner, parse_recipient(info["release_recipient"])]
        sealed = document.encrypt(compartment, recipients)
        saved: dict[str, Any] = self.json("PUT", f"/api/vault/compartments/{name}/file", content=sealed,
                                          headers={"If-Match": f'"{version}"',
                                                   "Content-Type": "application/octet-stream"})
        return saved

    # -- splits -------------------------------------------------------------------------------
    def split(self, name: str, policy: SharePolicy | None = None) -> dict[str, Any]:
        """Split the compartment's release key again (new master secret, shares sealed to current keys)."""
        info = self.compartment_info(name)
        if info is None:
            raise NotFound(f"no compartment {name!r}")
        if policy is None:
            if info["split"] is None:
                raise NotFound(f"compartment {name!r} has no split yet: give a policy (--threshold and --holders, "
                               "or --policy FILE)")
            policy = policy_from_dict(info["split"]["policy"])
        people = {p["name"]: p for p in self.json("GET", "/api/people")}
        recipients = {}
        for holder in policy.holders:
            person = people.get(holder)
            if person is None:
                raise NotFound(f"no person {holder!r}; add them with `baton people add {holder} …`")
            if not person["recipient"]:
                raise Conflict(f"{holder} has no key yet: they must enrol (the link was e-mailed), or make a key "
                               f"card with `baton people keycard {holder}`")
            recipients[holder] = parse_recipient(person["recipient"])
        kept = self._call("GET", f"/api/vault/compartments/{name}/release-key").content
        release_key = release.open_for_owner(kept, [self.identity()])
        made = release.seal(release_key, name, policy, recipients)
        stored: dict[str, Any] = self.json("PUT", f"/api/vault/compartments/{name}/split", json={
            "split_id": made.split_id, "policy": policy.to_dict(),
            "protected_release_key": base64.b64encode(made.protected_release_key).decode(),
            "sealed": {h: {"recipient": recipients[h].text, "sealed": base64.b64encode(s).decode()}
                       for h, s in made.sealed.items()}})
        return stored

    def remove_holder(self, holder: str) -> list[str]:
        """Split every compartment ``holder`` holds a share of again without them; returns those compartments."""
        plans: list[tuple[str, SharePolicy]] = []
        for info in self.compartments():  # every new policy is checked before anything is split again
            if not info["split"] or holder not in info["split"]["holders"]:
                continue
            policy = policy_from_dict(info["split"]["policy"])
            groups = []
            for group in policy.groups:
                left = tuple(h for h in group.holders if h != holder)
                if not left or group.threshold > len(left):
                    count = f"{len(left)} holder{'' if len(left) == 1 else 's'}"
                    raise Conflict(f"compartment {info['name']}: without {holder}, group {group.name!r} has "
                                   f"{count} for a threshold of {group.threshold}; split it with a new policy "
                                   f"first (`baton vault split {info['name']} …`)")
                groups.append({"name": group.name, "threshold": group.threshold, "holders": list(left)})
            plans.append((info["name"], policy_from_dict({"group_threshold": policy.group_threshold,
                                                          "groups": groups})))
        for name, new_policy in plans:
            self.split(name, new_policy)
        self.json("DELETE", f"/api/people/{holder}")
        return [name for name, _policy in plans]


def make_keycard(holder: str, owner_name: str, fingerprint: str, language: str = "en") -> tuple[str, str, bytes]:
    """A new identity for ``holder`` (as the card names them): its public key, the key card's HTML, and the card
    as PDF, in the holder's ``language``; the card also carries ``fingerprint``, the deployment key's, against
    which the holder checks a package."""
    from baton.cli.keycard import render_keycard
    identity = keys.generate_identity()
    public = keys.public_of(identity).text
    html, pdf = render_keycard(holder, owner_name, keys.identity_text(identity), public, fingerprint, language)
    return public, html, pdf
