"""The public API's security for the bench's processes: they run with DEBUG off, as in production,
so they need a SECRET_KEY and token keys; the bench signs its clients' tokens with a throwaway
key pair (a JWKS file the servers verify against), made once per bench run."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from contracts.kernel.public import ensure_dev_keys, issue_token
from extraction.identity.keys import generate_private_pem, load_private_key, public_text

ISSUER = "seams-bench"
AUDIENCE = "seams-bench-api"
KEYS_DIR = Path(tempfile.mkdtemp(prefix="seams-bench-keys-"))
_, JWKS_FILE = ensure_dev_keys(KEYS_DIR)
SECRET_KEY = secrets.token_urlsafe(50)
#: The monolith's service key (zero-trust identity, required with DEBUG off), one per bench process.
MONOLITH_KEY = generate_private_pem()


def public_key(pem: str) -> str:
    return public_text(load_private_key(pem, "bench service key"))


def api_env() -> dict[str, str]:
    import json

    from contracts.kernel.discovery import discover_modules

    modules = discover_modules(Path(__file__).resolve().parent.parent / "modules")
    return {
        # Every bench process is the one service "monolith": they trust its key for every module, and
        # serve every module's internal endpoints (the bench binds them to each other).
        "SEAMS_IDENTITY_PEERS": json.dumps({"monolith": {"modules": modules, "keys": [public_key(MONOLITH_KEY)]}}),
        "SEAMS_INTERNAL": "all",
        "SECRET_KEY": SECRET_KEY,
        "SEAMS_API_JWKS_FILE": str(JWKS_FILE),
        "SEAMS_API_JWT_ISSUER": ISSUER,
        "SEAMS_API_JWT_AUDIENCE": AUDIENCE,
        "SEAMS_IDENTITY_KEY": MONOLITH_KEY,
        # The bench measures throughput from one address: no rate limit.
        "SEAMS_API_RATE_ANONYMOUS": "off",
        "SEAMS_API_RATE_AUTHENTICATED": "off",
    }


def customer_headers(email: str) -> dict[str, str]:
    token = issue_token(email, scopes=["shop:customer"], email=email, ttl=3600, keys_dir=KEYS_DIR, issuer=ISSUER, audience=AUDIENCE)
    return {"Authorization": f"Bearer {token}"}


def staff_headers() -> dict[str, str]:
    token = issue_token("bench-staff", scopes=["shop:staff"], ttl=3600, keys_dir=KEYS_DIR, issuer=ISSUER, audience=AUDIENCE)
    return {"Authorization": f"Bearer {token}"}
