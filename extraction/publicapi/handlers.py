"""The public API's error handlers: every failure becomes a JSON body of a documented shape
(``contracts.kernel.public.ErrorOut`` / ``ValidationErrorOut``), and nothing internal leaks.

* a contract error → its kind's status (404, 409, 422, 503), message and details;
* a module out of reach (``TransportUnavailable``: breaker open, service unreachable, Celery
  timeout or no worker, a failure on the serving side) → 503 with ``Retry-After``, a generic
  detail and an ``error_id``; what the transport knows (URL, host, queue, cause) goes to the
  ``seams.api`` log under that id, never to the client;
* a request that does not match the schema → 422 naming the field;
* no or a bad token → 401 with ``WWW-Authenticate: Bearer``; a token without the scope → 403;
* over the rate limit → 429 (ninja adds ``Retry-After``); an unreadable body → 400;
* anything else (a bug in a handler or an implementation) → 500 with only an ``error_id``; the
  exception and its traceback go to the ``seams.api`` log under that id. DEBUG changes nothing
  here: ninja's default would send the traceback to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from contracts.kernel import ContractError, Invalid

from ..incidents import record

# The one status map, shared with the transports and generated services.
from ..wire import TransportUnavailable, status_for

__all__ = ["RETRY_AFTER", "UNAVAILABLE_DETAIL", "install_error_handlers", "internal_error_body", "unavailable_body"]

logger = logging.getLogger("seams.api")

#: Seconds a client is asked to wait after a 503.
RETRY_AFTER = "5"
UNAVAILABLE_DETAIL = "Temporarily unavailable; retry after Retry-After seconds. Quote the error id if it persists."


def internal_error_body(request: HttpRequest, exc: BaseException) -> dict[str, Any]:
    """Log ``exc`` with its traceback under a fresh error id; the body a client may see."""
    error_id = record(logger, "Unhandled %s in %s %s", type(exc).__name__, request.method, request.path, exc=exc)
    detail = "Internal error. Quote the error id when you report it."
    return {"detail": detail, "code": "seams.InternalError", "error_id": error_id}


def unavailable_body(request: HttpRequest, exc: TransportUnavailable) -> dict[str, Any]:
    """Log what the transport knows under a fresh error id; the generic body a client may see."""
    error_id = record(
        logger, "%s %s answered 503: %s %s", request.method, request.path, exc.message, exc.details, level=logging.WARNING
    )
    return {"detail": UNAVAILABLE_DETAIL, "code": "seams.ServiceUnavailable", "error_id": error_id}


def install_error_handlers(api: NinjaAPI) -> None:
    def contract_error(request: HttpRequest, exc: ContractError) -> HttpResponse:
        status = status_for(exc)
        if isinstance(exc, TransportUnavailable):
            response = api.create_response(request, unavailable_body(request, exc), status=503)
            response["Retry-After"] = RETRY_AFTER
            return response
        if isinstance(exc, Invalid):
            loc = exc.field if isinstance(exc.field, list) else ([exc.field] if exc.field else [])
            body: dict[str, Any] = {"detail": [{"type": exc.code, "loc": ["body", *loc], "msg": exc.message}]}
        else:
            body = {"detail": exc.message, "code": exc.code, **({"details": exc.details} if exc.details else {})}
        response = api.create_response(request, body, status=status)
        if status == 503:
            response["Retry-After"] = RETRY_AFTER
        return response

    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = [
            {"type": str(e.get("type", "invalid")), "loc": list(e.get("loc", [])), "msg": str(e.get("msg", ""))}
            for e in exc.errors
        ]
        return api.create_response(request, {"detail": errors}, status=422)

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc, AuthenticationError):
            body = {"detail": "Authentication required: send Authorization: Bearer <token>.", "code": "seams.Unauthorized"}
            response = api.create_response(request, body, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        if isinstance(exc, AuthorizationError):
            response = api.create_response(request, {"detail": str(exc), "code": "seams.Forbidden"}, status=403)
            response["WWW-Authenticate"] = 'Bearer realm="api", error="insufficient_scope"'
            return response
        if isinstance(exc, Throttled):
            body = {"detail": "Too many requests; slow down and retry after Retry-After seconds.", "code": "seams.RateLimited"}
            return api.create_response(request, body, status=429)
        code = "seams.BadRequest" if exc.status_code == 400 else f"seams.Http{exc.status_code}"
        return api.create_response(request, {"detail": str(exc), "code": code}, status=exc.status_code)

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(request, {"detail": "Not found.", "code": "seams.NotFound"}, status=404)

    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, internal_error_body(request, exc), status=500)

    api.add_exception_handler(Exception, unexpected)
    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(NinjaValidationError, validation_error)
    api.add_exception_handler(ContractError, contract_error)
