"""Release keys and splits: a compartment's release key, kept for the owner and protected by a split master secret.

Before release the server holds only ciphertext: the compartment (to the owner and the
release key), the release key (to the owner; and under the master secret), and each
holder's share sealed to the holder's own key. A quorum of holders recovers the master
secret with ``shamir recover``, which opens the release key, which opens the compartment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyrage import x25519
from shamir_mnemonic import Share

from vault import agecrypt, keys, shares
from vault.errors import EntryError, RecipientError
from vault.keys import Identity, RecipientKey
from vault.shares import SharePolicy


def new_release_key() -> x25519.Identity:
    return keys.generate_identity()


def keep_for_owner(release_key: x25519.Identity, owner: RecipientKey) -> bytes:
    """The release key encrypted to the owner alone, so the owner can re-split without re-entering secrets."""
    return agecrypt.encrypt(_identity_file(release_key), [owner])


def open_for_owner(kept: bytes, owner: Sequence[Identity]) -> x25519.Identity:
    body = agecrypt.decrypt(kept, owner, "the owner's copy of the release key")
    found = keys.parse_identities(body)[0]
    assert isinstance(found, x25519.Identity)
    return found


def _identity_file(release_key: x25519.Identity) -> bytes:
    return (f"# Baton release key; public key: {release_key.to_public()}\n"
            f"{keys.identity_text(release_key)}\n").encode()


@dataclass(frozen=True)
class SealedSplit:
    """One split of a compartment's master secret: what the server stores until release."""

    split_id: int
    policy: SharePolicy
    protected_release_key: bytes  # age, passphrase = the master secret in hex
    sealed: Mapping[str, bytes]  # holder -> their share(s), age-encrypted to their recipient

    def __repr__(self) -> str:
        return f"SealedSplit(split_id={self.split_id}, holders={sorted(self.sealed)})"


def share_file(holder: str, compartment: str, mnemonics: Sequence[str]) -> bytes:
    """What a sealed share holds: comment lines, then one SLIP-39 mnemonic per line."""
    head = [f"# Baton share of {holder} for the compartment {compartment}.",
            "# Type each line below (one share) when `shamir recover` asks for a share."]
    return ("\n".join(head + list(mnemonics)) + "\n").encode()


def read_share_file(body: bytes) -> list[str]:
    return [line.strip() for line in body.decode("utf-8", errors="replace").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def seal(release_key: x25519.Identity, compartment: str, policy: SharePolicy,
         recipients: Mapping[str, RecipientKey]) -> SealedSplit:
    """A fresh master secret protects the release key; its shares are sealed to each holder."""
    missing = [h for h in policy.holders if h not in recipients]
    if missing:
        raise RecipientError(f"compartment {compartment!r}: no key yet for {', '.join(missing)}; each holder "
                             "must enrol a key (or get a key card) before the split")
    master = shares.new_master_secret()
    protected = agecrypt.encrypt_with_passphrase(_identity_file(release_key), master.hex())
    given = shares.split(master, policy)
    split_id = Share.from_mnemonic(next(iter(given.values()))[0]).identifier
    sealed = {holder: agecrypt.encrypt(share_file(holder, compartment, mnemonics), [recipients[holder]])
              for holder, mnemonics in given.items()}
    return SealedSplit(split_id, policy, protected, sealed)


def open_release_key(protected: bytes, master_secret: bytes) -> x25519.Identity:
    body = agecrypt.decrypt_with_passphrase(protected, master_secret.hex(), "the release key")
    found = keys.parse_identities(body)[0]
    if not isinstance(found, x25519.Identity):
        raise EntryError("the release key file holds an unexpected kind of key")
    return found
