"""Names a package exports, imported from their submodule when first asked for (PEP 562).

A package whose ``__init__`` imported every submodule made each importer pay for all of them: the
settings import ``contracts.kernel.public.config`` and ``extraction.celery.names``, and got JWT,
cryptography, pydantic and django-ninja (``public``), or Celery's app machinery, redis and the
identity's crypto (``celery``) with them. ``from package import Name`` still works: the first
access imports the submodule, and the name is then set on the package, a plain attribute after.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps each name to its submodule."""

    def __getattr__(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
