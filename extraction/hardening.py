"""Security settings read from the environment, shared by the monolith's and the generated
services' ``settings.py`` so both refuse the same unsafe configurations. It imports no web
framework (settings modules load before Django and django-ninja are configured).

* ``secret_key_from_env``: ``SECRET_KEY`` is required with DEBUG off (ImproperlyConfigured naming
  it; a short or placeholder value counts as missing); under DEBUG a random key is generated once
  into ``<var>/dev-keys/django-secret-key``.
* ``api_rate_limits_from_env`` / ``caches_from_env``: ``SEAMS_API_RATE_ANONYMOUS`` (default
  ``120/min``), ``SEAMS_API_RATE_AUTHENTICATED`` (default ``600/min``), ``off`` for none; the
  counts live in the ``seams-rate`` cache, Redis at ``SEAMS_API_RATE_LIMIT_REDIS_URL`` when set;
  the seen service-token ids (replay protection) in the ``seams-replay`` cache, Redis at
  ``SEAMS_IDENTITY_REPLAY_REDIS_URL`` (else the rate limits' Redis) when either is set.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "RATE_CACHE",
    "REPLAY_CACHE",
    "api_rate_limits_from_env",
    "caches_from_env",
    "parse_rate",
    "replay_redis_url",
    "secret_key_from_env",
]

RATE_CACHE = "seams-rate"
#: The cache alias of the shared replay record (extraction.identity.replay.REPLAY_CACHE).
REPLAY_CACHE = "seams-replay"
_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"120/min"`` -> (120, 60); ``"10/5s"`` -> (10, 5)."""
    try:
        count, per = rate.strip().split("/", 1)
        digits = "".join(c for c in per if c.isdigit())
        unit = per[len(digits):].strip().lower()
        seconds = _PERIODS[unit] * (int(digits) if digits else 1)
        number = int(count)
    except (ValueError, KeyError):
        raise ValueError(f"Not a rate: {rate!r} (expected e.g. 120/min, 10/s, 1000/hour).") from None
    if number < 1 or seconds < 1:
        raise ValueError(f"Not a rate: {rate!r} (count and period must be positive).")
    return number, seconds

#: Values that are not secrets (old defaults, templates' placeholders).
PLACEHOLDERS = ("change-me", "changeme", "dev-only", "insecure", "secret", "django-insecure")
MIN_SECRET_LENGTH = 32


def secret_key_from_env(env: Mapping[str, str], *, debug: bool, var_dir: Path) -> str:
    value = env.get("SECRET_KEY", "").strip()
    weak = len(value) < MIN_SECRET_LENGTH or any(value.lower().startswith(p) for p in PLACEHOLDERS)
    if value and not weak:
        return value
    if not debug:
        problem = "is not set" if not value else f"is too weak (fewer than {MIN_SECRET_LENGTH} characters or a placeholder)"
        raise ImproperlyConfigured(
            f"DEBUG is off and SECRET_KEY {problem}. In development set DEBUG=true (make does), e.g. "
            "`export DEBUG=true` in the shell you run manage.py from; in production set SECRET_KEY to a "
            "random value, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'` (docs/security.md)."
        )
    path = var_dir / "dev-keys" / "django-secret-key"
    if path.exists():
        return path.read_text().strip()
    from contracts.kernel.public.devkeys import create_once  # several processes may be first at once

    return create_once(path, secrets.token_urlsafe(50).encode()).decode().strip()


def _rate(env: Mapping[str, str], name: str, default: str) -> str | None:
    value = env.get(name, default).strip()
    if value.lower() in {"", "off", "none", "0"}:
        return None
    try:
        parse_rate(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    return value


def api_rate_limits_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "ANONYMOUS": _rate(env, "SEAMS_API_RATE_ANONYMOUS", "120/min"),
        "AUTHENTICATED": _rate(env, "SEAMS_API_RATE_AUTHENTICATED", "600/min"),
        "CACHE": RATE_CACHE,
    }


def caches_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    redis_url = env.get("SEAMS_API_RATE_LIMIT_REDIS_URL", "").strip()
    rate: dict[str, Any] = (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": env.get("SEAMS_API_RATE_LIMIT_KEY_PREFIX", "seams"),
            # A Redis that does not answer must not hold requests up: the throttle lets them through.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "seams-rate"}
    )
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, RATE_CACHE: rate}
    replay_url = replay_redis_url(env)
    if replay_url:
        # The seen service-token ids (extraction.identity.replay), shared by every worker. Short
        # timeouts: an unreachable Redis falls back to the process's own record at once.
        caches[REPLAY_CACHE] = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": replay_url,
            "KEY_PREFIX": env.get("SEAMS_IDENTITY_REPLAY_KEY_PREFIX", "seams"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    return caches


def replay_redis_url(env: Mapping[str, str]) -> str:
    """Where the seen service-token ids are shared: ``SEAMS_IDENTITY_REPLAY_REDIS_URL``, else the
    rate limits' Redis (``SEAMS_API_RATE_LIMIT_REDIS_URL``), else "" (each process keeps its own)."""
    explicit = env.get("SEAMS_IDENTITY_REPLAY_REDIS_URL", "").strip()
    return explicit or env.get("SEAMS_API_RATE_LIMIT_REDIS_URL", "").strip()
