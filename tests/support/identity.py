"""Service tokens for tests that call internal endpoints or tasks directly, as a transport would."""

from __future__ import annotations

import json
import os

from extraction.identity import issue
from extraction.identity.keys import generate_private_pem, load_private_key, public_text

#: The module a test acts as when it calls a contract over a transport (tests/settings.py allows
#: these callers for the contracts nobody consumes): put it in a binding as ``CALLER``.
TEST_CALLERS = {"catalog": "orders", "inventory": "orders", "orders": "inventory"}


def service_token(caller: str, audience: str) -> str:
    """A token of this test run's service ("monolith") for module ``caller`` calling ``audience``."""
    return issue(caller, audience)


def service_headers(caller: str, audience: str) -> dict[str, str]:
    """``{"Authorization": "Bearer <token>"}`` for ``caller`` calling into ``audience``."""
    return {"Authorization": f"Bearer {service_token(caller, audience)}"}


def extracted_identity(label: str, modules: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Environments for a generated ``<label>-service`` and the monolith, each with its own key
    pair, each trusting the other for its modules, as an operator sets them up (docs/security.md).

    Returns ``(service_env, monolith_env)``; the monolith keeps this test run's key."""
    service = f"{label}-service"
    service_pem = generate_private_pem()
    monolith_pem = os.environ["SEAMS_IDENTITY_KEY"]
    monolith_public = public_text(load_private_key(monolith_pem, "SEAMS_IDENTITY_KEY"))
    service_public = public_text(load_private_key(service_pem, service))
    staying = [m for m in modules if m != label]
    service_env = {
        "SEAMS_IDENTITY_NAME": service,
        "SEAMS_IDENTITY_KEY": service_pem,
        "SEAMS_IDENTITY_PEERS": json.dumps({"monolith": {"modules": staying, "keys": [monolith_public]}}),
    }
    peers = json.loads(os.environ.get("SEAMS_IDENTITY_PEERS") or "{}")
    peers[service] = {"modules": [label], "keys": [service_public]}
    monolith_env = {"SEAMS_IDENTITY_NAME": "monolith", "SEAMS_IDENTITY_PEERS": json.dumps(peers)}
    return service_env, monolith_env
