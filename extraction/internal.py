"""The internal surface: ``/internal/<module>/...`` served only where a binding needs it, never
listed next to the public API.

The internal endpoints (contract calls, forwarded events, their OpenAPI documents) are not in the
project's URLconf at all: :class:`InternalSurfaceMiddleware` dispatches a request under
``/internal/`` to their own URLconf (``extraction.http.urls``) when

* its module is *exposed* by this process (``SEAMS_INTERNAL``, below), and
* it arrived on the internal listener when one is configured (``SEAMS_INTERNAL_PORT``: gunicorn
  binds both, ``--bind 0.0.0.0:8000 --bind 0.0.0.0:9000``, and only the internal port is reachable
  from the services' network; the production default, see docs/security.md);

and answers anything else under ``/internal/`` with a plain JSON 404. So the public OpenAPI, the
gateway (which forwards only ``/api/<module>/``) and Django's debug 404 page never show an
internal route, and an internal route that is not exposed does not exist.

``SEAMS_INTERNAL`` says which modules are exposed:

* ``auto`` (the default): in a process that serves only some of the project's modules (an
  extracted service, ``SEAMS_MODULES=...``), all of them; in the monolith, only the modules that a
  module served elsewhere (``SEAMS_BIND_<MODULE>``) needs: the contracts it consumes and the
  handlers of the events it publishes. With nothing extracted, nothing is exposed;
* ``all`` / ``none``, or a comma-separated list of module labels.

Every exposed endpoint still requires a service token (:mod:`extraction.identity`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, ResolverMatch, resolve, set_urlconf

from contracts.kernel import ConfigurationError
from contracts.kernel.modules import module_configs
from contracts.kernel.registry import get_registry
from contracts.kernel.remote import is_remote

__all__ = ["PREFIX", "InternalSurfaceMiddleware", "exposed_modules", "internal_from_env"]

PREFIX = "/internal/"
URLCONF = "extraction.http.urls"


def internal_from_env(environ: Mapping[str, str], labels: Iterable[str]) -> dict[str, Any]:
    """The ``SEAMS_INTERNAL`` setting from ``SEAMS_INTERNAL`` and ``SEAMS_INTERNAL_PORT``."""
    known = set(labels)
    raw = environ.get("SEAMS_INTERNAL", "auto").strip().lower() or "auto"
    if raw in {"auto", "all", "none"}:
        modules: str | list[str] = raw
    else:
        modules = [m.strip() for m in raw.split(",") if m.strip()]
        unknown = sorted(set(modules) - known)
        if unknown:
            raise ConfigurationError(
                f"SEAMS_INTERNAL names unknown modules {unknown}: use auto, all, none or labels among {sorted(known)}."
            )
    port_text = environ.get("SEAMS_INTERNAL_PORT", "").strip()
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigurationError(f"SEAMS_INTERNAL_PORT must be a TCP port number, got {port_text!r}.")
        port = int(port_text)
    return {"MODULES": modules, "PORT": port}


def _needed_by_remote_modules(installed: list[str]) -> set[str]:
    """Modules of this process that a module served elsewhere calls or forwards events to."""
    configs = {config.label: config for config in module_configs()}
    needed: set[str] = set()
    registry = get_registry()
    for label, config in configs.items():
        if not is_remote(label):
            continue
        needed |= {c.__seams_module__ for c in config.consumes}
        for event in config.publishes:
            needed |= {s.module for s in registry.subscribers_for(event.event_type)}
    return {m for m in needed if m in installed and not is_remote(m)}


#: The last answer of :func:`exposed_modules`, with the registry and subscriber table it was worked
#: out from: working it out (settings, module configs, bindings, subscribers) on every internal
#: request cost more than the URL resolution. Forgotten when a setting changes; a registry that is
#: replaced, or whose subscriber table is swapped (``isolate_module``), is worked out again.
_exposed: tuple[object, object, frozenset[str]] | None = None


def exposed_modules() -> frozenset[str]:
    """The modules whose internal endpoints this process serves now (see the module docstring)."""
    global _exposed
    registry = get_registry()
    cached = _exposed
    if cached is not None and cached[0] is registry and cached[1] is registry.subscribers:
        return cached[2]
    exposed = frozenset(_work_out_exposed())
    if registry.frozen:
        _exposed = (registry, registry.subscribers, exposed)
    return exposed


def _forget_exposed(**_: Any) -> None:
    global _exposed
    _exposed = None


setting_changed.connect(_forget_exposed)


def _work_out_exposed() -> set[str]:
    installed = list(settings.SEAMS_MODULES)
    modules = getattr(settings, "SEAMS_INTERNAL", {}).get("MODULES", "auto")
    if modules == "all":
        return set(installed)
    if modules == "none":
        return set()
    if isinstance(modules, list):
        return set(modules) & set(installed)
    every = set(getattr(settings, "SEAMS_DISCOVERED_MODULES", installed))
    if set(installed) < every:  # a process serving a cut of the project: a service
        return set(installed)
    return _needed_by_remote_modules(installed)


def _not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Not Found"}, status=404)


class _InternalHandler(BaseHandler):
    """Django's request handling (URL resolution, the view, exceptions to responses) with no
    middleware of its own: what an internal request still needs after this middleware."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        """The match :class:`InternalSurfaceMiddleware` made to decide the request is served here
        (one URL resolution per internal request, not two), under the internal URLconf."""
        match = request.resolver_match
        if match is None:
            return super().resolve_request(request)
        set_urlconf(request.urlconf)  # as Django does: reverse() in the view uses the internal URLconf
        return match


class InternalSurfaceMiddleware:
    """Route ``/internal/...`` to the internal URLconf when exposed here, else a plain 404.

    An exposed internal request goes straight to its view, past the middleware listed after this
    one: sessions, CSRF (the internal views are exempt), users, messages, the slash redirect and
    the frame header are for browsers, and an internal call carries a service token instead
    (:mod:`extraction.identity`). They cost a fifth of an internal call's CPU on the serving side
    (measured in-process, 8 x 200 calls of ``catalog.get_products``, load 24: 1863 -> 1542 us), and
    an extracted shop serves three internal requests per order. Everything before it still runs:
    the request metrics, ``SecurityMiddleware``, the JSON body check and the tracing middleware
    that instrumentation puts first.

    What ``CommonMiddleware`` (skipped) does for every other answer, it does for an internal one:
    it gives it its ``Content-Length``. Without one, gunicorn sends the body chunked (a chunk, then
    the terminating chunk), and the calling side reads it chunk by chunk."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.internal = _InternalHandler()
        self.internal.load_middleware()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        port = getattr(settings, "SEAMS_INTERNAL", {}).get("PORT")
        if port is not None and str(request.META.get("SERVER_PORT")) != str(port):
            return _not_found(request)
        module = request.path_info[len(PREFIX):].split("/", 1)[0]
        if module not in exposed_modules():
            return _not_found(request)
        try:
            # Kept on the request: _InternalHandler.resolve_request answers it instead of resolving again.
            request.resolver_match = resolve(request.path_info, urlconf=URLCONF)
        except Resolver404:
            return _not_found(request)  # never Django's debug page, which would list the routes
        request.urlconf = URLCONF
        # ALLOWED_HOSTS, checked by CommonMiddleware for every other request: a bad Host is still a 400.
        request.get_host()
        response = self.internal._middleware_chain(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
