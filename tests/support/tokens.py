"""Bearer tokens for the tests: one development key pair per test run, shared by the pytest
process and every server it starts.

``api_env()`` is the environment a server needs to check those tokens with DEBUG off, as in
production (a JWKS file, an issuer, an audience, a real SECRET_KEY); ``tests/settings.py`` puts it
in ``os.environ`` so that the in-process API and every subprocess (``project_env``) agree.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from contracts.kernel.public import ensure_dev_keys, issue_token

ISSUER = "seams-tests"
AUDIENCE = "seams-api-tests"
STAFF_SCOPE = "shop:staff"
CUSTOMER_SCOPE = "shop:customer"
#: Made by the first process of the run that imports this module (pytest, or pytest-xdist's
#: controller) and inherited by the rest through the environment: the xdist workers inherit the
#: controller's ``api_env()`` (tests/settings.py only sets what is unset), so they must sign with
#: the same keys and SECRET_KEY.
KEYS_DIR = Path(os.environ.get("PYTEST_SEAMS_KEYS_DIR") or tempfile.mkdtemp(prefix="seams-test-keys-"))
_, JWKS_FILE = ensure_dev_keys(KEYS_DIR)
SECRET_KEY = os.environ.get("PYTEST_SEAMS_SECRET_KEY") or secrets.token_urlsafe(50)
os.environ["PYTEST_SEAMS_KEYS_DIR"], os.environ["PYTEST_SEAMS_SECRET_KEY"] = str(KEYS_DIR), SECRET_KEY


def api_env() -> dict[str, str]:
    return {
        "SECRET_KEY": SECRET_KEY,
        "SEAMS_API_JWKS_FILE": str(JWKS_FILE),
        "SEAMS_API_JWT_ISSUER": ISSUER,
        "SEAMS_API_JWT_AUDIENCE": AUDIENCE,
        "SEAMS_API_DEV_KEYS_DIR": str(KEYS_DIR),
        # Generous: the suites send many requests from one address; the rate-limit tests set their own.
        "SEAMS_API_RATE_ANONYMOUS": "100000/min",
        "SEAMS_API_RATE_AUTHENTICATED": "100000/min",
    }


def token(subject: str, *scopes: str, email: str | None = None, ttl: int = 3600, **options: object) -> str:
    return issue_token(
        subject, scopes=scopes, email=email, ttl=ttl, keys_dir=KEYS_DIR, issuer=ISSUER, audience=AUDIENCE, **options  # type: ignore[arg-type]
    )


def bearer(value: str) -> dict[str, str]:
    """Headers for httpx and Django's test client (``headers=``)."""
    return {"Authorization": f"Bearer {value}"}


def staff() -> dict[str, str]:
    return bearer(token("staff-1", STAFF_SCOPE))


def customer(email: str = "ada@example.com") -> dict[str, str]:
    return bearer(token(email, CUSTOMER_SCOPE, email=email))
