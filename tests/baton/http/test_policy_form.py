"""The policy form: fields to policy and back, errors placed on their field, and the preview."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from baton.http.policyform import PREVIEW_LIMIT, form_field, form_values, preview, read_form
from switch import policy_from_dict, policy_to_dict

WEEKLY = {"timezone": "America/New_York", "schedule": {"every": "week", "on": ["mon", "thu"], "at": "08:30"},
          "reminders": ["1d"], "grace": "2d", "grace_reminder_every": "12h",
          "confirm": {"window": "3d", "quorum": 1, "verifiers": [{"name": "Ana", "email": "ana@example.org"}, "Budi"]},
          "stages": [{"name": "heirs", "after": "0d", "audience": ["Ana", "owner"], "action": "notify"},
                     {"name": "later", "after": "7d", "action": "notify"}],
          "max_pause": "30d", "release_request": {"wait": "5d"}}


@pytest.mark.parametrize("policy", [
    pytest.param({"interval": "30d", "reminders": ["7d", "1d"], "grace": "7d"}, id="interval"),
    pytest.param(WEEKLY, id="weekly-schedule-with-verifiers-and-stages"),
    pytest.param({"timezone": "Europe/Rome", "schedule": {"every": "month", "on": [1, 15]}}, id="monthly"),
])
def test_a_stored_policy_comes_back_unchanged_through_the_form(policy: dict[str, object]) -> None:
    stored = policy_to_dict(policy_from_dict(policy))
    form = read_form(form_values(stored))
    assert form.errors == {}
    assert form.policy is not None and policy_to_dict(policy_from_dict(form.policy)) == stored


@pytest.mark.parametrize(("field", "shown_on"), [
    ("interval", "interval"), ("schedule.on[1]", "schedule_on"), ("schedule", "schedule_every"),
    ("reminders[0]", "reminders"), ("grace_reminder_every", "grace_reminder_every"), ("grace", "grace"),
    ("confirm.verifiers[1].email", "verifiers"), ("confirm.quorum", "quorum"), ("confirm", "confirm_window"),
    ("stages[2].audience[0]", "stages"), ("release_request.wait", "request_wait"), ("timezone", "timezone"),
])
def test_each_policy_field_is_shown_on_the_form_field_that_edits_it(field: str, shown_on: str) -> None:
    assert form_field(field) == shown_on


def test_lines_that_cannot_be_read_name_their_line_and_nothing_else_is_flagged() -> None:
    values = form_values(policy_to_dict(policy_from_dict(WEEKLY)))
    bad_verifier = read_form({**values, "verifiers": "Ana <ana@example.org>\n<nobody@example.org>"})
    assert bad_verifier.policy is None and list(bad_verifier.errors) == ["verifiers"]
    assert bad_verifier.errors["verifiers"] == ("Verifier on line 2: it should be a name first, like "
                                                "'Ana <ana@example.org>', not “<nobody@example.org>”.")
    quorum = read_form({**values, "quorum": "two"})
    assert quorum.errors == {"quorum": "Quorum: it should be a whole number of 1 or more, not “two”."}
    mode = read_form({**values, "mode": "sometimes"})
    assert mode.errors == {"interval": "Interval: it should be a check-in every interval or on a schedule, "
                                      "not “sometimes”."}


def test_the_preview_runs_from_now_to_the_last_stage() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, after 08:30 in New York
    lines, cut = preview(policy_from_dict(WEEKLY), now)
    kinds = [str(line.event.kind) for line in lines]
    assert not cut and kinds[0] == "reminder" and kinds[-2:] == ["stage", "stage"]
    assert "deadline" in kinds and "confirm_requested" in kinds and "fired" in kinds
    deadline = next(line for line in lines if str(line.event.kind) == "deadline")
    assert deadline.at == datetime(2026, 3, 5, 13, 30, tzinfo=UTC)  # Thursday 08:30 EST
    assert all(line.after == line.at - now for line in lines)


def test_a_preview_with_hourly_grace_reminders_is_cut() -> None:
    policy = policy_from_dict({"interval": "10d", "grace": "10d", "grace_reminder_every": "1h"})
    lines, cut = preview(policy, datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    assert cut and len(lines) == PREVIEW_LIMIT
