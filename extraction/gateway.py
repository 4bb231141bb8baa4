"""The gateway (strangler fig): the monolith keeps answering an extracted module's public REST
paths by forwarding them to the service, so outside clients see no change.

For every module that is bound away from the monolith and has a public router
(``modules/<label>/api.py``), ``gateway_urls()`` routes ``/api/<label>/...`` to the module's
service: the request's method, path, query string, body and end-to-end headers go as they came; the
response comes back as it is. The target is ``SEAMS_GATEWAY_<LABEL>`` if set, else the module's
HTTP binding URL. ``SEAMS_GATEWAY=off`` turns the gateway off (the paths then answer 404, and the
module's clients must call the service directly).

A service that cannot be reached is a 503 with the public API's error shape, never a 500.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import httpx
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from contracts.kernel.bus import trace_id
from contracts.kernel.resolution import INPROCESS, binding_for

from .http.client import shared_client
from .http.wire import TRACE_HEADER

__all__ = ["gateway_targets", "gateway_urls", "gateway_enabled"]

#: Headers that concern one connection, never forwarded (RFC 9110 section 7.6.1), and those httpx
#: or the server sets again.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length",
    }
)
DEFAULT_TIMEOUT = 30.0


def gateway_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("SEAMS_GATEWAY", "on").strip().lower() not in {"off", "0", "false", "no"}


def gateway_targets(labels: list[str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Module label -> base URL of the service answering its public paths, for remote modules."""
    targets: dict[str, str] = {}
    for label in labels:
        explicit = environ.get(f"SEAMS_GATEWAY_{label.upper()}", "").strip()
        binding = binding_for(label)
        if explicit:
            targets[label] = explicit.rstrip("/")
        elif binding.get("TRANSPORT", INPROCESS) == "http":
            targets[label] = binding["URL"].rstrip("/")
    return targets


def _forward(request: HttpRequest, *, label: str, base: str, rest: str) -> HttpResponse:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers.setdefault(TRACE_HEADER, trace_id.get() or "")
    headers["X-Forwarded-For"] = request.META.get("REMOTE_ADDR", "")
    headers["X-Forwarded-Host"] = request.get_host()
    url = f"{base}/api/{label}/{rest}"
    try:
        answer = shared_client(base).request(
            request.method or "GET",
            url,
            params=[(k, v) for k, vs in request.GET.lists() for v in vs],
            content=request.body,
            headers={k: v for k, v in headers.items() if v},
            timeout=float(os.environ.get("SEAMS_GATEWAY_TIMEOUT", DEFAULT_TIMEOUT)),
        )
    except httpx.HTTPError as exc:
        body = {
            "detail": f"The {label} service at {base} could not be reached ({type(exc).__name__}); try again later.",
            "code": "seams.ServiceUnavailable",
        }
        return HttpResponse(json.dumps(body), status=503, content_type="application/json", headers={"Retry-After": "5"})
    response = HttpResponse(answer.content, status=answer.status_code)
    for name, value in answer.headers.multi_items():
        if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
            response[name] = value
    return response


def gateway_urls() -> list[URLPattern]:
    """URL patterns forwarding each remote module's ``/api/<label>/`` paths (empty when off)."""
    if not gateway_enabled():
        return []
    patterns = []
    for label, base in gateway_targets(list(settings.SEAMS_MODULES)).items():

        @csrf_exempt
        def forward(request: HttpRequest, rest: str = "", *, label: str = label, base: str = base) -> HttpResponse:
            return _forward(request, label=label, base=base, rest=rest)

        patterns.append(path(f"api/{label}/<path:rest>", forward, name=f"seams-gateway-{label}"))
        patterns.append(path(f"api/{label}/", forward, name=f"seams-gateway-{label}-root"))
    return patterns
