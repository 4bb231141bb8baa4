"""Boundary validation for in-process contract calls.

Off by default in production (a call then goes straight to the implementation); on under DEBUG and
in tests, so that an implementation returning a Django model instead of a DTO, or a caller passing
a str for an int, fails here, long before the contract is served over a network.
"""

from __future__ import annotations

import functools
from typing import Any

import pydantic

from .contract import Contract, MethodSpec
from .errors import ContractViolation


@functools.cache
def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(annotation)


def _check(value: Any, annotation: Any, where: str) -> None:
    try:
        validated = _adapter(annotation).validate_python(value, strict=True)
    except pydantic.ValidationError as exc:
        raise ContractViolation(f"{where}: {exc.errors()[0]['msg']} (got {type(value).__name__}: {value!r:.80})") from None
    # Even strict, pydantic builds a Schema from a dict. In-process the other side would get the dict
    # while a remote caller gets the Schema: the value must already be of the declared type.
    if validated is not value and validated != value:
        expected = annotation.__name__ if isinstance(annotation, type) else repr(annotation)
        raise ContractViolation(
            f"{where}: expected {expected}, build it rather than a look-alike (got {type(value).__name__}: {value!r:.80})"
        )


def _validating_method(contract: type[Contract], spec: MethodSpec, bound: Any) -> Any:
    name = f"{contract.__seams_name__}.{spec.name}"

    @functools.wraps(bound)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            arguments = spec.signature.bind(None, *args, **kwargs).arguments
        except TypeError as exc:
            raise ContractViolation(f"{name}: {exc}") from None
        for param, value in arguments.items():
            if param != "self" and param in spec.hints:
                _check(value, spec.hints[param], f"{name}({param})")
        result = bound(*args, **kwargs)
        if "return" in spec.hints:
            _check(result, spec.hints["return"], f"{name} -> return")
        return result

    return call


def check_return(contract: type[Contract], method: str, value: Any) -> None:
    """Raise ``ContractViolation`` unless ``value`` is what ``contract.method`` declares it returns
    (strictly, and of the declared type, not a look-alike): what a transport's server checks once
    before it encodes an answer."""
    spec = contract.__seams_methods__[method]
    if "return" in spec.hints:
        _check(value, spec.hints["return"], f"{contract.__seams_name__}.{method} -> return")


def validating_proxy(contract: type[Contract], instance: Contract) -> Contract:
    """An object of a contract subclass whose methods validate arguments and results."""
    methods = {
        name: staticmethod(_validating_method(contract, spec, getattr(instance, name)))
        for name, spec in contract.__seams_methods__.items()
    }
    proxy_class = type(f"Validating{contract.__name__}", (contract,), methods)
    return proxy_class()
