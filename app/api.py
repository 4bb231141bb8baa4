"""The public REST API: one NinjaAPI, each module's router mounted under ``/api/<module>/``, and
the one place where contract errors become HTTP responses (each kind's status comes from the
transport-neutral map in ``extraction.wire``, shared with the transports and generated services).
"""

from __future__ import annotations

import importlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import module_has_submodule
from ninja import NinjaAPI
from ninja.errors import ValidationError as NinjaValidationError

from contracts.kernel import ContractError, Invalid
from extraction.wire import status_for

api = NinjaAPI(
    title="Seams reference shop",
    version="1.0.0",
    description="A modular monolith: each path group is served by one module.",
    docs_url="/docs",
)

@api.exception_handler(ContractError)
def contract_error(request: HttpRequest, exc: ContractError) -> HttpResponse:
    status = status_for(exc)
    if isinstance(exc, Invalid):
        loc = exc.field if isinstance(exc.field, list) else ([exc.field] if exc.field else [])
        body = {"detail": [{"type": exc.code, "loc": ["body", *loc], "msg": exc.message}]}
    else:
        body = {"detail": exc.message, "code": exc.code, **({"details": exc.details} if exc.details else {})}
    response = api.create_response(request, body, status=status)
    if status == 503:
        response["Retry-After"] = "5"
    return response


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": exc.errors}, status=422)


def mount_module_routers() -> list[str]:
    """Mount ``modules.<label>.api.router`` under ``/<label>/`` for every module that has one.

    All of them, whatever their binding: the public API does not change when a module is
    extracted; its requests are forwarded by the gateway middleware (``extraction.gateway``)
    before they reach these routers."""
    mounted = []
    for label in settings.SEAMS_MODULES:
        package = importlib.import_module(f"modules.{label}")
        if module_has_submodule(package, "api"):
            api.add_router(f"/{label}/", importlib.import_module(f"modules.{label}.api").router)
            mounted.append(label)
    return mounted


mount_module_routers()
