"""A valid policy can still name verifiers nobody can ask: said in one sentence each, and the quorum's reach."""

from __future__ import annotations

from typing import Any

from switch import policy_from_dict, policy_warnings, unaskable_verifiers


def _policy(verifiers: list[Any], quorum: int = 1) -> Any:
    return policy_from_dict({"interval": "30d", "confirm": {"window": "3d", "verifiers": verifiers, "quorum": quorum}})


def test_verifiers_without_an_address_are_named_in_the_policys_order() -> None:
    """Names alone are valid, and listed; a verifier with an address is not."""
    policy = _policy([{"name": "ana", "email": "ana@example.org"}, "budi", {"name": "carla"}])
    assert unaskable_verifiers(policy) == ("budi", "carla")
    assert unaskable_verifiers(policy_from_dict({"interval": "30d"})) == ()


def test_each_unaskable_verifier_gets_a_warning_and_an_unreachable_quorum_one_more() -> None:
    """Two of three without an address and a quorum of 2: three sentences, the last about the quorum."""
    said = policy_warnings(_policy([{"name": "ana", "email": "ana@example.org"}, "budi", "carla"], quorum=2))
    assert said == (
        "verifier budi has no e-mail address: nobody can ask them, so they can never answer "
        "(give one: {name: budi, email: …})",
        "verifier carla has no e-mail address: nobody can ask them, so they can never answer "
        "(give one: {name: carla, email: …})",
        "only 1 of the 3 verifiers can be asked, fewer than the quorum of 2: their answers can never fire the "
        "switch early; it fires when the confirmation window ends")


def test_a_policy_whose_verifiers_all_have_addresses_warns_of_nothing() -> None:
    """Addresses for all, or no confirmation at all: no warning."""
    assert policy_warnings(_policy([{"name": "ana", "email": "ana@example.org"}])) == ()
    assert policy_warnings(policy_from_dict({"interval": "30d"})) == ()
    assert policy_warnings(_policy([{"name": "ana", "email": "ana@example.org"}, "budi"], quorum=1)) == (
        "verifier budi has no e-mail address: nobody can ask them, so they can never answer "
        "(give one: {name: budi, email: …})",)
