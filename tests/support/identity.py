"""Service tokens for tests that call internal endpoints or tasks directly, as a transport would."""

from __future__ import annotations

from extraction.identity import issue

#: The module a test acts as when it calls a contract over a transport (tests/settings.py allows
#: these callers for the contracts nobody consumes): put it in a binding as ``CALLER``.
TEST_CALLERS = {"catalog": "orders", "inventory": "orders", "orders": "inventory"}


def service_token(caller: str, audience: str) -> str:
    """A token of this test run's service ("monolith") for module ``caller`` calling ``audience``."""
    return issue(caller, audience)


def service_headers(caller: str, audience: str) -> dict[str, str]:
    """``{"Authorization": "Bearer <token>"}`` for ``caller`` calling into ``audience``."""
    return {"Authorization": f"Bearer {service_token(caller, audience)}"}
