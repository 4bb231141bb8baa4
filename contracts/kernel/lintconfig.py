"""The import-linter configuration, generated from the module manifests.

``render_lint_config`` is a pure function: given the modules (anything with a ``label``, a Python
package ``name`` and ``allowed_contract_modules()``, i.e. a ``ModuleConfig``) and the labels of the
``contracts/<x>.py`` declaration files, it returns the text of ``importlinter.ini``.
``manage.py modules lint-config`` writes it; ``--check`` fails when the file on disk is stale.

The contracts it writes (import-linter 2.x):

* the modules are independent of each other (no import chain between two modules, direct or not);
* ``contracts`` imports no module, ``app`` or ``extraction``;
* no module imports ``app`` or ``extraction``;
* ``contracts.kernel`` stays at the bottom: it imports no declaration file and no module;
* per module, the declaration files it must not import: all but its own, those whose contracts
  it consumes and those whose events it handles (``ModuleConfig.allowed_contract_modules()``).
  Only the module's own imports count here (``allow_indirect_imports``): a declaration file may
  reuse another's DTOs without forcing every consumer to declare that second module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

#: The project's own top-level packages, analysed by import-linter.
ROOT_PACKAGES: tuple[str, ...] = ("app", "modules", "contracts", "extraction")

#: The command that writes the file (named in its header and in every hint).
COMMAND = "python manage.py modules lint-config"

DEFAULT_FILENAME = "importlinter.ini"


class ModuleLike(Protocol):
    label: str
    name: str

    def allowed_contract_modules(self) -> set[str]: ...


def _values(items: Iterable[str]) -> str:
    # Always one value per line: import-linter reads a one-line value as a string, not a list.
    return "".join(f"\n    {item}" for item in items)


def _contract(key: str, name: str, kind: str, **fields: Iterable[str] | str) -> str:
    lines = [f"[importlinter:contract:{key}]", f"name = {name}", f"type = {kind}"]
    for field, value in fields.items():
        lines.append(f"{field} = {value}" if isinstance(value, str) else f"{field} ={_values(value)}")
    return "\n".join(lines) + "\n"


def render_lint_config(modules: Sequence[ModuleLike], declarations: Iterable[str]) -> str:
    """The text of ``importlinter.ini`` for these modules and ``contracts/<x>.py`` declarations.

    ``declarations`` are labels (``"orders"`` for ``contracts/orders.py``). The output depends only
    on the arguments and is sorted, so regenerating an unchanged project changes nothing.
    """
    modules = sorted(modules, key=lambda m: m.label)
    declared = sorted(set(declarations))
    packages = [m.name for m in modules]
    sections = [
        "# GENERATED FILE: do not edit. It is written by `" + COMMAND + "` from the module\n"
        "# manifests (consumes/handles in modules/<name>/apps.py and the modules' @subscribe handlers).\n"
        "# After changing a manifest, adding or removing a module or a contracts/<name>.py file, run\n"
        f"# `{COMMAND}` and commit the result; `make lint` fails while this file is stale.\n"
        f"# Checked by `lint-imports {DEFAULT_FILENAME}` (part of `make test`).\n"
        "\n"
        f"[importlinter]\nroot_packages ={_values(ROOT_PACKAGES)}\n"
    ]
    if len(packages) >= 2:
        sections.append(
            _contract(
                "modules-independent",
                "Modules are independent: reach another module through its contract (use) or events (@subscribe), "
                "never by importing modules.<other>, directly or through a helper",
                "independence",
                modules=packages,
            )
        )
    else:
        sections.append("# Fewer than two modules: no independence contract yet.\n")
    sections.append(
        _contract(
            "contracts-import-no-implementation",
            "contracts must not import modules, app or extraction (a declaration imports only contracts.kernel "
            "and other declarations)",
            "forbidden",
            source_modules=["contracts"],
            forbidden_modules=["modules", "app", "extraction"],
        )
    )
    sections.append(
        _contract(
            "modules-import-no-app",
            "Modules must not import app or extraction (the composition root plugs modules in, not the reverse)",
            "forbidden",
            source_modules=["modules"],
            forbidden_modules=["app", "extraction"],
        )
    )
    sections.append(
        _contract(
            "kernel-at-the-bottom",
            "contracts.kernel must not import contracts.<module> declarations or modules (the kernel stays at the "
            "bottom; look modules up at run time through ModuleConfig)",
            "forbidden",
            source_modules=["contracts.kernel"],
            forbidden_modules=[*(f"contracts.{label}" for label in declared), "modules", "app", "extraction"],
        )
    )
    for module in modules:
        forbidden = [f"contracts.{label}" for label in declared if label not in module.allowed_contract_modules()]
        if not forbidden:
            sections.append(f"# {module.label} may import every contracts/<module>.py declaration.\n")
            continue
        location = f"{module.name.replace('.', '/')}/apps.py"
        sections.append(
            _contract(
                f"{module.label}-declared-contracts",
                f"{module.label} may import only the contracts it consumes or whose events it handles "
                f"(declare more in {location} consumes or handles, then run `{COMMAND}`)",
                "forbidden",
                source_modules=[module.name],
                forbidden_modules=forbidden,
                allow_indirect_imports="true",
            )
        )
    return "\n".join(sections)


def declaration_labels(package: str = "contracts") -> list[str]:
    """Labels of the ``contracts/<x>.py`` declaration files on disk (not the kernel, not ``_private``)."""
    import importlib
    import pkgutil

    root = importlib.import_module(package)
    return sorted(
        info.name for info in pkgutil.iter_modules(root.__path__) if info.name != "kernel" and not info.name.startswith("_")
    )
