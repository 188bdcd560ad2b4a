"""Splitting a master secret into SLIP-39 shares by a compartment's policy, and combining them again.

The policy is SLIP-39's own: a group threshold over groups, each with a member threshold.
A holder may sit in several groups and then holds one share of each. SLIP-39 forbids
several shares in a 1-of-N group, so every member of such a group holds a copy of the
same single share, which is what "any one of them" means.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import shamir_mnemonic
from shamir_mnemonic import MnemonicError, Share
from shamir_mnemonic.wordlist import WORD_INDEX_MAP

from vault.errors import CorruptShare, EntryError, MismatchedShares, NotEnoughShares

MASTER_SECRET_BYTES = 32
_WORDS = frozenset(WORD_INDEX_MAP)


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    threshold: int
    holders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SharePolicy:
    """Who must come together: ``group_threshold`` of the ``groups``."""

    group_threshold: int
    groups: tuple[Group, ...]

    def __post_init__(self) -> None:
        if not self.groups:
            raise EntryError("share policy: expected at least one group of holders, got none")
        if len(self.groups) > 16:
            raise EntryError(f"share policy: expected at most 16 groups, got {len(self.groups)}")
        if not 1 <= self.group_threshold <= len(self.groups):
            raise EntryError(f"share policy: expected a group threshold from 1 to {len(self.groups)}, "
                             f"got {self.group_threshold}")
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise EntryError("share policy: expected distinct group names, got a repeated one")
        for group in self.groups:
            count = len(group.holders)
            if count == 0 or count > 16:
                raise EntryError(f"share policy, group {group.name!r}: expected 1 to 16 holders, got {count}")
            if len(set(group.holders)) != count:
                raise EntryError(f"share policy, group {group.name!r}: a holder is listed twice")
            if not 1 <= group.threshold <= count:
                raise EntryError(f"share policy, group {group.name!r}: expected a threshold from 1 to {count}, "
                                 f"got {group.threshold}")

    @property
    def holders(self) -> list[str]:
        seen: dict[str, None] = {}
        for group in self.groups:
            seen.update(dict.fromkeys(group.holders))
        return list(seen)

    def describe(self) -> str:
        parts = [f"{g.threshold} of {len(g.holders)} ({g.name})" for g in self.groups]
        if len(self.groups) == 1:
            return parts[0]
        return f"{self.group_threshold} of these groups: " + "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {"group_threshold": self.group_threshold,
                "groups": [{"name": g.name, "threshold": g.threshold, "holders": list(g.holders)}
                           for g in self.groups]}


def policy_from_dict(data: Mapping[str, object]) -> SharePolicy:
    """``{threshold, holders}`` for one group, or ``{group_threshold, groups: [{name, threshold, holders}]}``."""
    def whole(value: object, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EntryError(f"share policy: expected a whole number for {where}, got {value!r}")
        return value

    def names(value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise EntryError(f"share policy: expected a list of holder names for {where}, got {value!r}")
        return tuple(v.strip() for v in value)

    if "groups" in data:
        raw = data["groups"]
        if not isinstance(raw, list) or not all(isinstance(g, Mapping) for g in raw):
            raise EntryError(f"share policy: expected groups as a list of objects, got {raw!r}")
        groups = tuple(Group(str(g.get("name") or f"group {i + 1}"), whole(g.get("threshold"), "threshold"),
                             names(g.get("holders"), "holders")) for i, g in enumerate(raw))
        return SharePolicy(whole(data.get("group_threshold", 1), "group_threshold"), groups)
    return SharePolicy(1, (Group("holders", whole(data.get("threshold"), "threshold"),
                                 names(data.get("holders"), "holders")),))


def new_master_secret() -> bytes:
    return secrets.token_bytes(MASTER_SECRET_BYTES)


def split(master_secret: bytes, policy: SharePolicy) -> dict[str, list[str]]:
    """Each holder's mnemonics (one per group they sit in), for ``policy``."""
    if len(master_secret) not in (16, 32):
        raise ValueError(f"a SLIP-39 master secret is 16 or 32 bytes, not {len(master_secret)}")
    layout = [(g.threshold, 1) if g.threshold == 1 else (g.threshold, len(g.holders)) for g in policy.groups]
    mnemonics = shamir_mnemonic.generate_mnemonics(policy.group_threshold, layout, master_secret)
    given: dict[str, list[str]] = defaultdict(list)
    for group, made in zip(policy.groups, mnemonics, strict=True):
        for i, holder in enumerate(group.holders):
            given[holder].append(made[0] if group.threshold == 1 else made[i])
    return dict(given)


