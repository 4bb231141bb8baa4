"""The transport-neutral wire form of a contract call: arguments, results and errors as JSON.

Every transport that carries a contract call out of process needs the same four conversions, all
derived from the contract declaration (``Contract.__seams_methods__``):

* ``encode_arguments`` / ``decode_arguments``: the call's arguments as one JSON object, one member
  per parameter (checked on the caller's side, pydantic *strict*, like the kernel's validating
  proxy; rebuilt on the serving side, strict *JSON* mode, so a datetime, UUID or Decimal travels as
  a string but ``"1"`` is never taken for ``1``);
* ``encode_result`` / ``decode_result``: the return value as JSON of the declared return type, and
  back into that type (Schemas, Decimal, UUID, datetime, tuples, sets, Enums...);
* ``error_to_wire`` / ``error_from_wire``: a ``ContractError`` as ``{"code", "message", "details",
  "kind"}`` and back into the *same class* (found with ``ContractError.by_code``). ``kind`` is the
  kernel kind (``seams.NotFound``...) so that a caller that does not know a newer code still
  raises the right kind. The code ``seams.ContractViolation`` stands for a value that does not
  match the declaration; it becomes a ``ContractViolation`` on the caller's side.

The pieces every transport and every public API share live here too, in one place: the
idempotency parameter (``IDEMPOTENCY_PARAMETER``), the error of a call that could not be answered
(:class:`TransportUnavailable`) and the one map from contract error kind to HTTP status
(``STATUS_BY_KIND``, :func:`status_for`, :func:`kind_for_status`), used by the HTTP transport's
server and client, by the monolith's public API (``app/api.py``) and by a generated service's API.

The HTTP transport (``extraction.http.wire``) uses the same conventions for its error bodies.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic_core import to_jsonable_python

from contracts.kernel import (
    Conflict,
    Contract,
    ContractError,
    ContractViolation,
    Invalid,
    NotFound,
    ServiceUnavailable,
)
from contracts.kernel.validation import check_return

__all__ = [
    "IDEMPOTENCY_PARAMETER",
    "INTERNAL_ERROR_CODE",
    "STATUS_BY_KIND",
    "VIOLATION_CODE",
    "TransportUnavailable",
    "arguments_model",
    "bind_arguments",
    "decode_arguments",
    "decode_result",
    "encode_arguments",
    "encode_result",
    "error_from_wire",
    "error_to_wire",
    "handler_failed_to_wire",
    "internal_error_to_wire",
    "kind_for_status",
    "result_adapter",
    "status_for",
    "violation_to_wire",
]

#: The error code of a request or result that does not match the declaration.
VIOLATION_CODE = "seams.ContractViolation"

#: The error code of a failure on the serving side that is not a contract outcome (a bug, a
#: database down): the answer carries only an error id, the serving side's log has the rest
#: (:mod:`extraction.incidents`). The caller raises :class:`TransportUnavailable` for it.
INTERNAL_ERROR_CODE = "seams.InternalError"

#: A command declares a parameter of this name to be retried safely, on every transport (see
#: docs/transports.md): the implementation uses it to do the work at most once.
IDEMPOTENCY_PARAMETER = "idempotency_key"

#: The kernel kinds, most specific first: what a caller rebuilds when it does not know a code.
_KINDS: tuple[type[ContractError], ...] = (NotFound, Conflict, Invalid, ServiceUnavailable)

#: Contract error kind -> HTTP status: the only place this mapping lives (public APIs and the
#: HTTP transport's internal endpoints). Any other ``ContractError`` is 400.
STATUS_BY_KIND: tuple[tuple[type[ContractError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (ServiceUnavailable, 503),
)


class TransportUnavailable(ServiceUnavailable):
    """The service serving a contract could not be reached or did not answer in the protocol
    (every transport raises it; the public API answers it with 503)."""


def status_for(exc: ContractError) -> int:
    """The HTTP status of a contract error: its kind's (``STATUS_BY_KIND``), else 400."""
    for kind, status in STATUS_BY_KIND:
        if isinstance(exc, kind):
            return status
    return 400


def kind_for_status(status: int) -> type[ContractError]:
    """The kind to rebuild when the caller does not know an error's code and the answer carries no
    kind (a server of another version): the kind of that status, else ``ContractError``."""
    for kind, kind_status in STATUS_BY_KIND:
        if kind_status == status:
            return kind
    return ContractError


def _spec(contract: type[Contract], method: str) -> Any:
    try:
        return contract.__seams_methods__[method]
    except KeyError:
        raise ContractViolation(f"{contract.__seams_name__} declares no method '{method}'") from None


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


@functools.cache
def arguments_model(contract: type[Contract], method: str) -> type[pydantic.BaseModel]:
    """The arguments of ``contract.method`` as a model: one field per parameter, typed and defaulted
    as declared; unknown members are refused."""
    spec = _spec(contract, method)
    fields: dict[str, Any] = {}
    for param in spec.parameters:
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (spec.hints.get(param.name, Any), default)
    return pydantic.create_model(  # type: ignore[call-overload,no-any-return]
        f"{contract.__name__}{_camel(method)}Arguments",
        __config__=pydantic.ConfigDict(extra="forbid", frozen=True),
        **fields,
    )


@functools.cache
def result_adapter(contract: type[Contract], method: str) -> pydantic.TypeAdapter[Any]:
    """Validates and serializes the declared return type of ``contract.method``."""
    return pydantic.TypeAdapter(_spec(contract, method).hints.get("return", type(None)))


def _first_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    got = f" (got {type(error['input']).__name__}: {error['input']!r:.80})" if "input" in error else ""
    return f"{where + ': ' if where else ''}{error['msg']}{got}"


