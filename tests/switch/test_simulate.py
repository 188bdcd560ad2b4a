"""`simulate` turns a policy and a history of inputs into the timeline; a bad scenario names the event."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from switch import ScenarioError, iso, parse_scenario, simulate

EXAMPLE: dict[str, Any] = {
    "start": "2026-01-01T09:00:00Z",
    "until": "2027-01-01T00:00:00Z",
    "policy": {
        "interval": "30d",
        "timezone": "Europe/Rome",
        "reminders": ["7d", "1d"],
        "grace": "7d",
        "grace_reminder_every": "1d",
        "confirm": {"window": "3d", "verifiers": ["ana", "budi", "carla"], "quorum": 2},
        "stages": [{"name": "staff", "after": "0d"}, {"name": "family", "after": "14d"},
                   {"name": "customers", "after": "21d"}],
    },
    "events": [
        {"at": "2026-01-20T10:00:00Z", "type": "checkin"},
        {"at": "2026-03-01T10:00:00Z", "type": "vote", "who": "ana", "answer": "unreachable"},
        {"at": "2026-05-01T00:00:00Z", "type": "pause", "until": "2026-05-20T00:00:00Z"},
    ],
}

# Armed at start as if checked in (deadline 01-31, first reminder 01-24); the check-in on
# 01-20 comes before any reminder and moves the deadline to 02-19 10:00. Reminders 7d and
# 1d before it; grace reminders daily strictly inside the grace (02-20 … 02-25); verifiers
# asked when grace ends (02-26); the window closes 03-01 10:00. Ana's vote arrives at that
# very instant: inputs come before timers, so it is counted (1 of 2, too few) and then the
# window's end fires. Stages at fired_at + 0d, 14d, 21d. The pause on 05-01 is an owner act
# (the switch had released: it re-arms) and its end on 05-20 re-arms again: deadline 06-19,
# and with no check-in after it the whole cycle repeats.
EXPECTED = [
    ("2026-01-20T10:00:00Z", "checkin", None),
    ("2026-02-12T10:00:00Z", "reminder", None),
    ("2026-02-18T10:00:00Z", "reminder", None),
    ("2026-02-19T10:00:00Z", "deadline", None),
    ("2026-02-20T10:00:00Z", "grace_reminder", None),
    ("2026-02-21T10:00:00Z", "grace_reminder", None),
    ("2026-02-22T10:00:00Z", "grace_reminder", None),
    ("2026-02-23T10:00:00Z", "grace_reminder", None),
    ("2026-02-24T10:00:00Z", "grace_reminder", None),
    ("2026-02-25T10:00:00Z", "grace_reminder", None),
    ("2026-02-26T10:00:00Z", "confirm_requested", "ana"),
    ("2026-02-26T10:00:00Z", "confirm_requested", "budi"),
    ("2026-02-26T10:00:00Z", "confirm_requested", "carla"),
    ("2026-03-01T10:00:00Z", "vote", "ana"),
    ("2026-03-01T10:00:00Z", "fired", None),
    ("2026-03-01T10:00:00Z", "stage", "staff"),
    ("2026-03-15T10:00:00Z", "stage", "family"),
    ("2026-03-22T10:00:00Z", "stage", "customers"),
    ("2026-05-01T00:00:00Z", "paused", None),
    ("2026-05-20T00:00:00Z", "resumed", None),
    ("2026-06-12T00:00:00Z", "reminder", None),
    ("2026-06-18T00:00:00Z", "reminder", None),
    ("2026-06-19T00:00:00Z", "deadline", None),
    ("2026-06-20T00:00:00Z", "grace_reminder", None),
    ("2026-06-21T00:00:00Z", "grace_reminder", None),
    ("2026-06-22T00:00:00Z", "grace_reminder", None),
    ("2026-06-23T00:00:00Z", "grace_reminder", None),
    ("2026-06-24T00:00:00Z", "grace_reminder", None),
    ("2026-06-25T00:00:00Z", "grace_reminder", None),
    ("2026-06-26T00:00:00Z", "confirm_requested", "ana"),
    ("2026-06-26T00:00:00Z", "confirm_requested", "budi"),
    ("2026-06-26T00:00:00Z", "confirm_requested", "carla"),
    ("2026-06-29T00:00:00Z", "fired", None),
    ("2026-06-29T00:00:00Z", "stage", "staff"),
    ("2026-07-13T00:00:00Z", "stage", "family"),
    ("2026-07-20T00:00:00Z", "stage", "customers"),
]


def _scenario(events: list[Any], **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data["events"] = events
    data.update(changes)
    return data


def _outline(data: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(iso(e.at), str(e.kind), e.stage or e.who) for e in simulate(parse_scenario(data))]


def test_the_example_scenario_gives_the_expected_timeline() -> None:
    """The example from the design gives exactly this sequence of events, stages and verifiers."""
    assert _outline(EXAMPLE) == EXPECTED


def test_the_timeline_prints_each_event_with_its_reason_and_details() -> None:
    """Each event's mapping carries the moment, the kind, who or which stage, the reason and its data."""
    events = [e.to_dict() for e in simulate(parse_scenario(EXAMPLE))]

    assert events[0] == {"at": "2026-01-20T10:00:00Z", "event": "checkin",
                         "reason": "check-in via scenario; next deadline 2026-02-19T10:00:00Z",
                         "via": "scenario", "deadline": "2026-02-19T10:00:00Z"}
    assert events[1] == {"at": "2026-02-12T10:00:00Z", "event": "reminder",
                         "reason": "deadline 2026-02-19T10:00:00Z in 7d",
                         "deadline": "2026-02-19T10:00:00Z", "index": 0}
    assert events[10] == {"at": "2026-02-26T10:00:00Z", "event": "confirm_requested", "who": "ana",
                          "reason": "grace over; verifiers asked until 2026-03-01T10:00:00Z",
                          "closes": "2026-03-01T10:00:00Z"}
    assert events[13:16] == [
        {"at": "2026-03-01T10:00:00Z", "event": "vote", "who": "ana",
         "reason": "1 of 2 unreachable answers needed to fire early", "answer": "unreachable"},
        {"at": "2026-03-01T10:00:00Z", "event": "fired", "reason": "confirmation window ended without a check-in",
         "cause": "confirmation", "deadline": "2026-02-19T10:00:00Z"},
        {"at": "2026-03-01T10:00:00Z", "event": "stage", "stage": "staff", "reason": "0d after firing",
         "index": 0, "action": "notify", "audience": []},
    ]
    assert events[19] == {"at": "2026-05-20T00:00:00Z", "event": "resumed",
                          "reason": "pause ended; next deadline 2026-06-19T00:00:00Z",
                          "deadline": "2026-06-19T00:00:00Z"}


