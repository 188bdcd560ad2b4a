"""Splits open for exactly the holders their policy names, and bad shares are refused in words that quote none."""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shamir_mnemonic import Share
from shamir_mnemonic.wordlist import WORD_INDEX_MAP

from vault.errors import CorruptShare, EntryError, MismatchedShares, NotEnoughShares, ShareError
from vault.shares import SharePolicy, combine, new_master_secret, policy_from_dict, split

EXAMPLES = settings(max_examples=60, deadline=None)
PEOPLE = ("ana", "budi", "carla", "dewi", "eko", "fajar", "gita")
FAMILY = ("ana", "budi", "carla")
NOTARY = "notary"
# "2 of the family, or 1 of the family and the notary", in SLIP-39 groups.
FAMILY_GROUPS: list[dict[str, Any]] = [
    {"name": "family-any", "threshold": 1, "holders": list(FAMILY)},
    {"name": "family-two", "threshold": 2, "holders": list(FAMILY)},
    {"name": "notary", "threshold": 1, "holders": [NOTARY]},
]
FAMILY_OR_NOTARY: dict[str, Any] = {"group_threshold": 2, "groups": FAMILY_GROUPS}
NOT_A_WORD = "baton"


def _shares_of(given_out: dict[str, list[str]], holders: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """The ``(label, mnemonic)`` pairs the holders bring, labelled as recovery labels them."""
    return [(f"share {i} of {holder}", mnemonic) for holder in holders
            for i, mnemonic in enumerate(given_out[holder], 1)]


def _echoed(message: str, mnemonics: list[str]) -> set[str]:
    """The words of the mnemonics that appear in the message."""
    return {w for m in mnemonics for w in m.split()} & set(re.findall(r"[a-z]+", message.lower()))


@st.composite
def single_group_splits(draw: st.DrawFn) -> tuple[int, int, SharePolicy]:
    n = draw(st.integers(1, len(PEOPLE)))
    t = draw(st.integers(1, n))
    return n, t, policy_from_dict({"threshold": t, "holders": list(PEOPLE[:n])})


SECRETS = st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32)


@EXAMPLES
@given(single_group_splits(), SECRETS, st.data())
def test_any_threshold_of_holders_recover_the_master_secret(split_of: tuple[int, int, SharePolicy], secret: bytes,
                                                             data: st.DataObject) -> None:
    """Any t distinct holders of a t-of-n split recover the master secret."""
    n, t, policy = split_of
    given_out = split(secret, policy)
    holders = data.draw(st.permutations(PEOPLE[:n]), label="holders in the order they come")[:t]
    assert combine(_shares_of(given_out, holders), policy) == secret


@EXAMPLES
@given(single_group_splits().filter(lambda s: s[1] > 1), st.data())
def test_fewer_than_threshold_holders_get_not_enough_shares(split_of: tuple[int, int, SharePolicy],
                                                           data: st.DataObject) -> None:
    """Fewer than t holders of a t-of-n split are told how many shares are needed and how many were given."""
    n, t, policy = split_of
    given_out = split(new_master_secret(), policy)
    k = data.draw(st.integers(1, t - 1), label="how many holders come")
    holders = data.draw(st.permutations(PEOPLE[:n]), label="holders in the order they come")[:k]
    with pytest.raises(NotEnoughShares) as raised:
        combine(_shares_of(given_out, holders), policy)
    assert str(raised.value) == f"{t} of {n} shares needed, {k} given"


def test_no_shares_at_all_are_not_enough() -> None:
    """Combining nothing says that no shares were given."""
    with pytest.raises(NotEnoughShares) as raised:
        combine([])
    assert str(raised.value) == "no shares given"


def test_every_holder_together_recovers_the_master_secret() -> None:
    """All three holders of a 2-of-3 split, coming together, recover the master secret (more than enough is fine)."""
    policy = policy_from_dict({"threshold": 2, "holders": list(FAMILY)})
    secret = new_master_secret()
    assert combine(_shares_of(split(secret, policy), FAMILY), policy) == secret


def test_family_or_notary_opens_for_exactly_the_right_people() -> None:
    """Of the 16 subsets of three family members and a notary, exactly 2 of the family, or 1 and the notary, open."""
    policy = policy_from_dict(FAMILY_OR_NOTARY)
    secret = new_master_secret()
    given_out = split(secret, policy)
    opened: set[tuple[str, ...]] = set()
    refused: dict[tuple[str, ...], ShareError] = {}
    for size in range(len(FAMILY) + 2):
        for people in itertools.combinations((*FAMILY, NOTARY), size):
            try:
                result = combine(_shares_of(given_out, people), policy)
            except ShareError as exc:
                refused[people] = exc
            else:
                assert result == secret
                opened.add(people)
    expected = {people for people in [*opened, *refused]
                if len(set(people) & set(FAMILY)) >= 2 or (set(people) & set(FAMILY) and NOTARY in people)}
    assert opened == expected
    assert all(isinstance(exc, NotEnoughShares) for exc in refused.values())
    assert len(opened) + len(refused) == 16


