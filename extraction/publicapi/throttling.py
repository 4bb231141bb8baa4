"""Rate limits per client: a django-ninja throttle over Django's cache framework.

Why not ninja's own ``AnonRateThrottle`` / ``AuthRateThrottle``: they read the client's request
history from the cache, append, and write it back; two workers answering the same client at once
both read the old list and one write is lost, so with several workers (or processes) a client gets
up to N times its limit. This throttle counts in fixed windows with ``cache.add`` + ``cache.incr``,
which Django's Redis backend runs as ``SET NX`` and ``INCR``: atomic, shared by every worker that
uses the same Redis. Without Redis the cache is in memory, per process.

* The client is the token's principal (``request.auth``) when the operation authenticated it, its
  address otherwise (``REMOTE_ADDR``; ``X-Forwarded-For`` only as far as ``NINJA_NUM_PROXIES``
  trusted proxies say, so a client cannot pick a fresh identity per request).
* Over the limit: 429 with ``Retry-After`` (seconds until the window ends).
* The cache unreachable: the request is allowed and a warning logged (limits are a defence against
  abuse, not a reason to take the shop down with Redis).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from ..hardening import parse_rate

__all__ = ["ClientRateThrottle"]

logger = logging.getLogger("seams.api.throttle")

@functools.lru_cache(maxsize=32)
def _parsed(rate: str) -> tuple[int, int]:
    return parse_rate(rate)


class ClientRateThrottle(BaseThrottle):
    """At most ``SEAMS_API_RATE_LIMITS[kind]`` requests per client and window (read per request,
    so a settings change needs no new API); ``AUTHENTICATED`` counts the requests with a
    principal, ``ANONYMOUS`` those without."""

    def __init__(self, kind: str) -> None:
        if kind not in {"ANONYMOUS", "AUTHENTICATED"}:
            raise ValueError(f"kind must be ANONYMOUS or AUTHENTICATED, not {kind!r}")
        self.kind = kind
        self.authenticated = kind == "AUTHENTICATED"
        self._local = threading.local()

    def limits(self) -> tuple[int, int, str] | None:
        """(requests, seconds, cache alias), or None when this kind is not limited."""
        config = getattr(settings, "SEAMS_API_RATE_LIMITS", {})
        rate = config.get(self.kind)
        if not rate:
            return None
        return (*_parsed(rate), config.get("CACHE", "default"))

    def get_ident(self, request: HttpRequest) -> str | None:
        """The client's address: ``REMOTE_ADDR``, or the ``X-Forwarded-For`` entry added by the
        outermost of ``NINJA_NUM_PROXIES`` trusted proxies. Read from Django's settings per call:
        ``ninja.conf`` freezes its copy when first imported, which may be before the settings exist."""
        proxies = int(getattr(settings, "NINJA_NUM_PROXIES", 0) or 0)
        remote = request.META.get("REMOTE_ADDR")
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if proxies <= 0 or not forwarded:
            return remote
        hops = [hop.strip() for hop in forwarded.split(",")]
        return hops[-min(proxies, len(hops))] or remote

    def client_of(self, request: HttpRequest) -> str | None:
        principal = getattr(request, "auth", None)
        if (principal is not None) != self.authenticated:
            return None
        return f"auth:{principal}" if principal is not None else f"addr:{self.get_ident(request)}"

    def allow_request(self, request: HttpRequest) -> bool:
        self._local.wait = None
        limits = self.limits()
        client = self.client_of(request)
        if limits is None or client is None:
            return True
        number, seconds, alias = limits
        now = time.time()
        window = int(now // seconds)
        digest = hashlib.sha256(client.encode()).hexdigest()[:32]
        key = f"rate:{number}/{seconds}:{digest}:{window}"
        cache = caches[alias]
        try:
            cache.add(key, 0, timeout=seconds + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=seconds + 1)
                count = 1
        except Exception as exc:  # the cache is down: let the request through, say so
            logger.warning("Rate limit not applied, the cache %r failed: %s", alias, exc)
            return True
        self._local.wait = (window + 1) * seconds - now
        return count <= number

    def wait(self) -> float | None:
        wait = getattr(self._local, "wait", None)
        return None if wait is None else max(1.0, math.ceil(wait))
