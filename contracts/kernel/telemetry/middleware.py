"""``seams_http_requests_total{route,method,status}``: every request this process serves.

The ``route`` label is the URL pattern that matched (``api/orders/{order_id}``, never the path
itself, whose values are unbounded), ``gateway:<module>`` for a request the gateway forwarded to an
extracted module's service, and ``unmatched`` for a path no pattern knows (a 404). Methods outside
the standard set are counted as ``other``, for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .metrics import HTTP_REQUESTS

__all__ = ["MetricsMiddleware", "route_of"]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: HttpRequest) -> str:
    """The bounded name of what served ``request`` (see the module docstring)."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return match.route
    return getattr(request, "seams_route", None) or "unmatched"


class MetricsMiddleware:
    """Count each response; put it first in MIDDLEWARE so that it sees the gateway's answers too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(route_of(request), method, str(response.status_code)).inc()
        return response
