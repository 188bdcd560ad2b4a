"""What a valid policy still gets wrong: verifiers nobody can ask. Said on save and by readiness.

A verifier without an e-mail address is accepted — a name alone is a valid policy, and the
question is still recorded when the window opens — but nobody is asked, so that verifier can
never answer; when too few can be asked, the quorum can never fire the switch early either.
"""

from __future__ import annotations

from switch.policy import Policy


def unaskable_verifiers(policy: Policy) -> tuple[str, ...]:
    """The names of the policy's verifiers without an e-mail address, in the policy's order."""
    return tuple(v.name for v in policy.confirm.verifiers if not v.email) if policy.confirm else ()


def policy_warnings(policy: Policy) -> tuple[str, ...]:
    """One sentence per verifier nobody can ask, then one if the quorum is out of reach; empty when all is well."""
    if policy.confirm is None:
        return ()
    names = unaskable_verifiers(policy)
    said = tuple(f"verifier {name} has no e-mail address: nobody can ask them, so they can never answer "
                 f"(give one: {{name: {name}, email: …}})" for name in names)
    askable = len(policy.confirm.verifiers) - len(names)
    if names and askable < policy.confirm.quorum:
        said += (f"only {askable} of the {len(policy.confirm.verifiers)} verifiers can be asked, fewer than the "
                 f"quorum of {policy.confirm.quorum}: their answers can never fire the switch early; it fires "
                 "when the confirmation window ends",)
    return said
