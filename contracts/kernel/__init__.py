"""The Seams kernel: contracts, events, modules and their boundaries.

The public API is this list; everything else in the package is an implementation detail.
Contract declarations (``contracts/<module>.py``) and modules (``modules/<module>/``) import it;
it imports neither of them.

Each name is loaded from its submodule on first use (PEP 562), so that a tool which needs one
part of the kernel without Django (``lint-imports`` runs ``contracts.kernel.importcontract``)
does not pay for importing Django, the database layer and pydantic. ``from contracts.kernel
import use`` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time each name is loaded on first use
    from .bus import EventBackend, InlineEventBackend, atomic, publish
    from .contract import Contract, query
    from .errors import (
        ConfigurationError,
        Conflict,
        ContractError,
        ContractViolation,
        Invalid,
        NotFound,
        NotReady,
        RegistryFrozen,
        SeamsError,
        ServiceUnavailable,
        UndeclaredDependency,
        Undeliverable,
        UnknownName,
    )
    from .events import Envelope, Event
    from .modules import ModuleConfig, get_module, module_configs
    from .registry import implements, subscribe
    from .resolution import use
    from .schema import Schema
    from .upcasting import converts

#: Public name -> the submodule that defines it.
_EXPORTS = {
    **dict.fromkeys(("EventBackend", "InlineEventBackend", "atomic", "publish"), ".bus"),
    **dict.fromkeys(("Contract", "query"), ".contract"),
    **dict.fromkeys(
        (
            "ConfigurationError",
            "Conflict",
            "ContractError",
            "ContractViolation",
            "Invalid",
            "NotFound",
            "NotReady",
            "RegistryFrozen",
            "SeamsError",
            "ServiceUnavailable",
            "UndeclaredDependency",
            "Undeliverable",
            "UnknownName",
        ),
        ".errors",
    ),
    **dict.fromkeys(("Envelope", "Event"), ".events"),
    **dict.fromkeys(("ModuleConfig", "get_module", "module_configs"), ".modules"),
    **dict.fromkeys(("implements", "subscribe"), ".registry"),
    "use": ".resolution",
    "Schema": ".schema",
    "converts": ".upcasting",
}

__all__ = [
    "ConfigurationError",
    "Conflict",
    "Contract",
    "ContractError",
    "ContractViolation",
    "Envelope",
    "Event",
    "EventBackend",
    "InlineEventBackend",
    "Invalid",
    "ModuleConfig",
    "NotFound",
    "NotReady",
    "RegistryFrozen",
    "Schema",
    "SeamsError",
    "ServiceUnavailable",
    "UndeclaredDependency",
    "Undeliverable",
    "UnknownName",
    "atomic",
    "converts",
    "get_module",
    "implements",
    "module_configs",
    "publish",
    "query",
    "subscribe",
    "use",
]

assert set(__all__) == set(_EXPORTS), "__all__ and _EXPORTS must list the same names"


def __getattr__(name: str) -> Any:
    submodule = _EXPORTS.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(submodule, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
