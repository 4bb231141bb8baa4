"""``importlinter.ini``: one import-linter contract of type ``seams`` that reads the manifests itself.

The file used to be generated from the manifests (one ``independence`` contract, a ``forbidden``
contract per module, ``root_packages`` fixed to the four packages known then). It went stale the
moment a package or module appeared, and a package nobody had listed was outside every rule. Now
its text is the same for every project: the ``seams`` contract type
(``contracts.kernel.importcontract``) discovers the project's packages and modules on each run.
``manage.py modules lint-config`` still writes it (for a new project) and ``--check`` still fails
if it was edited by hand, but no change to a module or a package ever makes it stale.
"""

from __future__ import annotations

#: The packages the monolith had when the rules were generated. Only the extraction toolkit's
#: per-service config still uses this list; the ``seams`` contract discovers packages itself.
ROOT_PACKAGES: tuple[str, ...] = ("app", "modules", "contracts", "extraction")

#: The command that writes the file (named in its header and in every hint).
COMMAND = "python manage.py modules lint-config"

DEFAULT_FILENAME = "importlinter.ini"

CONTRACT_TYPE = "contracts.kernel.importcontract.SeamsBoundaries"


def render_lint_config() -> str:
    """The text of ``importlinter.ini`` (the same for every project: nothing in it can go stale)."""
    return (
        f"# Written by `{COMMAND}`; it never needs regenerating. Checked by `lint-imports {DEFAULT_FILENAME}`\n"
        "# (part of `make test`).\n"
        "#\n"
        "# The one contract below is of type `seams` (contracts/kernel/importcontract.py). On every run it finds\n"
        "# every top-level package and .py file beside manage.py (a shared/ or utils.py added later included)\n"
        "# and every module's manifest (modules/<name>/apps.py), and checks that\n"
        "#   - a module imports, of the project's own code, only itself and contracts (directly, relatively,\n"
        "#     lazily in a function or through a re-export: every such import is reported with its chain);\n"
        "#   - contracts imports no other project code, and contracts.kernel no contracts.<module> declaration;\n"
        "#   - a module imports contracts.<x> only if it consumes x's contracts or handles x's events;\n"
        "#   - a module's use(X) and publish(X(...)) match its manifest's consumes and publishes.\n"
        "# The seams contract builds its own graph of all those packages: root_packages only satisfies\n"
        "# import-linter, which wants one.\n"
        "\n"
        "[importlinter]\n"
        "root_packages =\n"
        "    contracts\n"
        "contract_types =\n"
        f"    seams: {CONTRACT_TYPE}\n"
        "\n"
        "[importlinter:contract:seams]\n"
        "name = Seams boundaries: of the project's own packages a module imports only contracts (and only the "
        "declarations its manifest depends on)\n"
        "type = seams\n"
    )


def declaration_labels(package: str = "contracts") -> list[str]:
    """Labels of the ``contracts/<x>.py`` declaration files on disk (not the kernel, not ``_private``)."""
    import importlib
    import pkgutil

    root = importlib.import_module(package)
    return sorted(
        info.name for info in pkgutil.iter_modules(root.__path__) if info.name != "kernel" and not info.name.startswith("_")
    )
