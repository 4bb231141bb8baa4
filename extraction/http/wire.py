"""What the HTTP transport's client and server agree on: paths, headers, body models, error bodies.

Both sides derive everything from the contract declaration, so a client and a server built from the
same ``contracts/<module>.py`` speak the same protocol:

* ``POST /internal/<module>/v<N>/<contract>/<method>``, ``<contract>`` the contract's family (its
  class name without a ``V<N>`` suffix) in snake case and ``N`` its ``version`` (1 when absent):
  ``Catalog`` and ``CatalogV2`` are served side by side under ``v1/catalog`` and ``v2/catalog``;
* the request body is a JSON object with one member per parameter (the *body model*, generated
  with pydantic's ``create_model`` from the method's annotations);
* a 200 response body is the return value as JSON (the declared return type);
* an error response body is ``{"error": {"code", "message", "details", "kind"}}`` (the
  transport-neutral error form of :mod:`extraction.wire`, shared with the Celery transport); the
  code is a ``ContractError`` code (``catalog.ProductNotFound``) or ``seams.ContractViolation``;
* forwarded events go to ``POST /internal/<module>/events/`` (:func:`events_path`, served by
  :mod:`extraction.http.events`).

Values are checked with pydantic's *strict* mode on both sides (JSON mode on the wire, so a
datetime, UUID or Decimal travels as a string, but ``"1"`` is never taken for ``1``).
"""

from __future__ import annotations

import re
from typing import Any

import pydantic

from contracts.kernel import Contract, ContractError
from extraction.wire import VIOLATION_CODE, arguments_model, error_to_wire, result_adapter, violation_to_wire

__all__ = [
    "IDEMPOTENCY_HEADER",
    "VIOLATION_CODE",
    "ErrorBody",
    "arguments_of",
    "body_model",
    "contract_prefix",
    "contract_slug",
    "contract_version",
    "error_body",
    "events_path",
    "method_path",
    "return_adapter",
    "violation_body",
]

#: The value of a command's ``IDEMPOTENCY_PARAMETER`` (:mod:`extraction.wire`) also travels in this
#: header (for proxies and logs).
IDEMPOTENCY_HEADER = "Idempotency-Key"


def contract_version(contract: type[Contract]) -> int:
    """The contract's major version: its ``version`` class attribute (an int), 1 by default."""
    version = getattr(contract, "version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) and version >= 1 else 1


def contract_slug(contract: type[Contract]) -> str:
    """``Catalog`` -> ``catalog``, ``StockLedger`` -> ``stock_ledger``; the versions of a contract
    share it (``CatalogV2`` -> ``catalog``, served under ``v2``)."""
    family = getattr(contract, "__seams_family__", contract.__name__)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", family).lower()


def contract_prefix(contract: type[Contract]) -> str:
    """``internal/<module>/v<N>/<contract>`` (no leading or trailing slash)."""
    return f"internal/{contract.__seams_module__}/v{contract_version(contract)}/{contract_slug(contract)}"


def method_path(contract: type[Contract], method: str) -> str:
    """The absolute path of one method: ``/internal/catalog/v1/catalog/get_product``."""
    return f"/{contract_prefix(contract)}/{method}"


def events_path(module: str) -> str:
    """Where a module's forwarded events are received: ``/internal/<module>/events/``."""
    return f"/internal/{module}/events/"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def body_model(contract: type[Contract], method: str) -> type[pydantic.BaseModel]:
    """The request body of ``contract.method``: one field per parameter, typed and defaulted as
    declared; unknown members are refused (the transport-neutral ``extraction.wire.arguments_model``)."""
    return arguments_model(contract, method)


def return_adapter(contract: type[Contract], method: str) -> pydantic.TypeAdapter[Any]:
    """Validates and serializes the declared return type of ``contract.method``."""
    return result_adapter(contract, method)


def arguments_of(body: pydantic.BaseModel) -> dict[str, Any]:
    """The validated arguments as Python values (nested Schemas stay Schemas, unlike model_dump)."""
    return {name: getattr(body, name) for name in type(body).model_fields}


class ErrorDetail(pydantic.BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}
    kind: str | None = None


class ErrorBody(pydantic.BaseModel):
    """Every error answer of an internal endpoint."""

    error: ErrorDetail


def error_body(exc: ContractError) -> dict[str, Any]:
    """``{"error": {"code", "message", "details", "kind"}}``: the transport-neutral wire form."""
    return {"error": error_to_wire(exc)}


def violation_body(message: str, **details: Any) -> dict[str, Any]:
    return {"error": violation_to_wire(message, **details)}
