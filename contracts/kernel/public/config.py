"""``SEAMS_API_AUTH`` from the environment: who issues the public API's tokens, for which audience,
and where their verification keys come from.

Production names an issuer, an audience and one key source:

* ``SEAMS_API_JWKS_URL``: the identity provider's JWKS document, fetched on first use and cached
  (PyJWT's ``PyJWKClient``), fetched again for a key id it has not seen (key rotation);
* ``SEAMS_API_JWKS_FILE``: a JWKS document on disk (a mounted secret or config map), read again
  when the file changes.

Development (``DEBUG`` on and neither set) signs its own tokens: an Ed25519 key pair generated into
``<var>/dev-keys/`` on first use (``manage.py issue_token``), never committed, never hard-coded.
With ``DEBUG`` off a missing issuer, audience or key source stops the process at start-up with a
message naming the variable: a public API that cannot check tokens must not serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ["DEFAULT_ALGORITHMS", "DEV_AUDIENCE", "DEV_ISSUER", "api_auth_from_env"]

#: Asymmetric algorithms only: the API holds public keys, never a secret able to mint tokens.
DEFAULT_ALGORITHMS = ("EdDSA", "ES256", "RS256", "PS256")
DEV_ISSUER = "seams-dev"
DEV_AUDIENCE = "seams-api"


def api_auth_from_env(env: Mapping[str, str], *, debug: bool, var_dir: Path) -> dict[str, Any]:
    """The ``SEAMS_API_AUTH`` setting; raises ConfigurationError naming the missing variable."""
    url = env.get("SEAMS_API_JWKS_URL", "").strip() or None
    file = env.get("SEAMS_API_JWKS_FILE", "").strip() or None
    dev_dir = env.get("SEAMS_API_DEV_KEYS_DIR", "").strip() or None
    algorithms = tuple(a.strip() for a in env.get("SEAMS_API_JWT_ALGORITHMS", "").split(",") if a.strip())
    unsupported = sorted(set(algorithms) - set(DEFAULT_ALGORITHMS))
    if unsupported:
        raise ConfigurationError(
            f"SEAMS_API_JWT_ALGORITHMS lists {', '.join(unsupported)}: only asymmetric algorithms "
            f"({', '.join(DEFAULT_ALGORITHMS)}) are accepted, so the API never holds a key able to sign."
        )
    leeway = int(_seconds(env, "SEAMS_API_JWT_LEEWAY", "30", whole=True))
    cooldown = _seconds(env, "SEAMS_API_JWKS_COOLDOWN", "30", whole=False)
    if url and file:
        raise ConfigurationError("Set one of SEAMS_API_JWKS_URL and SEAMS_API_JWKS_FILE, not both.")
    dev = not (url or file)
    if dev and not debug:
        raise ConfigurationError(
            "DEBUG is off and the public API has no token keys: set SEAMS_API_JWKS_URL (your identity "
            "provider's JWKS document) or SEAMS_API_JWKS_FILE, with SEAMS_API_JWT_ISSUER and "
            "SEAMS_API_JWT_AUDIENCE (docs/security.md). Development keys are for DEBUG only."
        )
    issuer = env.get("SEAMS_API_JWT_ISSUER", "").strip() or (DEV_ISSUER if debug else "")
    audience = env.get("SEAMS_API_JWT_AUDIENCE", "").strip() or (DEV_AUDIENCE if debug else "")
    for name, value in (("SEAMS_API_JWT_ISSUER", issuer), ("SEAMS_API_JWT_AUDIENCE", audience)):
        if not value:
            raise ConfigurationError(f"DEBUG is off and {name} is not set: tokens cannot be checked without it.")
    keys_dir = Path(dev_dir) if dev_dir else var_dir / "dev-keys"
    return {
        "ISSUER": issuer,
        "AUDIENCE": audience,
        "ALGORITHMS": list(algorithms or DEFAULT_ALGORITHMS),
        "LEEWAY": leeway,
        #: An unknown key id fetches the JWKS document again at most once per this many seconds.
        "JWKS_COOLDOWN": cooldown,
        "JWKS_URL": url,
        "JWKS_FILE": file or (str(keys_dir / "api-jwks.json") if dev else None),
        #: Development only: where the private key that issue_token signs with lives.
        "DEV_KEYS_DIR": str(keys_dir) if dev or dev_dir else None,
    }


def _seconds(env: Mapping[str, str], name: str, default: str, *, whole: bool) -> float:
    """A duration of 0 seconds or more (a blank value is ``default``); anything else names the variable."""
    value = env.get(name, "").strip() or default
    try:
        seconds = int(value) if whole else float(value)
    except ValueError:
        seconds = -1
    if not (0 <= seconds < float("inf")):
        kind = "a whole number" if whole else "a number"
        raise ConfigurationError(f"{name}={value!r} must be {kind} of seconds, 0 or more (default {default}).")
    return seconds
