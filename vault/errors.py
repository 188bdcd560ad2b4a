"""Errors of the vault, in words a holder can act on; none ever quotes a secret.

    VaultError
    ├── EntryError          an entry or compartment document that is not valid
    ├── RecipientError      a recipient or identity in an unknown or broken format
    ├── WrongKey            no identity given can open this file (or a wrong passphrase)
    ├── DamagedFile         a file that is truncated or altered (MAC or checksum named)
    ├── ExcessiveWork       a passphrase file whose scrypt work factor is too costly to compute
    ├── BadSignature        a package whose signature does not verify
    └── ShareError          shares that cannot be combined
        ├── NotEnoughShares     fewer than the threshold ("2 of 3 shares needed")
        ├── MismatchedShares    shares from different splits
        └── CorruptShare        a share with a wrong word or checksum
"""

from __future__ import annotations


class VaultError(Exception):
    """Bad data from a person or a file; the message says what was expected and what arrived."""


class EntryError(VaultError):
    pass


class RecipientError(VaultError):
    pass


class WrongKey(VaultError):
    pass


class DamagedFile(VaultError):
    pass


class ExcessiveWork(VaultError):
    pass


class BadSignature(VaultError):
    pass


class ShareError(VaultError):
    pass


class NotEnoughShares(ShareError):
    pass


class MismatchedShares(ShareError):
    pass


class CorruptShare(ShareError):
    pass
