"""The public REST API's machinery, shared by the monolith (``app/api.py``) and every generated
service (``service/api.py``), so a client meets the same rules whichever process answers:

* ``build_public_api()``: a ``NinjaAPI`` with the strict JSON parser, per-client rate limits, the
  error handlers (generic 500 with an error id, 401/403/429 bodies) and an OpenAPI document that
  lists every status an operation can answer;
* ``mount_module_routers(api, labels)``: ``modules.<label>.api.router`` under ``/<label>/``;
* ``public_urlpatterns(api)``: the API under ``/api/`` and a JSON 404 for any other path there
  (an unknown path or a missing trailing slash never shows Django's HTML page);
* ``JsonOnlyMiddleware`` (in ``middleware``): 415 for a body that is not ``application/json``.

Settings: ``SEAMS_API_RATE_LIMITS`` (``ANONYMOUS``/``AUTHENTICATED`` rates such as ``"120/min"``,
``None`` for none; ``CACHE``: the cache alias, Redis to share the counts across workers),
``SEAMS_API_MAX_BODY_BYTES``. See docs/security.md, "Public API".
"""

from __future__ import annotations

import importlib
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, path, re_path
from django.utils.module_loading import module_has_submodule
from ninja import NinjaAPI
from ninja.throttling import BaseThrottle

from .handlers import install_error_handlers
from .openapi import document_errors
from .parser import StrictJsonParser
from .throttling import ClientRateThrottle

__all__ = ["PublicApi", "build_public_api", "mount_module_routers", "public_urlpatterns", "rate_throttles"]


class PublicApi(NinjaAPI):
    """A NinjaAPI whose OpenAPI document also lists the machinery's statuses."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        return document_errors(super().get_openapi_schema(*args, **kwargs))


def rate_throttles() -> list[BaseThrottle]:
    """One throttle for anonymous clients (by address), one for authenticated ones (by principal);
    each reads its rate from ``SEAMS_API_RATE_LIMITS`` per request."""
    return [ClientRateThrottle("ANONYMOUS"), ClientRateThrottle("AUTHENTICATED")]


def build_public_api(*, title: str, description: str, version: str = "1.0.0") -> PublicApi:
    api = PublicApi(
        title=title,
        version=version,
        description=description,
        docs_url="/docs",
        parser=StrictJsonParser(),
        throttle=rate_throttles(),
    )
    install_error_handlers(api)
    return api


def mount_module_routers(api: NinjaAPI, labels: list[str]) -> list[str]:
    """Mount ``modules.<label>.api.router`` under ``/<label>/`` for every module that has one."""
    mounted = []
    for label in labels:
        package = importlib.import_module(f"modules.{label}")
        if module_has_submodule(package, "api"):
            api.add_router(f"/{label}/", importlib.import_module(f"modules.{label}.api").router)
            mounted.append(label)
    return mounted


def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse({"detail": "Not found.", "code": "seams.NotFound"}, status=404)


def public_urlpatterns(api: NinjaAPI) -> list[URLPattern | URLResolver]:
    return [path("api/", api.urls), re_path(r"^api/(?P<rest>.*)$", not_found, name="api-not-found")]
