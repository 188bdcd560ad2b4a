"""Why a release happened, said from the fired event's data in the holder's language and time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handover import holdertexts, i18n
from switch import Policy, arm, policy_from_dict, run_due, vote

POLICY = {"interval": "30d", "grace": "1d", "timezone": "Asia/Makassar",
          "confirm": {"window": "2d", "verifiers": [{"name": "vera"}, {"name": "wayan"}], "quorum": 1},
          "stages": [{"name": "release", "after": "0d", "audience": [], "action": "release"}]}
START = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def _policy(**changes: object) -> Policy:
    return policy_from_dict({**POLICY, **changes})


def _fired_cause(policy: Policy, *, voted: bool) -> dict[str, object]:
    state = arm(policy, START)
    if voted:
        step = run_due(policy, state, START + timedelta(days=31, hours=1))
        step = vote(policy, step.state, START + timedelta(days=31, hours=2), "vera", "unreachable")
    else:
        step = run_due(policy, state, START + timedelta(days=40))
    [fired] = [e for e in step.events if str(e.kind) == "fired"]
    return dict(fired.data)


def test_a_quorum_of_verifiers_is_said_in_each_language_with_its_figures() -> None:
    cause = _fired_cause(_policy(), voted=True)
    assert cause == {"cause": "quorum", "unreachable": 1, "verifiers": 2, "quorum": 1}
    said = {language: holdertexts.reason(cause, language, "Asia/Makassar") for language in i18n.LANGUAGES}
    assert said["en"] == ("1 of the 2 people asked to confirm said the owner cannot be reached "
                          "(1 such answer was needed)")
    assert said["id"] == ("1 dari 2 orang yang diminta memastikan menyatakan bahwa pemilik tidak dapat dihubungi "
                          "(dibutuhkan 1 jawaban seperti itu)")
    assert said["it"].startswith("1 delle 2 persone") and said["it"].endswith("(ne serviva 1)")
    assert "contatado" in said["pt"] and said["pt-BR"] == said["pt"]
    assert "contactar" in said["pt-PT"]  # European Portuguese, from the pt_PT catalog


def test_a_grace_that_ran_out_names_the_deadline_in_the_reader_s_time_zone() -> None:
    cause = _fired_cause(_policy(confirm=None), voted=False)
    assert cause == {"cause": "grace", "deadline": "2027-01-31T09:00:00Z"}
    said = holdertexts.reason(cause, "id", "Asia/Makassar")
    assert said == ("pemilik tidak memberi kabar (check-in) sebelum batas waktu (31 Januari 2027 17.00 "
                    "(Waktu Indonesia Tengah)), maupun selama masa tenggang sesudahnya")
    assert "2027-01-31" not in holdertexts.reason(cause, "en", "Europe/Rome")


def test_a_confirmation_window_that_closed_is_its_own_reason() -> None:
    cause = _fired_cause(_policy(), voted=False)
    assert cause["cause"] == "confirmation"
    assert "people asked to confirm gave no sign" in holdertexts.reason(cause, "en", "UTC")


@pytest.mark.parametrize("cause", [None, {}, {"cause": "quorum"}, {"cause": "grace", "deadline": "soon"},
                                   {"cause": "something newer"}], ids=["none", "empty", "no figures",
                                                                       "bad moment", "unknown"])
def test_a_release_without_usable_data_gets_the_plain_sentence(cause: dict[str, object] | None) -> None:
    assert holdertexts.reason(cause, "it", "UTC") == ("il titolare ha smesso di dare segno di vita (check-in), "
                                                      "e ogni tutela che aveva scelto ha fatto il suo corso")


def test_the_rule_is_said_in_the_holder_s_language() -> None:
    one = {"group_threshold": 1, "groups": [{"name": "holders", "threshold": 3, "holders": list("abcde")}]}
    two = {"group_threshold": 1, "groups": [{"name": "family", "threshold": 2, "holders": ["a", "b"]},
                                            {"name": "notary", "threshold": 1, "holders": ["c"]}]}
    assert holdertexts.rule(one, "en") == "3 of 5 (holders)"
    assert holdertexts.rule(one, "pt-PT") == "3 de 5 (detentores)"
    assert holdertexts.rule(two, "it") == "1 di questi gruppi: 2 su 2 (family); 1 su 1 (notary)"


def test_other_holders_show_an_e_mail_only_when_they_chose_to_share_it() -> None:
    policy = {"group_threshold": 1, "groups": [{"name": "holders", "threshold": 2, "holders": ["ana", "budi", "rui"]}]}
    everyone = [{"name": "ana", "display_name": "Ana", "language": "en", "email": "ana@x.org", "share_contact": True},
                {"name": "budi", "display_name": "Budi", "language": "id", "email": "budi@x.org",
                 "share_contact": False},
                {"name": "rui", "display_name": "Rui", "language": "pt-PT", "email": "rui@x.org",
                 "share_contact": True}]
    others = holdertexts.fellow_holders(policy, everyone, "rui", "id")
    assert [(o["name"], o["language_name"], o["email"]) for o in others] == [
        ("Ana", "Inggris", "ana@x.org"), ("Budi", "Indonesia", None)]
