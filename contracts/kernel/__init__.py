"""The Seams kernel: contracts, events, modules and their boundaries.

The public API is this list; everything else in the package is an implementation detail.
Contract declarations (``contracts/<module>.py``) and modules (``modules/<module>/``) import it;
it imports neither of them.
"""

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
    "get_module",
    "implements",
    "module_configs",
    "publish",
    "query",
    "subscribe",
    "use",
]
