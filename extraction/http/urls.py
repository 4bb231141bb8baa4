"""URLs of the internal HTTP endpoints: one NinjaAPI per contract provided by an installed module.

Both the monolith and an extracted service (``SEAMS_MODULES=catalog``) mount them the same way::

    path("", include("extraction.http.urls"))

which serves ``/internal/<module>/v<N>/<contract>/<method>`` and
``/internal/<module>/v<N>/<contract>/openapi.json`` for every contract in the installed modules'
``provides``.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, path

from contracts.kernel import get_module

from .server import build_api
from .wire import contract_prefix


def internal_urlpatterns(labels: list[str]) -> list[URLPattern | URLResolver]:
    """One ``path(<prefix>/, api.urls)`` per contract provided by the modules ``labels``."""
    return [
        path(f"{contract_prefix(contract)}/", build_api(contract).urls)
        for label in labels
        for contract in get_module(label).provides
    ]


urlpatterns = internal_urlpatterns(list(settings.SEAMS_MODULES))
