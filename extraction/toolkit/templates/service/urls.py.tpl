"""URLs of the {{ label }} service: health probes for Kubernetes, Prometheus metrics (/metrics), the
operator console for its module (/console/, staff only) and the public REST API under /api/ (docs
at /api/docs). The internal endpoints (what the monolith calls when SEAMS_BIND_{{ label|upper }}
points here) are routed by extraction.internal.InternalSurfaceMiddleware to their own URLconf,
never listed here (the monolith's docs/security.md)."""

from django.urls import include, path

from contracts.kernel.telemetry.views import metrics
from extraction.health import live, ready
from extraction.publicapi import public_urlpatterns

from .api import api

urlpatterns = [
    path("health/live", live, name="health-live"),
    path("health/ready", ready, name="health-ready"),
    path("metrics", metrics, name="metrics"),
    path("console/", include("extraction.console.urls")),
    *public_urlpatterns(api),  # /api/ and a JSON 404 for any other path under it
]
