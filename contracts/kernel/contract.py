"""``Contract``: a module's published, typed API.

A contract is a class in ``contracts/<module>.py`` whose public methods are declarations::

    class Catalog(Contract):
        @query
        def get_product(self, sku: str) -> ProductDTO: ...

The providing module subclasses it with the real implementation and registers it with
``@implements(Catalog)``; consumers get it with ``use(Catalog)``. Tests and fakes subclass it too.
Types are checked for crossing the network by the ``seams.E003`` system check, so that a contract
served in-process today can be served over HTTP or Celery tomorrow.

A breaking change ships as a new *version* declared beside the old one, both served at once::

    class CatalogV2(Contract):
        version = 2
        @query
        def get_product(self, sku: str) -> ProductV2DTO: ...

Both are separate contracts (each implemented, each consumed by name: ``consumes = [Catalog]`` pins
v1); they share one *family* (``Catalog``: the class name without its ``V<version>`` suffix), which
the transports use for the wire names (``/internal/catalog/v1/catalog/...`` and ``.../v2/catalog/...``).
See docs/evolution.md.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from .types import crossing_problems

F = TypeVar("F", bound=Callable[..., Any])

#: Every contract declared so far, by its name (``"catalog.Catalog"``).
declared_contracts: dict[str, type[Contract]] = {}


def query(func: F) -> F:
    """Mark a contract method as read-only: transports may retry it safely."""
    func.__seams_query__ = True  # type: ignore[attr-defined]
    return func


@dataclass(frozen=True)
class MethodSpec:
    """One declared contract method, with its resolved type hints."""

    name: str
    signature: inspect.Signature
    hints: dict[str, Any]
    is_query: bool
    problems: tuple[str, ...] = field(default=())

    @property
    def parameters(self) -> list[inspect.Parameter]:
        return [p for p in self.signature.parameters.values() if p.name != "self"]


def family_name(class_name: str, version: int) -> str:
    """``CatalogV2`` (version 2) -> ``Catalog``: the name the versions of a contract or event share."""
    suffix = f"V{version}"
    if version > 1 and class_name.endswith(suffix) and len(class_name) > len(suffix):
        return class_name[: -len(suffix)]
    return class_name


def _owner_of(python_module: str) -> str:
    if python_module.startswith("contracts.") and python_module.count(".") == 1:
        return python_module.split(".", 1)[1]
    return ""


class Contract:
    """Base class of contracts. Subclass it directly to *declare* one; subclass a declared
    contract to *implement* it (or to fake it in tests)."""

    __seams_contract__: ClassVar[type[Contract]]
    __seams_module__: ClassVar[str]
    __seams_name__: ClassVar[str]
    __seams_methods__: ClassVar[dict[str, MethodSpec]]
    #: ``Catalog`` for ``Catalog`` and ``CatalogV2``: the versions of one contract share it.
    __seams_family__: ClassVar[str]
    #: The contract's major version; a breaking change is a new declaration with the next one.
    version: ClassVar[int] = 1

    def __init_subclass__(cls, module: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if Contract not in cls.__bases__:
            return  # an implementation or a fake: it inherits the declaration's metadata
        owner = module or _owner_of(cls.__module__)
        if not owner:
            raise TypeError(
                f"Contract {cls.__qualname__} is declared in {cls.__module__}; declare contracts in "
                f"contracts/<module>.py, or pass the owning module: class {cls.__name__}(Contract, module='...')"
            )
        version = cls.__dict__.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise TypeError(f"{cls.__qualname__}.version must be an int >= 1 (got {version!r})")
        family = family_name(cls.__name__, version)
        clash = next(
            (c for c in declared_contracts.values()
             if (c.__seams_module__, c.__seams_family__, c.version) == (owner, family, version) and c.__name__ != cls.__name__),
            None,
        )
        if clash is not None:
            raise TypeError(
                f"{cls.__qualname__} and {clash.__qualname__} are both version {version} of the contract {family} of "
                f"'{owner}': they would be served at the same paths. Give one the next version, or another name."
            )
        cls.__seams_contract__ = cls
        cls.__seams_family__ = family
        cls.__seams_module__ = owner
        cls.__seams_name__ = f"{owner}.{cls.__name__}"
        cls.__seams_methods__ = {
            name: _method_spec(cls, name, member)
            for name, member in vars(cls).items()
            if not name.startswith("_") and inspect.isfunction(member)
        }
        declared_contracts[cls.__seams_name__] = cls

    @classmethod
    def contract_problems(cls) -> list[str]:
        """Every reason this contract's types cannot cross the network (empty when fine)."""
        return [p for spec in cls.__seams_methods__.values() for p in spec.problems]


def _method_spec(cls: type, name: str, func: Callable[..., Any]) -> MethodSpec:
    signature = inspect.signature(func)
    where = f"{cls.__name__}.{name}"
    problems: list[str] = []
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:  # an annotation naming something undefined
        return MethodSpec(name, signature, {}, False, (f"{where}: cannot resolve annotations ({exc})",))
    for param in signature.parameters.values():
        if param.name == "self":
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            stars = "*" if param.kind == param.VAR_POSITIONAL else "**"
            problems.append(f"{where}: {stars}{param.name} is not allowed; name every parameter")
        elif param.name not in hints:
            problems.append(f"{where}: parameter '{param.name}' has no type annotation")
        else:
            problems += crossing_problems(hints[param.name], f"{where}({param.name})")
    if "return" not in hints:
        problems.append(f"{where}: the return type is not annotated (use '-> None' if nothing is returned)")
    else:
        problems += crossing_problems(hints["return"], f"{where} -> return")
    return MethodSpec(name, signature, hints, getattr(func, "__seams_query__", False), tuple(problems))
