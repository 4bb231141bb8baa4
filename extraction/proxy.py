"""The client object every transport hands to ``use()``: a subclass of the contract.

Each declared method forwards to the instance's *channel* (``channel.call(method, args, kwargs)``),
keeping the declared signature, so callers, type checkers and ``isinstance(served, Catalog)`` cannot
tell a transport client from the in-process implementation.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from contracts.kernel import Contract
from contracts.kernel.telemetry.calls import observe

__all__ = ["client_class"]


@functools.cache
def client_class(contract: type[Contract], transport: str, describe: Callable[[Any], str]) -> type[Contract]:
    """``<Transport><Contract>(Contract)``, e.g. ``HttpCatalog``; ``describe(channel)`` says where
    it goes, for the repr. Cached: one class per contract and transport. Each call is observed
    (a client span, ``seams_contract_calls_total{transport=<transport in lower case>}``)."""

    def forward(method: str) -> Callable[..., Any]:
        declared = getattr(contract, method)

        def send(self: Any, *args: Any, **kwargs: Any) -> Any:
            return self._channel.call(method, args, kwargs)

        call = functools.wraps(declared)(observe(contract, method, transport.lower(), send))
        call.__signature__ = inspect.signature(declared)  # type: ignore[attr-defined]
        return call

    name = f"{transport}{contract.__name__}"
    namespace: dict[str, Any] = {method: forward(method) for method in contract.__seams_methods__}
    namespace["__init__"] = lambda self, channel: setattr(self, "_channel", channel)
    namespace["__repr__"] = lambda self: f"<{name} via {describe(self._channel)}>"
    namespace["__module__"] = __name__
    return type(name, (contract,), namespace)
