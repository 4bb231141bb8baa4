"""Module-isolated tests, like Spring Modulith's ``@ApplicationModuleTest``.

``isolate_module("orders")`` makes the rest of the system unreachable for the duration of a block:

* **standalone** (the default): every contract of another module answers with a
  ``ModuleIsolationError`` naming the contract and the fake to write, until the test serves it with
  ``override_contract`` / the ``fake_contract`` fixture; only the module's own handlers are
  subscribed, so its events are stored (and recorded by ``record_published``) but no other module
  reacts to them.
* **direct**: the contracts the module's manifest ``consumes`` are served by their real providers
  (and their handlers stay subscribed); anything further away is refused the same way.

The pytest marker ``@pytest.mark.seams_module("orders", mode="direct")`` (``pytest_plugin``) wraps a
test in this block and limits its databases to the modules it may reach (plus ``default``): a query
on another module's database fails with Django's "Database queries to 'inventory' are not allowed".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from .contract import Contract
from .errors import ConfigurationError
from .modules import get_module, module_configs
from .registry import get_registry
from .resolution import reset_resolution_cache

Mode = Literal["standalone", "direct"]
MODES = ("standalone", "direct")


class ModuleIsolationError(AssertionError):
    """A module test reached a module it did not ask for."""


@dataclass(frozen=True)
class ModuleScope:
    """What an isolated module test may reach: these modules' contracts, handlers and databases."""

    module: str
    mode: Mode
    modules: frozenset[str]

    @property
    def databases(self) -> list[str]:
        aliases = {get_module(label).database_alias for label in self.modules}
        return sorted(aliases | {"default"})


def module_scope(label: str, mode: str = "standalone") -> ModuleScope:
    """The modules a test of ``label`` may reach in ``mode`` (fails loudly on an unknown name)."""
    if mode not in MODES:
        raise ConfigurationError(f"Unknown module test mode '{mode}'; use one of: {', '.join(MODES)}.")
    config = get_module(label)
    reachable = {label}
    if mode == "direct":
        reachable |= {contract.__seams_module__ for contract in config.consumes}
    return ModuleScope(module=label, mode=mode, modules=frozenset(reachable))  # type: ignore[arg-type]


class Unreachable:
    """Stands in for a contract outside the test's scope: every attribute access says what to do."""

    def __init__(self, contract: type[Contract], scope: ModuleScope) -> None:
        self._contract, self._scope = contract, scope

    def __getattr__(self, name: str) -> Any:
        contract, scope = self._contract, self._scope
        direct = contract.__seams_module__ in {c.__seams_module__ for c in get_module(scope.module).consumes}
        advice = (
            f" or run the test with mode='direct' to use the real '{contract.__seams_module__}' module"
            if direct and scope.mode == "standalone" else ""
        )
        raise ModuleIsolationError(
            f"This {scope.mode} test of module '{scope.module}' called {contract.__seams_name__}.{name}, outside "
            f"its scope ({', '.join(sorted(scope.modules))}). Serve it with a fake: fake_contract({contract.__name__}, "
            f"Fake{contract.__name__}()) where class Fake{contract.__name__}({contract.__name__}) implements it{advice}."
        )


@contextmanager
def isolate_module(label: str, mode: str = "standalone") -> Iterator[ModuleScope]:
    """Run a block as a test of one module (see the module docstring)."""
    scope = module_scope(label, mode)
    registry = get_registry()
    overrides, subscribers = dict(registry.overrides), registry.subscribers
    for config in module_configs():
        if config.label in scope.modules:
            continue
        for contract in config.provides:
            registry.overrides.setdefault(contract, Unreachable(contract, scope))  # type: ignore[arg-type]
    registry.subscribers = type(subscribers)(
        list, {event_type: [s for s in subs if s.module in scope.modules] for event_type, subs in subscribers.items()}
    )
    reset_resolution_cache()
    try:
        yield scope
    finally:
        registry.overrides.clear()
        registry.overrides.update(overrides)
        registry.subscribers = subscribers
        reset_resolution_cache()
