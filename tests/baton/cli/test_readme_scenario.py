"""The README's examples run as written (the `simulate` scenario, the policy), and a scenario missing a key
is told so plainly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.cli.app import app

README = Path(__file__).parents[3] / "README.md"


def _readme_scenario() -> str:
    """The first JSON block of the README's ``baton simulate`` section."""
    section = README.read_text().split("### `baton simulate`", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```json\n(.*?)```", section, re.S)
    assert found, "the README's simulate section shows no JSON scenario"
    return found.group(1)


def test_the_readmes_scenario_runs_and_gives_the_timeline_it_describes(tmp_path: Path) -> None:
    """``baton simulate`` on the README's block: the nine events its text lists, the stage `0d after firing`."""
    scenario = tmp_path / "scenario.json"
    scenario.write_text(_readme_scenario())
    result = CliRunner().invoke(app, ["simulate", str(scenario)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["at"][:10], e["event"]) for e in events] == [
        ("2026-01-24", "reminder"), ("2026-01-25", "checkin"), ("2026-02-17", "reminder"),
        ("2026-02-23", "reminder"), ("2026-02-24", "deadline"), ("2026-02-27", "confirm_requested"),
        ("2026-02-28", "vote"), ("2026-02-28", "fired"), ("2026-02-28", "stage")]
    assert events[-1]["reason"] == "0d after firing"


@pytest.mark.parametrize(("left_out", "message"), [
    ("until", 'scenario: expected an "until" moment (when the simulation stops), like 2026-03-01T00:00:00Z, '
              "got nothing"),
    ("policy", "scenario: expected a \"policy\" object (the switch's policy: interval, reminders, grace, "
               "stages…), got nothing"),
    ("start", 'scenario: expected a "start" moment (when the switch is armed, as if checked in), like '
              "2026-01-01T09:00:00Z, got nothing"),
])
def test_a_scenario_missing_a_required_key_says_which_and_what_it_is(tmp_path: Path, left_out: str,
                                                                    message: str) -> None:
    """No doubled names, no Python type names: the key, what it is, and `got nothing`."""
    data = json.loads(_readme_scenario())
    del data[left_out]
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["simulate", str(scenario)])
    assert result.exit_code == 2
    assert result.output == f"error: {scenario}: {message}\n"


@pytest.mark.parametrize(("policy", "message"), [
    ([], "scenario `policy`: expected an object (the switch's policy: interval, reminders, grace, stages…), "
         "got a list"),
    ({"interval": 30}, "scenario `policy.interval`: expected a duration like 30d, 12h, 1w2d or 90m, got 30"),
    ({"interval": True}, "scenario `policy.interval`: expected a duration like 30d, 12h, 1w2d or 90m, got true"),
    ({"interval": "30d", "stages": "staff"}, "scenario `policy.stages`: expected a list of stages, got 'staff'"),
    ({"interval": "30d", "reminders": {"a": 1}},
     "scenario `policy.reminders`: expected a list of durations, got an object"),
])
def test_a_wrong_policy_in_a_scenario_is_said_in_plain_words(tmp_path: Path, policy: object, message: str) -> None:
    """What arrived is named as the person wrote it: a list, an object, a number, true, quoted text."""
    data = {**json.loads(_readme_scenario()), "policy": policy}
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["simulate", str(scenario)])
    assert result.exit_code == 2
    assert result.output == f"error: {scenario}: {message}\n"


def test_the_readmes_policy_example_is_valid_and_every_verifier_can_be_asked() -> None:
    """The policy the README shows validates, and warns of nothing: each verifier has an address."""
    import yaml

    from switch import policy_from_dict, policy_warnings
    section = README.read_text().split("A **policy** (JSON or YAML):", 1)[1]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found, "the README shows no policy example"
    policy = policy_from_dict(yaml.safe_load(found.group(1)))
    assert policy.confirm is not None and len(policy.confirm.verifiers) == 3
    assert policy_warnings(policy) == ()
