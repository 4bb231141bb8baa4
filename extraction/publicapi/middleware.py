"""``JsonOnlyMiddleware``: requests under ``/api/`` that carry a body must say it is JSON.

A body sent as ``text/plain``, ``application/x-www-form-urlencoded`` or ``multipart/form-data`` is
what an HTML form or a "simple" cross-site ``fetch`` can send without a CORS preflight; refusing it
(415) before anything runs means no page on another site can write through a visitor's browser,
whatever cookies it holds. A body larger than ``SEAMS_API_MAX_BODY_BYTES`` (declared by its
``Content-Length``) is 413 without being read. It sits before the gateway, so a forwarded request
is checked the same way.

On the way out, a 405 (a method the route does not serve: django-ninja answers it as plain text)
becomes the same JSON error body every other status has, keeping its ``Allow`` header.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from .parser import max_body_bytes

__all__ = ["JsonOnlyMiddleware", "is_json_media_type"]

PREFIX = "/api/"


def is_json_media_type(content_type: str) -> bool:
    """``application/json``, optionally with ``charset=utf-8``; nothing else."""
    media, *params = (part.strip().lower() for part in content_type.split(";"))
    if media != "application/json":
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in {"utf-8", "utf8"}:
            return False
    return True


class JsonOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(PREFIX):
            refusal = self.refusal(request)
            if refusal is not None:
                return refusal
            response = self.get_response(request)
            if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
                return self.method_not_allowed(request, response)
            return response
        return self.get_response(request)

    @staticmethod
    def method_not_allowed(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        allowed = response.get("Allow", "")
        detail = f"{request.method} is not served here; allowed: {allowed or 'none'}."
        answer = JsonResponse({"detail": detail, "code": "seams.MethodNotAllowed"}, status=405)
        if allowed:
            answer["Allow"] = allowed
        return answer

    @staticmethod
    def refusal(request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number.", "code": "seams.BadRequest"}, status=400)
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length <= 0 and not chunked:
            return None
        if length > max_body_bytes():
            detail = f"The body is larger than {max_body_bytes()} bytes."
            return JsonResponse({"detail": detail, "code": "seams.PayloadTooLarge"}, status=413)
        if not is_json_media_type(request.META.get("CONTENT_TYPE", "")):
            detail = "Request bodies must be JSON sent as Content-Type: application/json."
            return JsonResponse({"detail": detail, "code": "seams.UnsupportedMediaType"}, status=415)
        return None
