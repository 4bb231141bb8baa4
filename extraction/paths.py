"""``WsgiPathMiddleware``: a URL with characters beyond Latin-1 is answered, not a 500.

Django decodes the path and writes the text back into ``request.META["PATH_INFO"]`` (its
``WSGIRequest``), where WSGI's own form is the path's bytes read as Latin-1. Code that rebuilds the
URL from ``META`` the WSGI way fails on such text: OpenTelemetry's Django middleware calls
``wsgiref.util.request_uri``, which encodes ``PATH_INFO`` as Latin-1, and ``/api/☃`` (sent as
``%E2%98%83``) raised ``UnicodeEncodeError``, a 500 on every path while tracing is on (upstream:
open-telemetry/opentelemetry-python-contrib#3237, still open in 0.66b2).

This middleware runs before the tracing middleware and puts ``META["PATH_INFO"]`` back into WSGI's
form when the path is not ASCII. Django itself reads ``request.path_info``, which is untouched, so
routing and views see the same text; the span records the URL percent-encoded, as it was sent.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

__all__ = ["WsgiPathMiddleware"]


class WsgiPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.META.get("PATH_INFO", "")
        if not path.isascii():
            request.META["PATH_INFO"] = path.encode("utf-8", "surrogateescape").decode("latin-1")
        return self.get_response(request)