@pytest.mark.parametrize(("people", "message"), [
    pytest.param(("ana",), "2 complete groups of 3 needed, 1 complete (family-two has 1 of 2)", id="one-of-family"),
    pytest.param((NOTARY,), "2 complete groups of 3 needed, 1 complete", id="notary-alone"),
])
def test_an_incomplete_group_quorum_names_the_groups_short(people: tuple[str, ...], message: str) -> None:
    """Short of the group threshold, the message counts complete groups and names the groups short of members."""
    policy = policy_from_dict(FAMILY_OR_NOTARY)
    with pytest.raises(NotEnoughShares) as raised:
        combine(_shares_of(split(new_master_secret(), policy), people), policy)
    assert str(raised.value) == message


def _two_splits() -> tuple[dict[str, list[str]], dict[str, list[str]], int, int]:
    """Two splits of one policy with different split numbers (a 1 in 32768 collision is drawn again)."""
    policy = policy_from_dict({"threshold": 2, "holders": list(FAMILY)})
    while True:
        first, second = split(new_master_secret(), policy), split(new_master_secret(), policy)
        ids = Share.from_mnemonic(first["ana"][0]).identifier, Share.from_mnemonic(second["ana"][0]).identifier
        if ids[0] != ids[1]:
            return first, second, *ids


def test_shares_of_two_splits_are_mismatched() -> None:
    """A share from another split is refused, naming both labels and both split numbers."""
    first, second, first_id, second_id = _two_splits()
    mnemonics = [first["ana"][0], second["budi"][0]]
    with pytest.raises(MismatchedShares) as raised:
        combine([("share 1 of ana", mnemonics[0]), ("share 1 of budi", mnemonics[1])])
    assert str(raised.value) == (f"share 1 of budi comes from a different split (split {second_id}) than "
                                 f"share 1 of ana (split {first_id}): use shares of one release")
    assert not _echoed(str(raised.value), mnemonics)


@pytest.mark.parametrize("field", ["iteration_exponent", "extendable", "group_count"])
def test_shares_said_to_come_from_different_splits_name_two_different_split_numbers(field: str) -> None:
    """A share of the same split number but other parameters is not reported as "split N" against "split N"."""
    policy = policy_from_dict({"threshold": 2, "holders": list(FAMILY)})
    given_out = split(new_master_secret(), policy)
    share = Share.from_mnemonic(given_out["budi"][0])
    changed = {"iteration_exponent": share.iteration_exponent + 1, "extendable": not share.extendable,
               "group_count": share.group_count + 1}[field]
    odd = dataclasses.replace(share, **{field: changed}).mnemonic()
    with pytest.raises(MismatchedShares) as raised:
        combine([("share 1 of ana", given_out["ana"][0]), ("share 1 of budi", odd)], policy)
    numbers = re.findall(r"\(split (\d+)\)", str(raised.value))
    assert len(set(numbers)) == len(numbers), str(raised.value)


def _ana_share() -> tuple[list[str], list[str]]:
    """Ana's words of a fresh 2-of-3 split, and Budi's share as it is."""
    given_out = split(new_master_secret(), policy_from_dict({"threshold": 2, "holders": list(FAMILY)}))
    return given_out["ana"][0].split(), [given_out["budi"][0]]


def test_a_word_not_in_the_slip39_list_is_named_by_position() -> None:
    """A word outside the SLIP-39 list is refused by its position, and neither it nor any other word is quoted."""
    assert NOT_A_WORD not in WORD_INDEX_MAP
    words, others = _ana_share()
    secret_word = words[3]
    words[3] = NOT_A_WORD
    with pytest.raises(CorruptShare) as raised:
        combine([("share 1 of ana", " ".join(words)), ("share 1 of budi", others[0])])
    assert str(raised.value) == "share 1 of ana: word 4 is not a SLIP-39 word (a typing or copying error)"
    assert NOT_A_WORD not in str(raised.value)
    assert not _echoed(str(raised.value), [" ".join(words), secret_word, *others])


@pytest.mark.parametrize("position", [0, 3, 10, 19])
def test_a_wrong_but_valid_word_fails_the_checksum(position: int) -> None:
    """One SLIP-39 word replaced by another is caught by the checksum, quoting no word."""
    words, others = _ana_share()
    original = words[position]
    words[position] = next(w for w in ("academic", "acid") if w != original)
    with pytest.raises(CorruptShare) as raised:
        combine([("share 1 of ana", " ".join(words)), ("share 1 of budi", others[0])])
    assert str(raised.value) == "share 1 of ana: the checksum does not match (a word is wrong or two are swapped)"
    assert not _echoed(str(raised.value), [" ".join(words), original, *others])


def test_two_swapped_words_fail_the_checksum() -> None:
    """Two neighbouring words typed in the wrong order are caught by the checksum."""
    words, others = _ana_share()
    at = next(i for i in range(4, 19) if words[i] != words[i + 1])
    words[at], words[at + 1] = words[at + 1], words[at]
    with pytest.raises(CorruptShare) as raised:
        combine([("share 1 of ana", " ".join(words)), ("share 1 of budi", others[0])])
    assert str(raised.value) == "share 1 of ana: the checksum does not match (a word is wrong or two are swapped)"


