"""``BadHostMiddleware``: a request whose ``Host`` is not in ``ALLOWED_HOSTS`` is a JSON 400.

Django raises ``DisallowedHost`` lazily, from whichever code first calls ``request.get_host()``
(CommonMiddleware, CSRF, the gateway, tracing), and answers it with an HTML page: the debug page
with a traceback under ``DEBUG``, "Bad Request (400)" otherwise. A forged Host is hostile input
like any other, so it gets the same JSON error body as every other refusal, before any other
middleware runs, on every path (public API, internal surface, health, console), with the warning
Django itself logs (``django.security.DisallowedHost``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse

__all__ = ["BadHostMiddleware"]

logger = logging.getLogger("django.security.DisallowedHost")


class BadHostMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()
        except DisallowedHost as exc:
            logger.warning("%s", exc)
            return JsonResponse({"detail": "This Host header is not served here.", "code": "seams.BadRequest"}, status=400)
        return self.get_response(request)
