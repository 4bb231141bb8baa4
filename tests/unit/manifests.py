"""Build ``ModuleConfig`` / ``AppConfig`` instances by hand, for check functions that take them."""

from collections.abc import Sequence
from pathlib import Path

from django.apps import AppConfig

from contracts.kernel import Contract, Event, ModuleConfig

HERE = Path(__file__).resolve().parent


def module_config(
    label: str,
    *,
    provides: Sequence[type[Contract]] = (),
    consumes: Sequence[type[Contract]] = (),
    publishes: Sequence[type[Event]] = (),
    handles: Sequence[type[Event]] | None = None,
    database: str | None = None,
    path: Path | None = None,
) -> ModuleConfig:
    """A manifest for module ``label`` (``modules.<label>``) that is not installed."""
    attributes = {
        "name": f"modules.{label}",
        "label": label,
        "provides": list(provides),
        "consumes": list(consumes),
        "publishes": list(publishes),
        "handles": None if handles is None else list(handles),
        "database": database,
        "path": str(path or HERE),
    }
    config_class = type(f"{label.title()}Config", (ModuleConfig,), attributes)
    return config_class(f"modules.{label}", None)


def plain_app_config(name: str) -> AppConfig:
    """A plain Django AppConfig (not a module) for the app ``name``."""
    config_class = type("PlainConfig", (AppConfig,), {"name": name, "path": str(HERE)})
    return config_class(name, None)
