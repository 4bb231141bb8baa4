"""``GET /metrics``: the Prometheus scrape endpoint of the monolith and of every generated service.

It answers on the same port as the application, like the health probes; keep it off the public
internet at the ingress (it names the contracts, events and routes of the system, nothing more).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .metrics import CONTENT_TYPE_LATEST, exposition

__all__ = ["metrics"]


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
