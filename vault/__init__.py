"""The vault: age-encrypted compartments, SLIP-39 splits sealed to holders, release packages, recovery."""

from vault.document import Compartment, pack, unpack
from vault.entries import KINDS, Entry, entry_from_dict
from vault.errors import (
    BadSignature,
    CorruptShare,
    DamagedFile,
    EntryError,
    ExcessiveWork,
    MismatchedShares,
    NotEnoughShares,
    RecipientError,
    ShareError,
    VaultError,
    WrongKey,
)
from vault.keys import RecipientKey, parse_identities, parse_recipient
from vault.package import Package, PackageFile
from vault.recovery import Recovered, Report, recover, write_opened
from vault.release import SealedSplit, seal
from vault.shares import SharePolicy, policy_from_dict

__all__ = [
    "KINDS", "BadSignature", "Compartment", "CorruptShare", "DamagedFile", "Entry", "EntryError",
    "ExcessiveWork", "MismatchedShares", "NotEnoughShares", "Package", "PackageFile", "RecipientError",
    "RecipientKey",
    "Recovered", "Report", "SealedSplit", "ShareError", "SharePolicy", "VaultError", "WrongKey", "entry_from_dict",
    "pack", "parse_identities", "parse_recipient", "policy_from_dict", "recover", "seal", "unpack", "write_opened",
]
