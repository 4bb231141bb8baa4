"""The HTTP transport: a module's contracts served by django-ninja endpoints, called with httpx.

* server: :func:`build_api` (one NinjaAPI per contract), mounted by ``extraction.http.urls``;
* client: :func:`HttpTransport`, the factory named in ``SEAMS_TRANSPORTS["http"]``;
* :class:`CircuitBreaker`, one per service base URL;
* ``TransportUnavailable`` and ``IDEMPOTENCY_PARAMETER`` are the transport-neutral ones of
  :mod:`extraction.wire`, re-exported for HTTP callers.

See docs/transports.md.
"""

from extraction.wire import IDEMPOTENCY_PARAMETER, TransportUnavailable

from .breaker import CircuitBreaker
from .client import HttpTransport
from .server import build_api

__all__ = ["IDEMPOTENCY_PARAMETER", "CircuitBreaker", "HttpTransport", "TransportUnavailable", "build_api"]
