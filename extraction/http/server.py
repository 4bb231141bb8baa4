"""The server side of the HTTP transport: internal endpoints generated from contract declarations.

``build_api(Catalog)`` returns a django-ninja ``NinjaAPI`` with one operation per contract method::

    POST /internal/catalog/v1/catalog/get_product      body {"sku": "KB-101"}  ->  200 {"sku": ..., ...}
    GET  /internal/catalog/v1/catalog/openapi.json     the contract's own OpenAPI document
    GET  /internal/catalog/v1/catalog/docs/            the same, browsable

The body model is generated from the method's parameters (see :func:`extraction.http.wire.body_model`)
and the declared return type is the 200 response. The view validates the body (pydantic strict, JSON
mode), continues the caller's trace (W3C ``traceparent``) in a ``SERVER`` span, and calls the in-process
implementation found in the registry through the kernel's validating proxy, so a result that does
not match the declaration never leaves the service. Before any of that, :class:`ServiceAuth`
checks the caller's service token and that its module consumes the contract (401 / 403
``{"error": {"code": "seams.Unauthenticated" | "seams.Forbidden", "message"}}``); the OpenAPI
document and docs page need a valid token too. A ``ContractError`` becomes
``{"error": {"code", "message", "details", "kind"}}`` with a stable status (404 NotFound, 409 Conflict,
422 Invalid, 503 ServiceUnavailable, 400 any other kind); a body that does not match the
declaration is ``422 seams.ContractViolation``. A failure on this side, an implementation that
raised anything else or returned a value its declaration does not allow, is a 500 whose body says
only what failed and an error id (``seams.InternalError`` or ``seams.ContractViolation``): the
exception, its traceback and the offending value are logged here under that id
(:mod:`extraction.incidents`), never sent to the caller.

``extraction.http.urls`` mounts one such API per contract provided by the installed modules.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

import pydantic
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.params.models import BodyModel
from ninja.security import HttpBearer

from contracts.kernel import Contract, ContractError, ContractViolation
from contracts.kernel.registry import get_registry
from contracts.kernel.telemetry import tracing
from contracts.kernel.telemetry.calls import outcome_of
from contracts.kernel.validation import check_return
from extraction.identity import Identity, Refused, admit_call, bearer, verify
from extraction.incidents import record
from extraction.wire import internal_error_to_wire, refuse_nul, status_for

from .links import add_links
from .wire import (
    ErrorBody,
    arguments_of,
    body_model,
    contract_prefix,
    contract_slug,
    contract_version,
    error_body,
    return_adapter,
    violation_body,
)

__all__ = ["InternalApi", "ServiceAuth", "build_api", "refusal", "served_instance"]

logger = logging.getLogger("seams.http")

def served_instance(contract: type[Contract]) -> Contract:
    """The in-process implementation (or a test override) that serves the calls.

    Never ``use()``: in a process where the contract is bound to a transport, ``use()`` would send
    the call back out over the network. No validating proxy either: the endpoint already decodes
    the arguments strictly and checks the result strictly, once each.
    """
    return get_registry().instance_of(contract)


class ServiceAuth(HttpBearer):
    """django-ninja security for a contract's endpoints: a service token whose module consumes the
    contract (:func:`extraction.identity.admit_call`). It runs before the body is read, so a refused
    call reaches nothing; a refusal raises :class:`Refused`, answered by :func:`refusal`."""

    def __init__(self, contract: type[Contract]) -> None:
        super().__init__()
        self.contract = contract

    def __call__(self, request: HttpRequest) -> Identity:
        return self.authenticate(request, bearer(request.headers.get("Authorization")))

    def authenticate(self, request: HttpRequest, token: str | None) -> Identity:
        return admit_call(token, self.contract)


def refusal(request: HttpRequest, exc: Refused) -> JsonResponse:
    """``401``/``403`` ``{"error": {"code", "message"}}``, logged: someone called without the right identity."""
    logger.warning("Refused %s %s: %s (%s)", request.method, request.path, exc, exc.code)
    response = JsonResponse({"error": {"code": exc.code, "message": str(exc)}}, status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="seams-internal"'
    return response


def _docs_guard(module: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The contract's OpenAPI document and docs page need a valid service token for ``module`` too."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                verify(bearer(request.headers.get("Authorization")), module)
            except Refused as exc:
                return refusal(request, exc)
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def _violation(message: str, status: int, **details: Any) -> JsonResponse:
    return JsonResponse(violation_body(message, **details), status=status)


def _broke_declaration(name: str, exc: ContractViolation) -> JsonResponse:
    """The implementation broke its own declaration (a bug on this side): the caller learns that
    and an error id; the offending value stays in this service's log."""
    error_id = record(logger, "%s broke its contract: %s", name, exc)
    message = f"{name} answered a value its declaration does not allow (error id {error_id}; the service's log has the details)"
    return _violation(message, 500, error_id=error_id)