def test_a_second_unreachable_vote_fires_at_the_moment_of_the_quorum() -> None:
    """Budi's answer a day after ana's makes two of three: the switch fires then, not at the window's end."""
    data = _scenario([
        {"at": "2026-02-27T10:00:00Z", "type": "vote", "who": "ana", "answer": "unreachable"},
        {"at": "2026-02-28T10:00:00Z", "type": "vote", "who": "budi", "answer": "unreachable"},
    ], start="2026-01-20T10:00:00Z", until="2026-03-10T00:00:00Z")

    events = list(simulate(parse_scenario(data)))

    fired = [e for e in events if str(e.kind) == "fired"]
    assert [(iso(e.at), e.reason) for e in fired] == [
        ("2026-02-28T10:00:00Z", "2 of 3 verifiers answered unreachable (quorum 2)")]


def test_a_check_in_at_the_very_moment_of_firing_prevents_it() -> None:
    """At one instant the person wins over the clock: a check-in at window's end re-arms instead."""
    data = _scenario([{"at": "2026-03-01T10:00:00Z", "type": "checkin"}],
                     start="2026-01-20T10:00:00Z", until="2026-03-10T00:00:00Z")

    outline = _outline(data)

    assert ("2026-03-01T10:00:00Z", "checkin", None) in outline
    assert "fired" not in [kind for _, kind, _ in outline]


def test_a_pause_counts_as_an_owner_act_and_re_arms_at_its_end() -> None:
    """A pause before the deadline holds every reminder; its end starts a fresh interval."""
    data = _scenario([{"at": "2026-01-10T09:00:00Z", "type": "pause", "until": "2026-02-10T09:00:00Z"}],
                     until="2026-03-13T09:00:00Z")

    assert _outline(data) == [
        ("2026-01-10T09:00:00Z", "paused", None),
        ("2026-02-10T09:00:00Z", "resumed", None),
        ("2026-03-05T09:00:00Z", "reminder", None),
        ("2026-03-11T09:00:00Z", "reminder", None),
        ("2026-03-12T09:00:00Z", "deadline", None),
        ("2026-03-13T09:00:00Z", "grace_reminder", None),
    ]


def test_simulate_names_events_by_their_place_in_the_scenario_not_in_time_order() -> None:
    """Inputs are sorted by time, but an error still names the index the author wrote."""
    data = _scenario([
        {"at": "2026-03-01T10:00:00Z", "type": "vote", "who": "zed", "answer": "unreachable"},
        {"at": "2026-01-20T10:00:00Z", "type": "checkin"},
    ])

    with pytest.raises(ScenarioError) as raised:
        list(simulate(parse_scenario(data)))

    assert str(raised.value) == "scenario `events[0]`: expected one of the policy's verifiers, got 'zed'"
    assert raised.value.where == "events[0]"