def bind_arguments(contract: type[Contract], method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of a call by parameter name, as ``signature.bind`` sees them."""
    spec = _spec(contract, method)
    try:
        bound = spec.signature.bind(None, *args, **kwargs).arguments
    except TypeError as exc:
        raise ContractViolation(f"{contract.__seams_name__}.{method}: {exc}") from None
    return {name: value for name, value in bound.items() if name != "self"}


def encode_arguments(contract: type[Contract], method: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Check the arguments against the declaration (strict) and return them as a JSON object."""
    try:
        model = arguments_model(contract, method).model_validate(dict(arguments), strict=True)
    except pydantic.ValidationError as exc:
        raise ContractViolation(f"{contract.__seams_name__}.{method}({_first_error(exc)})") from None
    return model.model_dump(mode="json", exclude_unset=True)


def holds_nul(value: Any) -> bool:
    """Whether a decoded value holds a string with the NUL character anywhere (PostgreSQL's text
    columns cannot store one: the call would fail in the database, a 500, instead of being refused)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(holds_nul(v) for v in value)
    if isinstance(value, pydantic.BaseModel):
        return holds_nul(value.model_dump())
    return False


def refuse_nul(contract: type[Contract], method: str, arguments: dict[str, Any]) -> None:
    """``ContractViolation`` naming the first argument whose strings hold a NUL character."""
    for name, value in arguments.items():
        if holds_nul(value):
            raise ContractViolation(f"{contract.__seams_name__}.{method}({name}): strings may not contain the NUL character")


def decode_arguments(contract: type[Contract], method: str, data: Any) -> dict[str, Any]:
    """Rebuild the arguments of a call from their JSON object (strict JSON mode)."""
    try:
        model = arguments_model(contract, method).model_validate_json(json.dumps(data), strict=True)
    except (pydantic.ValidationError, TypeError, ValueError) as exc:
        detail = _first_error(exc) if isinstance(exc, pydantic.ValidationError) else str(exc)
        raise ContractViolation(f"{contract.__seams_name__}.{method}({detail})") from None
    # getattr, not model_dump: nested Schemas stay Schemas.
    arguments = {name: getattr(model, name) for name in type(model).model_fields}
    refuse_nul(contract, method, arguments)
    return arguments


def encode_result(contract: type[Contract], method: str, value: Any) -> Any:
    """Check a return value against the declaration (strict) and return its JSON form."""
    check_return(contract, method, value)
    return result_adapter(contract, method).dump_python(value, mode="json")


def decode_result(contract: type[Contract], method: str, data: Any) -> Any:
    """Rebuild a return value of the declared type from its JSON form (strict JSON mode)."""
    try:
        return result_adapter(contract, method).validate_json(json.dumps(data), strict=True)
    except (pydantic.ValidationError, TypeError, ValueError) as exc:
        detail = _first_error(exc) if isinstance(exc, pydantic.ValidationError) else str(exc)
        raise ContractViolation(f"{contract.__seams_name__}.{method} -> return: {detail}") from None


def _kind_of(exc: ContractError) -> str:
    for kind in _KINDS:
        if isinstance(exc, kind):
            return kind.code
    return ContractError.code


def error_to_wire(exc: ContractError) -> dict[str, Any]:
    """``{"code", "message", "details", "kind"}``; details are made JSON-safe (str as a last resort)."""
    details = to_jsonable_python(exc.details, fallback=str)
    return {"code": exc.code, "message": exc.message, "details": details, "kind": _kind_of(exc)}


def violation_to_wire(message: str, **details: Any) -> dict[str, Any]:
    """The wire form of a value that does not match the declaration."""
    return {"code": VIOLATION_CODE, "message": message, "details": to_jsonable_python(details, fallback=str)}


def internal_error_to_wire(what: str, error_id: str) -> dict[str, Any]:
    """The wire form of a failure on the serving side: what failed and the error id, nothing else
    (no exception text, no host or queue): the details are in the serving side's log under the id."""
    message = f"{what} failed on the serving side (error id {error_id}; its log has the details)"
    return {"code": INTERNAL_ERROR_CODE, "message": message, "details": {"error_id": error_id}, "kind": ServiceUnavailable.code}


def handler_failed_to_wire(error_id: str) -> dict[str, str]:
    """The answer of an event receiver (HTTP or Celery) whose handler raised: the error id, nothing
    of the exception (``{"type": "HandlerFailed", "message", "error_id"}``)."""
    return {
        "type": "HandlerFailed",
        "message": f"the handler failed (error id {error_id}; the receiver's log has the details)",
        "error_id": error_id,
    }


def error_from_wire(error: Mapping[str, Any]) -> Exception:
    """The exception to raise on the caller's side: the same ``ContractError`` class (by code), the
    kind's class for an unknown code, ``ContractViolation``, or ``TransportUnavailable`` for a
    failure on the serving side (``seams.InternalError``)."""
    code = str(error.get("code", ""))
    message = str(error.get("message", ""))
    details = error.get("details") or {}
    if not isinstance(details, dict):
        details = {"details": details}
    if code == VIOLATION_CODE:
        return ContractViolation(message)
    if code == INTERNAL_ERROR_CODE:
        return TransportUnavailable(message, error_id=str(details.get("error_id", "")))
    cls = ContractError.by_code.get(code) or ContractError.by_code.get(str(error.get("kind", ""))) or ContractError
    try:
        exc = cls(message, **details)
    except TypeError:  # a subclass with its own constructor: build it without calling it
        exc = cls.__new__(cls)
        ContractError.__init__(exc, message, **details)
    if exc.code != code and code:
        exc.code = code  # type: ignore[misc]  # an unknown (newer) code: keep it visible
    return exc