def _call(bound: Callable[..., Any], signature: inspect.Signature, arguments: dict[str, Any]) -> Any:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.name == "self" or param.name not in arguments:
            continue
        if param.kind == param.POSITIONAL_ONLY:
            args.append(arguments[param.name])
        else:
            kwargs[param.name] = arguments[param.name]
    return bound(*args, **kwargs)


def _endpoint(contract: type[Contract], method: str) -> Callable[..., HttpResponse]:
    spec = contract.__seams_methods__[method]
    body_class = body_model(contract, method)
    result_adapter = return_adapter(contract, method)
    name = f"{contract.__seams_name__}.{method}"
    attributes = {
        "seams.contract": contract.__seams_name__,
        "seams.method": method,
        "seams.transport": "http",
        "seams.module": contract.__seams_module__,
    }

    def endpoint(request: HttpRequest, payload: Any) -> HttpResponse:
        # The body is decoded here, once, strictly, from the raw JSON, so that "1" is never taken
        # for 1 on either side (django-ninja's own, lax, check is switched off: _not_decoded_by_ninja).
        try:
            body = body_class.model_validate_json(request.body or b"{}", strict=True)
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            if errors[0]["type"] == "json_invalid":  # not JSON at all: a 400, as before any declaration
                return _violation(f"{contract.__seams_name__}: Cannot parse request body", 400)
            return _violation(f"{name}: the request does not match the declaration: {errors[0]['msg']}", 422, errors=errors)
        arguments = arguments_of(body)
        try:
            refuse_nul(contract, method, arguments)
        except ContractViolation as exc:
            return _violation(str(exc), 422)
        with tracing.continued(request.headers, name, tracing.SpanKind.SERVER, attributes) as span:
            try:
                result = _call(getattr(served_instance(contract), method), spec.signature, arguments)
            except ContractError as exc:
                tracing.mark_outcome(span, outcome_of(exc), error_code=exc.code)
                return JsonResponse(error_body(exc), status=status_for(exc))
            except ContractViolation as exc:
                tracing.mark_outcome(span, "error", error_code="seams.ContractViolation")
                return _broke_declaration(name, exc)
            except Exception as exc:
                tracing.mark_outcome(span, "error")
                error_id = record(logger, "%s failed on this service", name, exc=exc)
                return JsonResponse({"error": internal_error_to_wire(name, error_id)}, status=500)
            try:
                check_return(contract, method, result)
            except ContractViolation as exc:
                tracing.mark_outcome(span, "error", error_code="seams.ContractViolation")
                return _broke_declaration(name, exc)
            tracing.mark_outcome(span, "ok")
            return HttpResponse(result_adapter.dump_json(result), content_type="application/json")

    endpoint.__name__ = method
    endpoint.__qualname__ = f"{contract.__name__}Endpoint.{method}"
    endpoint.__doc__ = inspect.getdoc(getattr(contract, method)) or f"{name}"
    # django-ninja reads the view's signature: the request body is the generated model.
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HttpRequest),
            inspect.Parameter("payload", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=body_class),
        ],
        return_annotation=HttpResponse,
    )
    return endpoint


