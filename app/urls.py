"""URLs: the public API under /api/ (docs at /api/docs), the admin, the operator console (/console/,
staff only, see docs/observability.md), health checks and Prometheus metrics (/metrics). The paths
of an extracted module are forwarded to its service by the gateway middleware (extraction.gateway).

The internal endpoints (/internal/<module>/..., docs/transports.md) are deliberately not here: the
internal-surface middleware (extraction.internal) routes them to their own URLconf only where a
binding needs them, so they never show next to the public routes (docs/security.md)."""

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
]
