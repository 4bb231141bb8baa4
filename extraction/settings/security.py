"""Security settings every Seams process shares (docs/security.md, "Production checklist").

One function, so the monolith and each generated service refuse the same unsafe configurations
and take the same variables: the public API's bearer tokens, rate limits and body limit, the
proxies believed, secure cookies, and the HTTPS redirect and HSTS for the deployment to turn on
once TLS is in front of the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contracts.kernel.public.config import api_auth_from_env
from extraction.hardening import api_rate_limits_from_env, caches_from_env, secret_key_from_env

from .env import Env

__all__ = ["public_api_security", "secret_key"]


def secret_key(env: Env, *, debug: bool, var_dir: Path) -> str:
    """``SECRET_KEY``: required with DEBUG off (a short or placeholder value counts as missing);
    under DEBUG a key generated once into ``<var_dir>/dev-keys/``."""
    return secret_key_from_env(env, debug=debug, var_dir=var_dir)


def public_api_security(env: Env, *, debug: bool, var_dir: Path) -> dict[str, Any]:
    """The public API's guards and the HTTPS settings, from these variables:

    * ``SEAMS_API_JWKS_URL`` or ``_FILE``, ``SEAMS_API_JWT_ISSUER``, ``_AUDIENCE``: who issues the
      bearer tokens and where their keys are (required with DEBUG off; under DEBUG a development
      key pair in ``<var_dir>/dev-keys/``);
    * ``SEAMS_API_RATE_ANONYMOUS`` / ``_AUTHENTICATED`` (``off`` for none), counted in Redis at
      ``SEAMS_API_RATE_LIMIT_REDIS_URL`` when set (shared by every worker), in memory otherwise;
    * ``SEAMS_TRUSTED_PROXIES`` (0): how far X-Forwarded-For is believed;
    * ``SEAMS_API_MAX_BODY_BYTES`` (64 KiB): larger request bodies under /api/ are 413;
    * ``SEAMS_SECURE_COOKIES`` (on whenever DEBUG is off), ``SECURE_SSL_REDIRECT``,
      ``SECURE_HSTS_SECONDS``, ``_INCLUDE_SUBDOMAINS``, ``_PRELOAD``, and ``SEAMS_BEHIND_TLS_PROXY``
      (believe X-Forwarded-Proto from a TLS-terminating proxy that strips it from clients).
    """
    secure_cookies = env.bool("SEAMS_SECURE_COOKIES", not debug)
    return {
        "SEAMS_API_AUTH": api_auth_from_env(env, debug=debug, var_dir=var_dir),
        "SEAMS_API_RATE_LIMITS": api_rate_limits_from_env(env),
        "CACHES": caches_from_env(env),
        "NINJA_NUM_PROXIES": env.int("SEAMS_TRUSTED_PROXIES", 0, at_least=0),
        "SEAMS_API_MAX_BODY_BYTES": env.int("SEAMS_API_MAX_BODY_BYTES", 64 * 1024, at_least=1),
        "SESSION_COOKIE_SECURE": secure_cookies,
        "CSRF_COOKIE_SECURE": secure_cookies,
        "SECURE_SSL_REDIRECT": env.bool("SECURE_SSL_REDIRECT", False),
        "SECURE_REDIRECT_EXEMPT": [r"^health/"],  # probes talk plain HTTP inside the cluster
        "SECURE_HSTS_SECONDS": env.int("SECURE_HSTS_SECONDS", 0, at_least=0),
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False),
        "SECURE_HSTS_PRELOAD": env.bool("SECURE_HSTS_PRELOAD", False),
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("SEAMS_BEHIND_TLS_PROXY", False) else None,
    }