def _not_decoded_by_ninja(params: type[Any]) -> None:
    """Switch off django-ninja's decoding of the body of one of the endpoints above.

    The endpoint's signature names the generated body model so that the OpenAPI document
    describes the request body (ninja's parameter model, which the document is made from,
    stays); at run time ninja would parse and validate that body (lax) before the endpoint parses
    and validates it again (strict), the one that decides. A contract call is decoded once: the
    parameter model resolves to no ``payload`` and the view reads ``request.body`` itself.
    Authentication still runs before the view, and every exception handler after it. The model
    is shared by the operation and the copies ninja makes of it when the API is mounted."""

    def resolve(cls: type[Any], request: HttpRequest, api: NinjaAPI, path_params: dict[str, Any]) -> dict[str, Any]:
        return {"payload": None}

    params.resolve = classmethod(resolve)


class InternalApi(NinjaAPI):
    """A contract's internal API, whose OpenAPI document also carries the links between its
    methods (:mod:`extraction.http.links`)."""

    contract: type[Contract]

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        slug = contract_slug(self.contract)
        return add_links(schema, self.contract, lambda method: f"{slug}_{method}")


def build_api(contract: type[Contract]) -> NinjaAPI:
    """One NinjaAPI serving every method of ``contract`` (mount it at ``contract_prefix(contract)/``)."""
    contract = contract.__seams_contract__
    version = contract_version(contract)
    api = InternalApi(
        title=f"{contract.__seams_name__} (internal)",
        version=str(version),
        description=(
            f"{inspect.getdoc(contract) or contract.__seams_name__}\n\n"
            f"Internal endpoints generated from the contract declaration in contracts/{contract.__seams_module__}.py. "
            f"Callers use the Seams HTTP transport, not these paths directly."
        ),
        urls_namespace=f"seams-{contract_prefix(contract).replace('/', '-')}",
        docs_url="/docs/",  # with a slash: a method may be called "docs"
        openapi_url="/openapi.json",
        auth=ServiceAuth(contract),
        docs_decorator=_docs_guard(contract.__seams_module__),
    )
    api.contract = contract
    api.add_exception_handler(Refused, refusal)
    errors = {status: ErrorBody for status in (400, 401, 403, 404, 409, 422, 500, 503)}
    for method, spec in contract.__seams_methods__.items():
        returns = spec.hints.get("return", type(None))
        api.post(
            f"/{method}",
            response={200: returns, **errors},
            operation_id=f"{contract_slug(contract)}_{method}",
            summary=f"{contract.__name__}.{method}{' (query)' if spec.is_query else ''}",
            url_name=method,
        )(_endpoint(contract, method))
        for operation in api.default_router.path_operations[f"/{method}"].operations:
            for params in operation.models:
                if issubclass(params, BodyModel):  # the endpoint takes nothing else, but only the body
                    _not_decoded_by_ninja(params)

    @api.exception_handler(Exception)
    def failed(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Never the traceback ninja answers under DEBUG, never Django's HTML page: an error id.
        error_id = record(logger, "%s %s failed on this service", request.method, request.path, exc=exc)
        return JsonResponse({"error": internal_error_to_wire(contract.__seams_name__, error_id)}, status=500)

    @api.exception_handler(HttpError)
    def unreadable_body(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # ninja's own {"detail": ...} (a body it cannot parse: 400) is not the protocol's error body.
        return _violation(f"{contract.__seams_name__}: {exc.message}", exc.status_code)

    @api.exception_handler(NinjaValidationError)
    def invalid_body(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        return _violation(f"{contract.__seams_name__}: the request does not match the declaration", 422, errors=exc.errors)

    return api
