"""``manage.py startmodule <name>``: a new bounded-context module that passes every check at once.

Like Django's ``startapp`` (it is the same ``TemplateCommand``), but a Seams module is more than an
app: it writes the module's published language (``contracts/<name>.py``: a contract with a query
and a command, a contract error, an event), the module itself (manifest, models, selectors,
services, implementation, handlers, REST router, migrations) and its test (``tests/modules/``), then
makes the first migration and regenerates the boundary config, so that ``lint-imports``,
``manage.py check`` and the new test pass before anything is edited.

    manage.py startmodule loyalty
    manage.py startmodule loyalty --no-migrations   # write the files only
"""

from __future__ import annotations

import keyword
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.core.management.templates import TemplateCommand

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "scaffold" / "module_template"
#: A module's label is its Python package name and its database alias: lower case, snake case.
LABEL = re.compile(r"^[a-z][a-z0-9_]*$")


def camel_case(name: str) -> str:
    """The contract's class name, as TemplateCommand spells ``camel_case_module_name``."""
    return "".join(x for x in name.title() if x != "_")


def import_lines(module: str, contract: str) -> dict[str, str]:
    """The ``contracts`` import block of each generated file, sorted the way isort/ruff keep it
    (modules by name, then names), so the files pass ``ruff check`` whatever the module is called."""
    own = f"contracts.{module}"
    blocks = {
        "apps_imports": {"contracts.kernel": ["ModuleConfig"], own: ["ItemCreated", contract]},
        "implementation_imports": {"contracts.kernel": ["implements"], own: ["ItemDTO", contract]},
        "services_imports": {"contracts.kernel": ["Invalid", "atomic", "publish"], own: ["ItemCreated", "ItemDTO"]},
        "test_imports": {"contracts.kernel": ["use"], "contracts.kernel.testing": ["PublishedEvents"],
                         own: ["ItemCreated", "ItemNotFound", contract]},
    }
    return {
        key: "\n".join(f"from {source} import {', '.join(sorted(names, key=_isort_key))}" for source, names in sorted(imports.items()))
        for key, imports in blocks.items()
    }


def _isort_key(name: str) -> tuple[int, str]:
    """isort's order by type: CONSTANTS, then Classes, then functions; alphabetical within each."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


class Command(TemplateCommand):
    help = "Create a module: its contract file, the module package, a migration and a test."
    missing_args_message = "Name the module, e.g. manage.py startmodule loyalty"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the module's label: lower case, e.g. loyalty or gift_cards")
        parser.add_argument(
            "--no-migrations", action="store_true", help="do not run makemigrations for the new module"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options.pop("name")
        root = Path(getattr(settings, "BASE_DIR", Path.cwd()))
        self.refuse_bad_name(name, root)
        (root / "tests" / "modules").mkdir(parents=True, exist_ok=True)
        (root / "tests" / "modules" / "__init__.py").touch()
        super().handle(
            "module", name, str(root),
            template=str(TEMPLATE_DIR), extensions=["py"], files=[], verbosity=options["verbosity"],
            **import_lines(name, camel_case(name)),
        )
        self.stdout.write(f"Created contracts/{name}.py, modules/{name}/ and tests/modules/test_{name}.py")
        steps = [] if options["no_migrations"] else [["makemigrations", name]]
        steps.append(["modules", "lint-config"])
        for step in steps:
            # A new process: this one started before the module existed, so its app registry and
            # module list do not know it.
            self.stdout.write(f"Running manage.py {' '.join(step)} ...")
            done = subprocess.run(
                [sys.executable, str(root / "manage.py"), *step], cwd=root, capture_output=True, text=True
            )
            if done.returncode != 0:
                raise CommandError(
                    f"manage.py {' '.join(step)} failed after the files were written:\n{done.stdout}{done.stderr}"
                )
        self.stdout.write(self.style.SUCCESS(
            f"Module '{name}' is ready. Next: manage.py migrate_modules, then pytest tests/modules/test_{name}.py"
        ))

    def refuse_bad_name(self, name: str, root: Path) -> None:
        """Fail before writing anything: a half-written module is worse than none."""
        if not LABEL.match(name) or keyword.iskeyword(name):
            raise CommandError(
                f"'{name}' is not a valid module name: use lower case letters, digits and underscores, "
                f"starting with a letter (it becomes the package modules.{name} and the database alias '{name}')."
            )
        if name == "kernel":
            raise CommandError("'kernel' is reserved: contracts/kernel/ is Seams' own machinery.")
        taken = [p for p in (root / "modules" / name, root / "contracts" / f"{name}.py",
                             root / "tests" / "modules" / f"test_{name}.py") if p.exists()]
        if taken:
            listed = ", ".join(str(p.relative_to(root)) for p in taken)
            raise CommandError(f"Module '{name}' already exists ({listed}); nothing was written.")
        if name in settings.DATABASES:
            raise CommandError(f"'{name}' is already a database alias; pick another module name.")
