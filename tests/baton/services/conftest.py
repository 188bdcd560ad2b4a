"""Fixtures shared by the service tests: the vault world of ``test_vault_release`` (an owner, a compartment,
three enrolled holders and a split), for the tests that build on a release."""

from test_vault_release import world  # noqa: F401
