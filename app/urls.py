"""URLs: the public API under /api/ (docs at /api/docs), the admin, the operator console (/console/,
staff only, see docs/observability.md), health checks, Prometheus metrics (/metrics) and the internal
contract endpoints (/internal/<module>/v<N>/<contract>/..., see docs/transports.md). The paths of an
extracted module are forwarded to its service by the gateway middleware (extraction.gateway)."""

from django.contrib import admin
from django.urls import include, path

from contracts.kernel.telemetry.views import metrics
from extraction import health
from extraction.publicapi import public_urlpatterns

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("console/", include("extraction.console.urls")),
    *public_urlpatterns(api),  # /api/ and a JSON 404 for any other path under it
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics, name="metrics"),
    path("", include("extraction.http.urls")),
]
