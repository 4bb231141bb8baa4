"""The registries of contract implementations and event subscribers.

Registrations happen while Django loads the apps (the kernel imports each module's
``implementation`` and ``handlers`` submodules); then the registry freezes. A later registration,
or a question about a name nobody registered, raises an error that says where to add it.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .contract import Contract
from .errors import RegistryFrozen, UnknownName
from .events import Event


@dataclass(frozen=True)
class Subscriber:
    """One event handler of one module."""

    event: type[Event]
    handler: Callable[..., Any]
    module: str
    name: str
    wants_envelope: bool


def _owner_label(python_module: str) -> str:
    """The label of the installed module that owns a Python module (``modules.inventory.handlers``
    -> ``inventory``); before the apps are loaded, or outside any module, the path by convention."""
    from django.apps import apps

    from .modules import module_of

    if apps.apps_ready:
        owner = module_of(python_module)
        if owner is not None:
            return owner.label
    parts = python_module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "modules" else python_module


class Registry:
    """Implementations by contract, subscribers by event type, and overrides for tests."""

    def __init__(self) -> None:
        self.implementations: dict[type[Contract], list[type[Contract]]] = defaultdict(list)
        self.subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self.overrides: dict[type[Contract], Contract] = {}
        self.frozen = False
        self.instances: dict[type[Contract], Contract] = {}
        #: What use() answered, by (calling Python module, contract); see resolution.py.
        self.resolved: dict[tuple[str, type[Contract]], Contract] = {}

    # --- registration -------------------------------------------------------------------------
    def _check_open(self, what: str, where: str) -> None:
        if self.frozen:
            raise RegistryFrozen(
                f"{what} was registered after start-up, when the Seams registries are frozen. "
                f"Put it in {where}, which the kernel imports while Django loads the apps."
            )

    def add_implementation(self, contract: type[Contract], implementation: type[Contract]) -> None:
        self._check_open(f"Implementation {implementation.__qualname__} of {contract.__seams_name__}",
                         "modules/<module>/implementation.py")
        if implementation not in self.implementations[contract]:
            self.implementations[contract].append(implementation)

    def add_subscriber(self, subscriber: Subscriber) -> None:
        self._check_open(f"Subscriber {subscriber.name} of {subscriber.event.event_type}",
                         "modules/<module>/handlers.py")
        self.subscribers[subscriber.event.event_type].append(subscriber)

    def freeze(self) -> None:
        self.frozen = True

    # --- lookup -------------------------------------------------------------------------------
    def implementation_of(self, contract: type[Contract]) -> type[Contract]:
        found = self.implementations.get(contract, [])
        if len(found) == 1:
            return found[0]
        if not found:
            raise UnknownName(
                f"No implementation of {contract.__seams_name__} is registered. In the module "
                f"'{contract.__seams_module__}', add to implementation.py: "
                f"@implements({contract.__name__}) class {contract.__name__}Implementation({contract.__name__}): ..."
            )
        names = ", ".join(f"{i.__module__}.{i.__qualname__}" for i in found)
        raise UnknownName(f"{contract.__seams_name__} has {len(found)} implementations ({names}); keep one.")

    def instance_of(self, contract: type[Contract]) -> Contract:
        """The in-process implementation instance (created once), or a test override."""
        if contract in self.overrides:
            return self.overrides[contract]
        instance = self.instances.get(contract)
        if instance is None:
            instance = self.instances[contract] = self.implementation_of(contract)()
        return instance

    def subscribers_for(self, event_type: str) -> list[Subscriber]:
        return self.subscribers.get(event_type, [])

    def all_subscribers(self) -> list[Subscriber]:
        return [s for subs in self.subscribers.values() for s in subs]


_registry = Registry()


def get_registry() -> Registry:
    return _registry


@contextmanager
def isolated_registry() -> Iterator[Registry]:
    """A fresh, unfrozen registry for the duration of a block (kernel unit tests)."""
    global _registry
    previous, _registry = _registry, Registry()
    try:
        yield _registry
    finally:
        _registry = previous


def implements(contract: type[Contract]) -> Callable[[type[Contract]], type[Contract]]:
    """Class decorator: register the decorated subclass as the implementation of ``contract``."""
    if not (isinstance(contract, type) and issubclass(contract, Contract) and contract.__dict__.get("__seams_contract__") is contract):
        raise TypeError(f"@implements expects a declared contract class, got {contract!r}")

    def register(cls: type[Contract]) -> type[Contract]:
        if not (isinstance(cls, type) and issubclass(cls, contract)):
            raise TypeError(
                f"{cls!r} must subclass {contract.__name__} to implement it (class {cls.__name__}({contract.__name__}))"
            )
        missing = [n for n in contract.__seams_methods__ if getattr(cls, n) is getattr(contract, n)]
        if missing:
            raise TypeError(f"{cls.__qualname__} does not implement {contract.__seams_name__}: missing {', '.join(missing)}")
        get_registry().add_implementation(contract, cls)
        return cls

    return register


def subscribe(event: type[Event], *, module: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: run the decorated function for each ``event`` after its publisher commits.

    The handler's module is the Seams module it is defined in (``modules.<label>...``); it runs in
    a transaction on that module's database. ``handler(event)`` or ``handler(event, envelope)``.
    """
    if not (isinstance(event, type) and issubclass(event, Event) and event is not Event):
        raise TypeError(f"@subscribe expects an Event subclass, got {event!r}")

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        parameters = inspect.signature(handler).parameters.values()
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        # It is called handler(event) or handler(event, envelope): count the required positional
        # parameters; a required keyword-only one could never be given.
        params = [p for p in parameters if p.kind in positional and p.default is p.empty]
        keyword_only = [p for p in parameters if p.kind == p.KEYWORD_ONLY and p.default is p.empty]
        if len(params) not in (1, 2) or keyword_only:
            raise TypeError(f"Handler {handler.__qualname__} must take (event) or (event, envelope)")
        get_registry().add_subscriber(
            Subscriber(
                event=event,
                handler=handler,
                module=module or _owner_label(handler.__module__),
                name=f"{handler.__module__}.{handler.__qualname__}",
                wants_envelope=len(params) == 2,
            )
        )
        return handler

    return register
