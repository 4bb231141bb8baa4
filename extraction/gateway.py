"""The gateway (strangler fig): the monolith keeps answering an extracted module's public REST
paths by forwarding them to the service, so outside clients see no change.

``GatewayMiddleware`` looks at each request under ``/api/<label>/``: when module ``label`` runs
elsewhere (bound to a transport, see ``contracts.kernel.remote.is_remote``), the request's method,
path, query string, body and end-to-end headers go to the module's service as they came, and its
response comes back as it is. The decision is taken per request from the settings, so binding a
module (or a test overriding ``SEAMS_BINDINGS``) needs no URLconf rebuilt; the monolith's
OpenAPI document keeps listing the paths, because its public API has not changed.

Settings (``SEAMS_GATEWAY``, read from the environment by ``extraction.bindings.gateway_from_env``):

* ``SEAMS_GATEWAY_<LABEL>``: the service's base URL; by default the module's HTTP binding URL. A
  module bound to ``celery`` that has public paths needs it.
* ``SEAMS_GATEWAY=off``: no forwarding; an extracted module's paths answer 404 (the monolith never
  serves them from data that now belongs to the service).
* ``SEAMS_GATEWAY_TIMEOUT``: seconds per forwarded request (default 30).

A request of an idempotent method (RFC 9110 section 9.2.2: GET, HEAD, OPTIONS, PUT, DELETE) that
meets the keep-alive race (the service closed the pooled connection as the request reached it,
:class:`~extraction.http.pool.StaleConnection`) is sent once more, at once, on a fresh connection,
as browsers and urllib3 do; a POST or PATCH is not (it may have taken effect) and is a 503.

A service that cannot be reached (or a module without a gateway target) is a 503 with the public
API's error shape and ``Retry-After``, never a 500: a generic detail and an ``error_id``, while the
service's URL and the cause go to the ``seams.gateway`` log under that id (``extraction.incidents``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from contracts.kernel.remote import is_remote
from contracts.kernel.resolution import INPROCESS, binding_for
from contracts.kernel.telemetry import tracing

from .http.client import shared_client
from .http.pool import StaleConnection
from .incidents import record
from .publicapi.handlers import RETRY_AFTER, UNAVAILABLE_DETAIL

logger = logging.getLogger("seams.gateway")

__all__ = ["GatewayMiddleware", "target_for"]

#: Headers that concern one connection, never forwarded (RFC 9110 section 7.6.1), and those httpx
#: or the server sets again.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length",
    }
)
#: Replaced by this process's own context, which continues the caller's.
TRACE_HEADERS = frozenset({"traceparent", "tracestate"})
DEFAULT_TIMEOUT = 30.0
PREFIX = "/api/"
#: Methods whose repetition has the effect of one request (RFC 9110 section 9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _config() -> dict[str, Any]:
    return getattr(settings, "SEAMS_GATEWAY", {"ENABLED": True, "TARGETS": {}, "TIMEOUT": DEFAULT_TIMEOUT})


def target_for(label: str) -> str | None:
    """The base URL answering ``label``'s public paths, if it runs elsewhere and one is known."""
    explicit = _config().get("TARGETS", {}).get(label)
    if explicit:
        return explicit
    binding = binding_for(label)
    if binding.get("TRANSPORT", INPROCESS) == "http":
        return binding["URL"].rstrip("/")
    return None


def _json(status: int, detail: str, code: str, **headers: str) -> HttpResponse:
    body = json.dumps({"detail": detail, "code": code})
    return HttpResponse(body, status=status, content_type="application/json", headers=headers)


def _unavailable(request: HttpRequest, message: str, *args: object) -> HttpResponse:
    """503 for the client (generic, an error id, Retry-After); ``message % args`` for the log."""
    error_id = record(logger, f"{request.method} {request.path}: {message}", *args, level=logging.WARNING)
    body = json.dumps({"detail": UNAVAILABLE_DETAIL, "code": "seams.ServiceUnavailable", "error_id": error_id})
    return HttpResponse(body, status=503, content_type="application/json", headers={"Retry-After": RETRY_AFTER})


def forward(request: HttpRequest, label: str, base: str) -> HttpResponse:
    """Send the request to ``base`` unchanged (same path) and return the service's response."""
    request.seams_route = f"gateway:{label}"  # type: ignore[attr-defined]  (seams_http_requests_total)
    attributes = {"seams.module": label, "seams.target": base, "http.request.method": request.method or "GET"}
    with tracing.continued(request.headers, f"gateway {label}", tracing.SpanKind.SERVER, attributes) as span:
        response = _send(request, label, base)
        tracing.mark_outcome(span, "unavailable" if response.status_code == 503 else "ok", status=response.status_code)
        return response


def _send(request: HttpRequest, label: str, base: str) -> HttpResponse:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | TRACE_HEADERS}
    headers.update(tracing.carrier())  # the service continues this process's trace (W3C traceparent)
    headers["X-Forwarded-For"] = request.META.get("REMOTE_ADDR", "")
    headers["X-Forwarded-Host"] = request.get_host()
    method = request.method or "GET"
    try:
        try:
            answer = _request(method, base, request, headers)
        except StaleConnection:
            if method not in IDEMPOTENT:
                raise
            answer = _request(method, base, request, headers)  # the keep-alive race: once more, fresh
    except httpx.HTTPError as exc:
        return _unavailable(request, "the %s service at %s could not be reached (%s: %s)", label, base, type(exc).__name__, exc)
    response = HttpResponse(answer.content, status=answer.status_code)
    for name, value in answer.headers.multi_items():
        if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
            response[name] = value
    return response


def _request(method: str, base: str, request: HttpRequest, headers: dict[str, str]) -> httpx.Response:
    return shared_client(base).request(
        method,
        f"{base}{request.path}",
        params=[(k, v) for k, values in request.GET.lists() for v in values],
        content=request.body,
        headers={k: v for k, v in headers.items() if v},
        timeout=float(_config().get("TIMEOUT", DEFAULT_TIMEOUT)),
    )


class GatewayMiddleware:
    """Forward ``/api/<label>/...`` of modules that run elsewhere; everything else passes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        label = self._module_of(request.path)
        if label is None or not is_remote(label):
            return self.get_response(request)
        if not _config().get("ENABLED", True):
            return _json(404, f"Not found: the {label} module is served by its own service.", "seams.NotFound")
        base = target_for(label)
        if base is None:
            return _unavailable(
                request,
                "the %s module runs elsewhere and its public paths have no gateway target: set SEAMS_GATEWAY_%s "
                "to its service's base URL",
                label,
                label.upper(),
            )
        return forward(request, label, base)

    @staticmethod
    def _module_of(path: str) -> str | None:
        if not path.startswith(PREFIX):
            return None
        label = path[len(PREFIX):].split("/", 1)[0]
        return label if label in settings.SEAMS_MODULES else None
