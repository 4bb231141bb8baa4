"""URLs of the internal HTTP endpoints: one NinjaAPI per contract provided by an installed module,
and one event receiver per installed module.

Both the monolith and an extracted service (``SEAMS_MODULES=catalog``) mount them the same way::

    path("", include("extraction.http.urls"))

which serves ``/internal/<module>/v<N>/<contract>/<method>`` and
``/internal/<module>/v<N>/<contract>/openapi.json`` for every contract in the installed modules'
``provides``, and ``POST /internal/<module>/events/`` (forwarded events, :mod:`extraction.http.events`)
for every installed module. None of them is part of the public ``/api/`` documentation.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, path

from contracts.kernel import get_module

from .events import receive_events
from .server import build_api
from .wire import contract_prefix, events_path


def internal_urlpatterns(labels: list[str]) -> list[URLPattern | URLResolver]:
    """One ``path(<prefix>/, api.urls)`` per contract provided by the modules ``labels``, and one
    event receiver per module."""
    contracts: list[URLPattern | URLResolver] = [
        path(f"{contract_prefix(contract)}/", build_api(contract).urls)
        for label in labels
        for contract in get_module(label).provides
    ]
    events: list[URLPattern | URLResolver] = [
        path(events_path(label).lstrip("/"), receive_events, {"module": label}, name=f"seams-events-{label}")
        for label in labels
    ]
    return contracts + events


urlpatterns = internal_urlpatterns(list(settings.SEAMS_MODULES))
