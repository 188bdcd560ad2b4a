"""The dead-man's switch: policy, state machine, timeline, audit chain, tokens. Pure."""

from switch.advice import policy_warnings, unaskable_verifiers
from switch.audit import AuditEntry, ChainProblem, next_entry, verify_chain
from switch.codec import state_from_dict, state_to_dict
from switch.durations import format_duration, parse_duration
from switch.errors import InputError, PolicyError, ScenarioError, SwitchError
from switch.machine import (
                            Answer,
                            Event,
                            Kind,
                            Status,
                            Step,
                            SwitchState,
                            Timer,
                            arm,
                            check_in,
                            deadline_after,
                            fire_moment,
                            iso,
                            next_timer,
                            pause,
                            request_release,
                            run_due,
                            vote,
)
from switch.policy import Confirm, Policy, Stage, Verifier, policy_from_dict, policy_to_dict
from switch.shelf import wake_after_shelf
from switch.timeline import Scenario, parse_scenario, simulate
from switch.tokens import hash_token, new_token

__all__ = [
    "Answer", "AuditEntry", "ChainProblem", "Confirm", "Event", "InputError", "Kind", "Policy",
    "PolicyError", "Scenario", "ScenarioError", "Stage", "Status", "Step", "SwitchError",
    "SwitchState", "Timer", "Verifier", "arm", "check_in", "deadline_after", "fire_moment",
    "format_duration", "hash_token", "iso", "new_token", "next_entry", "next_timer",
    "parse_duration", "parse_scenario", "pause", "policy_from_dict", "policy_to_dict", "policy_warnings",
    "request_release", "run_due", "simulate", "state_from_dict", "state_to_dict", "unaskable_verifiers",
    "verify_chain", "vote", "wake_after_shelf",
]