def _decode(mnemonic: str, label: str) -> Share:
    words = mnemonic.strip().lower().split()
    for position, word in enumerate(words, 1):
        if word not in _WORDS:
            raise CorruptShare(f"{label}: word {position} is not a SLIP-39 word (a typing or copying error)")
    try:
        return Share.from_mnemonic(" ".join(words))
    except MnemonicError as exc:
        why = str(exc)
        if "checksum" in why:
            raise CorruptShare(f"{label}: the checksum does not match (a word is wrong or two are swapped)") \
                from None
        if "length" in why:
            raise CorruptShare(f"{label}: expected 20 or 33 words, got {len(words)}") from None
        raise CorruptShare(f"{label}: not a valid SLIP-39 share (its padding or parameters are wrong)") from None


def combine(mnemonics: Iterable[tuple[str, str]], policy: SharePolicy | None = None,
            passphrase: bytes = b"") -> bytes:
    """The master secret from ``(label, mnemonic)`` pairs; labels name the source in errors, never words.

    ``policy`` (from the package manifest) only makes the messages name groups and counts. Baton's
    splits use no SLIP-39 passphrase; ``passphrase`` is there for other sets (and the test vectors).
    """
    shares: list[tuple[str, Share]] = [(label, _decode(m, label)) for label, m in mnemonics]
    if not shares:
        raise NotEnoughShares("no shares given")
    first_label, first = shares[0]
    for label, share in shares[1:]:
        if (share.identifier, share.extendable, share.iteration_exponent, share.group_threshold,
                share.group_count) != (first.identifier, first.extendable, first.iteration_exponent,
                                       first.group_threshold, first.group_count):
            if share.identifier != first.identifier:
                raise MismatchedShares(f"{label} comes from a different split (split {share.identifier}) than "
                                       f"{first_label} (split {first.identifier}): use shares of one release")
            raise MismatchedShares(f"{label} does not match {first_label} (same split number, other parameters): "
                                   "use shares of one release")
    groups: dict[int, dict[int, Share]] = defaultdict(dict)
    for label, share in shares:
        known = groups[share.group_index]
        if known and next(iter(known.values())).member_threshold != share.member_threshold:
            raise MismatchedShares(f"{label} does not match the other shares of its group")
        known[share.index] = share  # the same share given twice (copies of a 1-of-N group) counts once

    known_groups: Sequence[Group] = policy.groups if policy and len(policy.groups) == first.group_count else ()

    def group_name(index: int) -> str:
        return known_groups[index].name if known_groups else f"group {index + 1}"

    def of_count(index: int, need: int) -> str:
        return f"{need} of {len(known_groups[index].holders)}" if known_groups else f"{need}"

    complete = [i for i, members in groups.items()
                if len(members) >= next(iter(members.values())).member_threshold]
    if len(complete) < first.group_threshold:
        if first.group_count == 1:
            members = groups[0]
            need = next(iter(members.values())).member_threshold
            raise NotEnoughShares(f"{of_count(0, need)} shares needed, {len(members)} given")
        short = [f"{group_name(i)} has {len(m)} of {next(iter(m.values())).member_threshold}"
                 for i, m in sorted(groups.items()) if i not in complete]
        raise NotEnoughShares(f"{first.group_threshold} complete groups of {first.group_count} needed, "
                              f"{len(complete)} complete" + (f" ({'; '.join(short)})" if short else ""))
    # SLIP-39 combines exactly a threshold of shares per group and exactly the group threshold of groups.
    chosen = [share for i in complete[:first.group_threshold]
              for share in list(groups[i].values())[:next(iter(groups[i].values())).member_threshold]]
    try:
        return bytes(shamir_mnemonic.combine_mnemonics([s.mnemonic() for s in chosen], passphrase))
    except MnemonicError:
        raise CorruptShare("the shares agree in form but do not combine (the digest does not match): one of "
                           "them was altered") from None

