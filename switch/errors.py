"""The switch's errors: what bad input to the switch core raises.

    SwitchError
    ├── PolicyError      a policy field is invalid (names the field)
    ├── InputError       a check-in, vote, pause or request the switch cannot take now
    └── ScenarioError    a simulation scenario is invalid (names the event index)

A bug in our own call raises ``ValueError`` instead.
"""

from __future__ import annotations


class SwitchError(Exception):
    """Base of every error the switch core raises for bad user input."""


class PolicyError(SwitchError):
    """A policy field is invalid; ``field`` is its dotted path (``confirm.quorum``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.detail = message
        super().__init__(f"policy field `{field}`: {message}")


class InputError(SwitchError):
    """An input (check-in, vote, pause, release request) that the switch refuses."""


class ScenarioError(SwitchError):
    """A simulation scenario is invalid; ``where`` names the place (``events[2].at``)."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where  # empty: the scenario as a whole (a missing key)
        self.detail = message
        super().__init__(f"scenario `{where}`: {message}" if where else f"scenario: {message}")