BAD_EVENTS = [
    pytest.param({"at": "yesterday", "type": "checkin"},
                 "scenario `events[1].at`: expected a moment like 2026-01-01T09:00:00Z, got 'yesterday'",
                 id="unreadable-at"),
    pytest.param({"at": "2026-02-01T09:00:00", "type": "checkin"},
                 "scenario `events[1].at`: expected a moment with a time zone (Z or +01:00), "
                 "got '2026-02-01T09:00:00'",
                 id="at-without-a-time-zone"),
    pytest.param({"at": "2027-02-01T00:00:00Z", "type": "checkin"},
                 "scenario `events[1].at`: expected a moment between start and until, got 2027-02-01T00:00:00Z",
                 id="at-after-until"),
    pytest.param({"at": "2026-02-01T09:00:00Z", "type": "holiday"},
                 "scenario `events[1].type`: expected one of checkin, vote, pause, release_request, "
                 "got 'holiday'",
                 id="unknown-type"),
    pytest.param({"at": "2026-02-01T09:00:00Z", "type": "vote", "who": "ana", "answer": "maybe"},
                 "scenario `events[1].answer`: expected reachable or unreachable, got 'maybe'",
                 id="vote-with-an-unknown-answer"),
    pytest.param({"at": "2026-02-01T09:00:00Z", "type": "release_request"},
                 "scenario `events[1].who`: expected a name, got nothing",
                 id="request-without-who"),
    pytest.param({"at": "2026-02-01T09:00:00Z", "type": "pause", "until": "soon"},
                 "scenario `events[1].until`: expected a moment like 2026-01-01T09:00:00Z, got 'soon'",
                 id="pause-with-an-unreadable-end"),
    pytest.param("checkin",
                 "scenario `events[1]`: expected an object with at and type, got 'checkin'",
                 id="not-an-object"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_EVENTS)
def test_a_malformed_event_is_refused_naming_its_index_and_field(bad: Any, message: str) -> None:
    """parse_scenario names `events[N]` and the field, what it expected and what it got."""
    data = _scenario([{"at": "2026-01-20T10:00:00Z", "type": "checkin"}, bad])

    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data)

    assert str(raised.value) == message


BAD_INPUTS = [
    pytest.param({"at": "2026-03-01T10:00:00Z", "type": "vote", "who": "zed", "answer": "unreachable"},
                 "scenario `events[1]`: expected one of the policy's verifiers, got 'zed'",
                 id="vote-by-an-unknown-verifier"),
    pytest.param({"at": "2026-05-01T00:00:00Z", "type": "pause", "until": "2026-09-01T00:00:00Z"},
                 "scenario `events[1]`: expected a pause of at most 90d, got 123d (until 2026-09-01T00:00:00Z)",
                 id="pause-longer-than-max-pause"),
    pytest.param({"at": "2026-05-01T00:00:00Z", "type": "pause", "until": "2026-04-01T00:00:00Z"},
                 "scenario `events[1]`: expected a pause end after 2026-05-01T00:00:00Z, got 2026-04-01T00:00:00Z",
                 id="pause-ending-before-it-starts"),
    pytest.param({"at": "2026-04-01T00:00:00Z", "type": "release_request", "who": "dewi"},
                 "scenario `events[1]`: the switch has already fired (status released)",
                 id="request-after-release"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_INPUTS)
def test_an_input_the_switch_refuses_stops_the_simulation_naming_its_index(bad: Any, message: str) -> None:
    """The machine's InputError comes back as a ScenarioError for `events[N]` with the same words."""
    data = _scenario([{"at": "2026-01-20T10:00:00Z", "type": "checkin"}, bad])
    scenario = parse_scenario(data)

    with pytest.raises(ScenarioError) as raised:
        list(simulate(scenario))

    assert str(raised.value) == message


@pytest.mark.parametrize(("changes", "message"), [
    pytest.param({"start": "2026-13-01T00:00:00Z"},
                 "scenario `start`: expected a moment like 2026-01-01T09:00:00Z, got '2026-13-01T00:00:00Z'",
                 id="unreadable-start"),
    pytest.param({"until": "2025-12-31T00:00:00Z"},
                 "scenario `until`: expected a moment after start 2026-01-01T09:00:00Z, got 2025-12-31T00:00:00Z",
                 id="until-before-start"),
    pytest.param({"policy": {"interval": "0d"}},
                 "scenario `policy.interval`: expected a duration longer than zero, got '0d'",
                 id="invalid-policy"),
    pytest.param({"events": {"at": "2026-01-20T10:00:00Z", "type": "checkin"}},
                 "scenario `events`: expected a list, got an object",
                 id="events-not-a-list"),
])
def test_a_malformed_scenario_is_refused_naming_the_field(changes: dict[str, Any], message: str) -> None:
    """Errors outside the events name the top-level field, or the policy field under `policy.`."""
    with pytest.raises(ScenarioError) as raised:
        parse_scenario({**EXAMPLE, **changes})

    assert str(raised.value) == message
