"""Replay protection: a service token is good for one request.

Every token carries a unique ``jti``. When a receiver has verified a token's signature it records
the ``jti`` until the token expires (plus the clock-skew leeway); a second request with the same
``jti`` is refused (401), so a captured token cannot be sent again, not even within its minute.

Where the seen ``jti`` are kept:

* with ``SEAMS_IDENTITY_REPLAY_REDIS_URL`` set, in Redis through Django's cache framework (the
  ``seams-replay`` cache): ``cache.add`` is one atomic ``SET NX EX``, so every worker process and
  replica of a service shares one record and a token replayed to another worker is refused too;
* otherwise in this process (:class:`LocalSeen`), which refuses a replay to the same process only:
  fine for one process (``make run``, tests), not for several gunicorn workers (the production
  checklist sets Redis).

If Redis does not answer, the check falls back to the process's own record and logs a warning
(at most once a minute): a Redis outage must not stop every internal call, and a replay still has
to reach the same process to succeed.

What a record holds: the *message id* the token came with (a Celery task id; empty over HTTP). A
Celery message the broker delivers twice (a publish retried after a dropped connection, or a
redelivery under ``acks_late``) carries the same token and the same task id: the receiver can
tell that from a replay with a new message, see :class:`Replayed` and ``extraction.celery.tasks``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from django.core.cache import caches

from ..hardening import REPLAY_CACHE

__all__ = ["REPLAY_CACHE", "LocalSeen", "first_sight", "reset"]

logger = logging.getLogger("seams.identity")

#: How long a Redis failure is not logged again, in seconds.
_WARN_EVERY = 60.0


class LocalSeen:
    """The seen ``jti`` of this process, each until its expiry.

    Tokens arrive roughly in expiry order (every caller signs for the same lifetime), so an
    insertion-ordered dict is pruned from its front: amortised O(1) per token, and no entry is ever
    dropped before it expires (a cap that evicted live entries would let their replays through)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, jti: str, until: float, message_id: str, now: float) -> str | None:
        """Record ``jti``; None when it is new, else the message id it was first seen with."""
        with self._lock:
            while self._seen:
                oldest, (expiry, _) = next(iter(self._seen.items()))
                if expiry > now:
                    break
                del self._seen[oldest]
            first = self._seen.get(jti)
            if first is not None and first[0] > now:
                return first[1]
            self._seen[jti] = (until, message_id)
            return None

    def __len__(self) -> int:
        return len(self._seen)


_local = LocalSeen()
_warned = 0.0


def _shared(alias: str, jti: str, until: float, message_id: str, now: float) -> str | None:
    cache: Any = caches[alias]
    key = f"seams-jti:{jti}"
    timeout = max(1, int(until - now) + 1)
    if cache.add(key, message_id, timeout=timeout):
        return None
    first = cache.get(key)
    return first if isinstance(first, str) else ""


def first_sight(jti: str, until: float, message_id: str = "", *, cache_alias: str | None = None) -> str | None:
    """Record that a token with ``jti``, valid until ``until`` (epoch seconds), was presented with
    ``message_id``. Returns None the first time; for a replay, the message id of the first sighting."""
    global _warned
    now = time.time()
    if cache_alias:
        try:
            first = _shared(cache_alias, jti, until, message_id, now)
        except Exception as exc:  # redis' ConnectionError, TimeoutError...: fall back, say so
            if now - _warned > _WARN_EVERY:
                _warned = now
                logger.warning(
                    "The shared replay record (cache %r) is unreachable (%s: %s): service tokens are checked "
                    "against this process's record only until it is back.",
                    cache_alias,
                    type(exc).__name__,
                    exc,
                )
        else:
            # Recorded locally too, so a fallback during an outage still knows the recent tokens
            # (and a token seen here during an outage is still a replay once Redis is back).
            local = _local.add(jti, until, message_id, now)
            return first if first is not None else local
    return _local.add(jti, until, message_id, now)


def reset() -> None:
    """Forget every seen token of this process (tests, settings changes)."""
    global _local, _warned
    _local = LocalSeen()
    _warned = 0.0
