"""Finding modules and contract declarations on disk.

Used by settings (to build INSTALLED_APPS and DATABASES before Django starts) and by the kernel at
start-up (to import every contract declaration and each module's registrations).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

#: Submodules of a module that the kernel imports at start-up, so their registrations happen.
REGISTRATION_SUBMODULES = ("implementation", "handlers")


def discover_modules(modules_dir: Path) -> list[str]:
    """Labels of the packages directly under ``modules_dir`` (sorted, so the order is stable)."""
    return sorted(
        p.name for p in modules_dir.iterdir() if p.is_dir() and (p / "__init__.py").exists() and not p.name.startswith("_")
    )


def import_contract_declarations(package: str = "contracts") -> list[str]:
    """Import every ``contracts.<module>`` declaration file; returns their names."""
    root = importlib.import_module(package)
    names = []
    for info in pkgutil.iter_modules(root.__path__):
        if info.name == "kernel" or info.name.startswith("_"):
            continue
        names.append(importlib.import_module(f"{package}.{info.name}").__name__)
    return names


def import_registrations(app_name: str) -> list[str]:
    """Import a module's ``implementation`` and ``handlers`` submodules, where they exist."""
    from django.utils.module_loading import module_has_submodule

    package = importlib.import_module(app_name)
    imported = []
    for sub in REGISTRATION_SUBMODULES:
        if module_has_submodule(package, sub):
            imported.append(importlib.import_module(f"{app_name}.{sub}").__name__)
    return imported
