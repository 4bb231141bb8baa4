"""URLs: the public API under /api/ (docs at /api/docs), the admin, health checks and the internal
contract endpoints (/internal/<module>/v<N>/<contract>/..., see docs/transports.md); the paths of
an extracted module go through the gateway (docs/extraction.md)."""

from django.contrib import admin
from django.urls import include, path

from extraction import health
from extraction.gateway import gateway_urls

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    *gateway_urls(),  # an extracted module's public paths, forwarded to its service
    path("api/", api.urls),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("", include("extraction.http.urls")),
]
