"""``ModuleConfig``: the manifest of a bounded-context module.

A module is a Django app under ``modules/`` whose AppConfig subclasses ``ModuleConfig``::

    class OrdersConfig(ModuleConfig):
        name = "modules.orders"
        label = "orders"
        provides = [Orders]                      # contracts this module implements
        consumes = [Catalog]                     # contracts it may call (its allowed dependencies)
        publishes = [OrderPlaced, OrderConfirmed]
        handles = [StockReserved]                # optional: derived from @subscribe, checked if given

The manifest is the single source for the system checks, ``use()``, the database router and the
generated import-linter configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from django.apps import AppConfig, apps
from django.core.signals import setting_changed

from .errors import NotReady, UnknownName

if TYPE_CHECKING:
    from .contract import Contract
    from .events import Event
    from .registry import Registry


class ModuleConfig(AppConfig):
    """Base AppConfig of every module."""

    default_auto_field = "django.db.models.BigAutoField"
    #: Django picks the AppConfig of an apps.py by this flag; the base must not be picked.
    default = False
    provides: Sequence[type[Contract]] = ()
    consumes: Sequence[type[Contract]] = ()
    publishes: Sequence[type[Event]] = ()
    handles: Sequence[type[Event]] | None = None
    #: The database alias that holds this module's tables; defaults to the label.
    database: str | None = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "default" not in cls.__dict__:
            cls.default = True

    @property
    def database_alias(self) -> str:
        return self.database or self.label

    def handled_events(self, registry: Registry | None = None) -> list[type[Event]]:
        """Events this module subscribes to, derived from its ``@subscribe`` registrations."""
        from .registry import get_registry

        return sorted(
            {s.event for s in (registry if registry is not None else get_registry()).all_subscribers() if s.module == self.label},
            key=lambda e: e.event_type,
        )

    def allowed_contract_modules(self) -> set[str]:
        """Owners of the ``contracts.<x>`` declarations this module may import."""
        allowed = {self.label}
        allowed |= {c.__seams_module__ for c in self.consumes}
        allowed |= {e.publisher for e in (self.handles if self.handles is not None else self.handled_events())}
        return allowed

    def manifest_location(self) -> str:
        return f"{self.name.replace('.', '/')}/apps.py ({type(self).__name__})"


def module_configs() -> list[ModuleConfig]:
    """Every installed module, in INSTALLED_APPS order."""
    if not apps.apps_ready:
        raise NotReady("Seams modules are known once Django has loaded the apps (django.setup()).")
    return [c for c in apps.get_app_configs() if isinstance(c, ModuleConfig)]


def get_module(label: str) -> ModuleConfig:
    """The module with this label; fails loudly, naming the known ones. (Django's app registry
    answers by label in one dict lookup: this runs several times per event.)"""
    if not apps.apps_ready:
        module_configs()  # raises NotReady
    config = apps.app_configs.get(label)
    if isinstance(config, ModuleConfig):
        return config
    known = ", ".join(sorted(c.label for c in module_configs())) or "none"
    raise UnknownName(
        f"No module is labelled '{label}'. Known modules: {known}. A module is an app under modules/ "
        f"whose AppConfig subclasses contracts.kernel.ModuleConfig."
    )


@lru_cache(maxsize=4096)
def module_of(python_module: str) -> ModuleConfig | None:
    """The module that owns a Python module path (``modules.orders.services`` -> orders), if any."""
    best: ModuleConfig | None = None
    for config in module_configs():
        if python_module == config.name or python_module.startswith(config.name + "."):
            if best is None or len(config.name) > len(best.name):
                best = config
    return best


def _forget_modules(*, setting: str, **_: object) -> None:
    # KernelConfig.ready() clears the cache when apps load; restoring INSTALLED_APPS (tests) runs no ready().
    if setting == "INSTALLED_APPS":
        module_of.cache_clear()


setting_changed.connect(_forget_modules)