def test_a_share_missing_a_word_says_how_many_words_it_has() -> None:
    """A share with a word left out is refused by its word count."""
    words, others = _ana_share()
    with pytest.raises(CorruptShare) as raised:
        combine([("share 1 of ana", " ".join(words[:-1])), ("share 1 of budi", others[0])])
    assert str(raised.value) == f"share 1 of ana: expected 20 or 33 words, got {len(words) - 1}"


def test_case_and_spacing_of_a_typed_share_do_not_matter() -> None:
    """A share typed in capitals with extra spaces combines as well as the original."""
    policy = policy_from_dict({"threshold": 2, "holders": list(FAMILY)})
    secret = new_master_secret()
    given_out = split(secret, policy)
    typed = "  " + "   ".join(given_out["ana"][0].upper().split()) + "\n"
    assert combine([("share 1 of ana", typed), ("share 1 of budi", given_out["budi"][0])], policy) == secret


INVALID_POLICIES = [
    pytest.param({"threshold": 0, "holders": ["ana", "budi"]},
                 "share policy, group 'holders': expected a threshold from 1 to 2, got 0", id="threshold-zero"),
    pytest.param({"threshold": 3, "holders": ["ana", "budi"]},
                 "share policy, group 'holders': expected a threshold from 1 to 2, got 3", id="threshold-too-big"),
    pytest.param({"threshold": 2, "holders": ["ana", "budi", "ana"]},
                 "share policy, group 'holders': a holder is listed twice", id="duplicate-holder"),
    pytest.param({"threshold": 2, "holders": [f"holder{i}" for i in range(17)]},
                 "share policy, group 'holders': expected 1 to 16 holders, got 17", id="seventeen-holders"),
    pytest.param({"threshold": 1, "holders": []},
                 "share policy, group 'holders': expected 1 to 16 holders, got 0", id="no-holders"),
    pytest.param({"group_threshold": 1, "groups": []},
                 "share policy: expected at least one group of holders, got none", id="no-groups"),
    pytest.param({"group_threshold": 3, "groups": FAMILY_GROUPS[:2]},
                 "share policy: expected a group threshold from 1 to 2, got 3", id="group-threshold-too-big"),
    pytest.param({"group_threshold": 1, "groups": [{"name": "family", "threshold": 1, "holders": ["ana"]},
                                                  {"name": "family", "threshold": 1, "holders": ["budi"]}]},
                 "share policy: expected distinct group names, got a repeated one", id="repeated-group-name"),
    pytest.param({"group_threshold": 1, "groups": [{"name": f"g{i}", "threshold": 1, "holders": ["ana"]}
                                                  for i in range(17)]},
                 "share policy: expected at most 16 groups, got 17", id="seventeen-groups"),
    pytest.param({"threshold": "two", "holders": ["ana", "budi"]},
                 "share policy: expected a whole number for threshold, got 'two'", id="threshold-not-a-number"),
    pytest.param({"threshold": True, "holders": ["ana", "budi"]},
                 "share policy: expected a whole number for threshold, got True", id="threshold-a-boolean"),
    pytest.param({"threshold": 1, "holders": "ana, budi"},
                 "share policy: expected a list of holder names for holders, got 'ana, budi'", id="holders-not-a-list"),
    pytest.param({"threshold": 1, "holders": ["ana", " "]},
                 "share policy: expected a list of holder names for holders, got ['ana', ' ']", id="blank-holder"),
    pytest.param({"group_threshold": 1, "groups": {"family": ["ana"]}},
                 "share policy: expected groups as a list of objects, got {'family': ['ana']}", id="groups-not-a-list"),
]


@pytest.mark.parametrize(("data", "message"), INVALID_POLICIES)
def test_an_invalid_policy_is_refused_with_what_was_expected(data: dict[str, Any], message: str) -> None:
    """A share policy that cannot be split says what it expected and what it got."""
    with pytest.raises(EntryError) as raised:
        policy_from_dict(data)
    assert str(raised.value) == message


def test_a_valid_policy_round_trips_and_describes_itself() -> None:
    """A group policy survives to_dict and back, and describes itself in words."""
    policy = policy_from_dict(FAMILY_OR_NOTARY)
    assert policy_from_dict(policy.to_dict()) == policy
    assert policy.holders == [*FAMILY, NOTARY]
    assert policy.describe() == ("2 of these groups: 1 of 3 (family-any); 2 of 3 (family-two); 1 of 1 (notary)")
    assert policy_from_dict({"threshold": 2, "holders": list(FAMILY)}).describe() == "2 of 3 (holders)"


def test_each_member_of_a_one_of_n_group_holds_the_same_share() -> None:
    """In a 1-of-N group every member holds a copy of one share (SLIP-39 allows no other way)."""
    given_out = split(new_master_secret(), policy_from_dict(FAMILY_OR_NOTARY))
    assert given_out["ana"][0] == given_out["budi"][0] == given_out["carla"][0]
    assert len({given_out[p][1] for p in FAMILY}) == 3
    assert len(given_out[NOTARY]) == 1
