"""Which policy changes could bring a release earlier (``switch.hastening``).

The property: a change found harmless (``hastens(...) == ()``) never moves any clock-made
moment of a switch's life earlier, for a check-in at any moment; and each kind of hastening
change is named in words an owner reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switch import Kind, Policy, arm, policy_from_dict, run_due
from switch.hastening import hastens

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BASE: dict[str, Any] = {
    "interval": "30d", "reminders": ["7d", "1d"], "grace": "7d", "grace_reminder_every": "1d",
    "confirm": {"window": "3d", "verifiers": [{"name": "ana", "email": "ana@example.org"}, "budi"], "quorum": 2},
    "stages": [{"name": "staff", "after": "0d", "audience": ["ana"], "action": "release"},
               {"name": "family", "after": "14d", "audience": ["budi"], "action": "release"}],
    "release_request": {"wait": "7d"},
}


def policy(**changes: Any) -> Policy:
    return policy_from_dict({**BASE, **changes})


def test_the_same_policy_hastens_nothing() -> None:
    assert hastens(policy(), policy()) == ()


def test_changes_that_only_delay_a_release_are_not_held() -> None:
    later = policy(interval="40d", reminders=["10d", "7d", "1d"], grace="8d", grace_reminder_every="12h",
                   confirm={"window": "4d", "verifiers": [{"name": "ana", "email": "ana@example.org"}, "budi",
                                                          "carla"], "quorum": 2},
                   stages=[{"name": "staff", "after": "1d", "audience": ["ana"], "action": "release"}],
                   release_request={"wait": "8d"})
    assert hastens(policy(), later) == ()


def test_each_kind_of_hastening_change_is_named() -> None:
    cases = {
        "check-ins every 7d instead of 30d": policy(interval="7d", reminders=["1d"]),
        "reminder(s) removed: 7d before the deadline": policy(reminders=["1d"]),
        "fewer reminders during grace": policy(grace_reminder_every=None),
        "grace of 1h instead of 7d": policy(grace="1h"),
        "no confirmation by verifiers": policy(confirm=None),
        "a confirmation window of 1d instead of 3d": policy(confirm={**BASE["confirm"], "window": "1d"}),
        "a quorum of 1 instead of 2": policy(confirm={**BASE["confirm"], "quorum": 1}),
        "verifier(s) removed or given another address: ana": policy(
            confirm={**BASE["confirm"], "verifiers": [{"name": "ana", "email": "thief@example.net"}, "budi"]}),
        "a new stage 'leak' (release, 30d after firing)": policy(
            stages=[*BASE["stages"], {"name": "leak", "after": "30d", "audience": ["x@example.net"],
                                      "action": "release"}]),
        "stage 'family' runs 0d after firing instead of 14d": policy(
            stages=[BASE["stages"][0], {**BASE["stages"][1], "after": "0d"}]),
        "stage 'family' reaches more people: thief@example.net": policy(
            stages=[BASE["stages"][0], {**BASE["stages"][1], "audience": ["budi", "thief@example.net"]}]),
        "a release request completes after 1h instead of 7d": policy(release_request={"wait": "1h"}),
        "a different check-in schedule": policy_from_dict(
            {k: v for k, v in {**BASE, "schedule": {"every": "month", "on": [1], "at": "09:00"}}.items()
             if k != "interval"} | {"reminders": ["1d"]}),
    }
    for reason, changed in cases.items():
        found = hastens(policy(), changed)
        assert any(r.startswith(reason) for r in found), (reason, found)


def test_a_schedule_read_in_another_time_zone_is_a_different_schedule() -> None:
    monthly = {k: v for k, v in BASE.items() if k != "interval"} | {
        "schedule": {"every": "month", "on": [1], "at": "09:00"}, "reminders": ["1d"]}
    rome = policy_from_dict({**monthly, "timezone": "Europe/Rome"})
    tokyo = policy_from_dict({**monthly, "timezone": "Asia/Tokyo"})
    assert hastens(rome, tokyo) == ("a different check-in schedule",)
    assert hastens(rome, rome) == ()


# -- the property ------------------------------------------------------------------------------
DAYS = st.integers(min_value=1, max_value=40)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    interval = draw(DAYS)
    reminders = sorted(draw(st.sets(st.integers(min_value=1, max_value=interval - 1), max_size=3))
                       if interval > 1 else set())
    stages = [{"name": f"s{i}", "after": f"{draw(st.integers(0, 20))}d", "audience": ["ana"], "action": "notify"}
              for i in range(draw(st.integers(1, 3)))]
    data: dict[str, Any] = {"interval": f"{interval}d", "reminders": [f"{r}d" for r in reminders],
                            "grace": f"{draw(st.integers(0, 10))}d", "stages": stages}
    every = draw(st.one_of(st.none(), st.integers(1, 3)))
    if every:
        data["grace_reminder_every"] = f"{every}d"
    if draw(st.booleans()):
        data["confirm"] = {"window": f"{draw(st.integers(0, 5))}d", "verifiers": ["ana", "budi"],
                           "quorum": draw(st.integers(1, 2))}
    return data


@st.composite
def later(draw: st.DrawFn, old: dict[str, Any]) -> dict[str, Any]:
    """``old`` with its durations lengthened and its reminders kept (a change meant to be harmless)."""
    more = st.integers(min_value=0, max_value=5)
    days = lambda text: int(text.removesuffix("d"))  # noqa: E731
    new = dict(old, interval=f"{days(old['interval']) + draw(more)}d", grace=f"{days(old['grace']) + draw(more)}d")
    new["stages"] = [dict(s, after=f"{days(s['after']) + draw(more)}d") for s in old["stages"]]
    if "confirm" in old:
        new["confirm"] = dict(old["confirm"], window=f"{days(old['confirm']['window']) + draw(more)}d")
    return new


@st.composite
def changes(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    old = draw(policies())
    return old, draw(st.one_of(policies(), later(old)))


def moments(p: Policy, checkin: datetime) -> dict[tuple[Kind, str], datetime]:
    """The first moment of each clock-made event of one cycle, if the owner never checks in again."""
    step = run_due(p, arm(p, checkin), checkin + timedelta(days=400))
    found: dict[tuple[Kind, str], datetime] = {}
    for event in step.events:
        found.setdefault((event.kind, event.stage or str(event.data.get("index", ""))), event.at)
    return found


@settings(max_examples=300, deadline=None)
@given(change=changes(), offset=st.integers(min_value=0, max_value=1000))
def test_a_change_found_harmless_moves_no_moment_earlier(change: tuple[dict[str, Any], dict[str, Any]],
                                                         offset: int) -> None:
    before, after = policy_from_dict(change[0]), policy_from_dict(change[1])
    if hastens(before, after):
        return
    checkin = START + timedelta(hours=offset)
    was, now = moments(before, checkin), moments(after, checkin)
    fired_before = was.get((Kind.FIRED, ""))
    fired_after = now.get((Kind.FIRED, ""))
    assert fired_before is not None and fired_after is not None and fired_after >= fired_before
    for (kind, tag), at in now.items():
        if kind is Kind.STAGE:
            assert at >= was[(kind, tag)], (kind, tag)
    deadline = now[(Kind.DEADLINE, "")]
    assert deadline >= was[(Kind.DEADLINE, "")]
    # every reminder the old policy sent before its deadline is still sent, no later than it was
    reminded = sorted(at for (kind, _), at in was.items() if kind is Kind.REMINDER)
    still = sorted(at for (kind, _), at in now.items() if kind is Kind.REMINDER)
    assert len(still) >= len(reminded)
