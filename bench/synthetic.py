"""A synthetic Seams project of N modules (22 files each: about 2,200 for 100), for the boundary bench.

``write_project(root, modules=100)`` writes, under ``root``:

* ``contracts/kernel/``: a copy of this project's kernel (the ``seams`` import-linter contract lives
  there), ``contracts/m007.py`` per module (a contract, a DTO, an event);
* ``modules/m007/``: a manifest, models, services, selectors, implementation, handlers, an API
  router, errors, constants, migrations, a ``domain/`` and an ``adapters/`` package and the
  module's tests: 21 files that import each other the way a real module does;
* ``app/settings.py`` and ``manage.py``: just enough Django for ``manage.py check`` (every module
  installed, a SQLite file per module that is never opened), so the source checks can be timed;
* ``importlinter.ini`` (the one ``manage.py modules lint-config`` writes), ``tach.toml`` declaring
  the same per-module dependencies for ``tach check``, and ``legacy.ini``: the per-module
  configuration Seams generated before the ``seams`` contract type (one independence contract and
  one ``forbidden`` contract per module, root packages fixed), to show what changed.

Module *i* consumes the contracts of modules *i-1* and *i-3* (calls only go down, so there is no
call cycle), handles the event of module *i+1* (events may go up), and publishes its own event, so
each module imports 3-4 declaration files. Writing the project imports nothing of Django.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES_PER_MODULE = 22  # 21 under modules/<m>/ and contracts/<m>.py


def label(index: int) -> str:
    return f"m{index:03d}"


def camel(index: int) -> str:
    return f"M{index:03d}"


def consumed(index: int) -> list[int]:
    return [j for j in (index - 1, index - 3) if j >= 0]


def handled(index: int, count: int) -> list[int]:
    return [index + 1] if index + 1 < count else []


def _contract(index: int) -> str:
    name = camel(index)
    return f'''"""Module {label(index)}'s published language."""

from contracts.kernel import Contract, Event, NotFound, Schema, query


class {name}Item(Schema):
    key: str
    amount: int


class {name}ItemNotFound(NotFound):
    code = "{label(index)}.ItemNotFound"


class {name}Changed(Event):
    publisher = "{label(index)}"
    key: str


class {name}(Contract):
    @query
    def get_item(self, key: str) -> {name}Item: ...

    def change(self, key: str, amount: int) -> {name}Item: ...
'''


def _module_files(index: int, count: int) -> dict[str, str]:
    me, Me = label(index), camel(index)
    uses = consumed(index)
    handles = handled(index, count)
    contract_imports = "".join(f"from contracts.{label(j)} import {camel(j)}\n" for j in uses)
    event_imports = "".join(f"from contracts.{label(j)} import {camel(j)}Changed\n" for j in handles)
    calls = "".join(f"    use({camel(j)}).get_item(key)\n" for j in uses) or "    pass\n"
    handlers = "".join(
        f"\n\n@subscribe({camel(j)}Changed)\ndef on_{label(j)}_changed(event: {camel(j)}Changed) -> None:\n"
        f"    services.item_touch(key=event.key)\n"
        for j in handles
    )
    consumes = ", ".join(camel(j) for j in uses)
    return {
        "__init__.py": f'"""Module {me}."""\n',
        "apps.py": (
            f"{contract_imports}from contracts.kernel import ModuleConfig\nfrom contracts.{me} import {Me}, {Me}Changed\n\n\n"
            f"class {Me}Config(ModuleConfig):\n    name = \"modules.{me}\"\n    label = \"{me}\"\n"
            f"    provides = [{Me}]\n    consumes = [{consumes}]\n    publishes = [{Me}Changed]\n"
        ),
        "models.py": "from django.db import models\n\n\nclass Item(models.Model):\n    key = models.CharField(max_length=64, unique=True)\n    amount = models.IntegerField(default=0)\n",
        "constants.py": "MAX_AMOUNT = 1_000_000\n",
        "errors.py": "class ItemRefused(Exception):\n    pass\n",
        "selectors.py": "from .models import Item\n\n\ndef item_get(*, key: str) -> Item | None:\n    return Item.objects.filter(key=key).first()\n",
        "services.py": (
            f"from contracts.kernel import atomic, publish, use\n{contract_imports}from contracts.{me} import {Me}Changed\n\n"
            "from . import selectors\nfrom .constants import MAX_AMOUNT\nfrom .domain.rules import check_amount\nfrom .errors import ItemRefused\n"
            "from .models import Item\n\n\n"
            "def item_change(*, key: str, amount: int) -> Item:\n"
            "    if not check_amount(amount, MAX_AMOUNT):\n        raise ItemRefused(key)\n"
            f"{calls}"
            "    with atomic():\n        item, _ = Item.objects.update_or_create(key=key, defaults={'amount': amount})\n"
            f"        publish({Me}Changed(key=key))\n    return item\n\n\n"
            "def item_touch(*, key: str) -> None:\n    selectors.item_get(key=key)\n"
        ),
        "implementation.py": (
            f"from contracts.kernel import implements\nfrom contracts.{me} import {Me}, {Me}Item, {Me}ItemNotFound\n\n"
            "from . import selectors, services\nfrom .adapters.serializers import to_item\n\n\n"
            f"@implements({Me})\nclass {Me}Implementation({Me}):\n"
            f"    def get_item(self, key: str) -> {Me}Item:\n        item = selectors.item_get(key=key)\n"
            f"        if item is None:\n            raise {Me}ItemNotFound(key)\n        return to_item(item)\n\n"
            f"    def change(self, key: str, amount: int) -> {Me}Item:\n        return to_item(services.item_change(key=key, amount=amount))\n"
        ),
        "handlers.py": f"from contracts.kernel import subscribe\n{event_imports}\nfrom . import services\n{handlers}",
        "api.py": (
            f"from ninja import Router\n\nfrom contracts.kernel import use\nfrom contracts.{me} import {Me}, {Me}Item\n\n"
            f"router = Router(tags=[\"{me}\"])\n\n\n@router.get(\"/{{key}}\", response={Me}Item)\n"
            f"def get_item(request, key: str) -> {Me}Item:\n    return use({Me}).get_item(key)\n"
        ),
        "migrations/__init__.py": "",
        "migrations/0001_initial.py": "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    initial = True\n    dependencies = []\n    operations = []\n",
        "domain/__init__.py": "",
        "domain/rules.py": "from .policies import ceiling\nfrom .values import Amount\n\n\ndef check_amount(amount: int, maximum: int) -> bool:\n    return 0 <= Amount(amount).value <= ceiling(maximum)\n",
        "domain/values.py": "from dataclasses import dataclass\n\n\n@dataclass(frozen=True)\nclass Amount:\n    value: int\n",
        "domain/policies.py": "def ceiling(maximum: int) -> int:\n    return maximum\n",
        "adapters/__init__.py": "",
        "adapters/repository.py": "from ..models import Item\n\n\ndef save(item: Item) -> None:\n    item.save()\n",
        "adapters/serializers.py": f"from contracts.{me} import {Me}Item\n\nfrom ..models import Item\n\n\ndef to_item(item: Item) -> {Me}Item:\n    return {Me}Item(key=item.key, amount=item.amount)\n",
        "tests/__init__.py": "",
        "tests/test_services.py": "from ..domain.rules import check_amount\n\n\ndef test_negative_amounts_are_refused() -> None:\n    assert not check_amount(-1, 10)\n",
    }


def _tach_toml(count: int) -> str:
    """``tach check`` with the same per-module dependencies as the manifests allow."""
    lines = [
        'source_roots = ["."]',
        'exclude = ["**/tests", "**/migrations"]',
        "",
        "[[modules]]",
        'path = "contracts.kernel"',
        "depends_on = []",
        "utility = true",
    ]
    for index in range(count):
        me = label(index)
        lines += ["", "[[modules]]", f'path = "contracts.{me}"', 'depends_on = ["contracts.kernel"]']
    for index in range(count):
        me = label(index)
        allowed = ["contracts.kernel", f"contracts.{me}", *(f"contracts.{label(j)}" for j in consumed(index) + handled(index, count))]
        lines += ["", "[[modules]]", f'path = "modules.{me}"', "depends_on = [" + ", ".join(f'"{a}"' for a in allowed) + "]"]
    return "\n".join(lines) + "\n"


def _legacy_ini(count: int) -> str:
    """What ``modules lint-config`` generated before the seams contract type (for comparison only)."""
    labels = [label(i) for i in range(count)]
    parts = [
        "[importlinter]\nroot_packages =\n    modules\n    contracts\n",
        "[importlinter:contract:modules-independent]\nname = Modules are independent\ntype = independence\nmodules ="
        + "".join(f"\n    modules.{m}" for m in labels)
        + "\n",
        "[importlinter:contract:contracts-import-no-implementation]\nname = contracts import no module\ntype = forbidden\n"
        "source_modules =\n    contracts\nforbidden_modules =\n    modules\n",
        "[importlinter:contract:kernel-at-the-bottom]\nname = kernel at the bottom\ntype = forbidden\nsource_modules =\n"
        "    contracts.kernel\nforbidden_modules =" + "".join(f"\n    contracts.{m}" for m in labels) + "\n    modules\n",
    ]
    for index, me in enumerate(labels):
        allowed = {me, *(label(j) for j in consumed(index) + handled(index, count))}
        forbidden = [m for m in labels if m not in allowed]
        parts.append(
            f"[importlinter:contract:{me}-declared-contracts]\nname = {me} may import only what it declares\ntype = forbidden\n"
            f"source_modules =\n    modules.{me}\nforbidden_modules =" + "".join(f"\n    contracts.{m}" for m in forbidden)
            + "\nallow_indirect_imports = true\n"
        )
    return "\n".join(parts)


SETTINGS = '''"""Just enough Django to run ``manage.py check`` over the synthetic modules."""

from pathlib import Path

from contracts.kernel.databases import module_databases
from contracts.kernel.discovery import discover_modules

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "synthetic-bench-project"
SEAMS_MODULES = discover_modules(BASE_DIR / "modules")
INSTALLED_APPS = ["contracts.kernel", *[f"modules.{label}" for label in SEAMS_MODULES]]
DATABASES = module_databases(SEAMS_MODULES, database_url=None, sqlite_dir=BASE_DIR / "var")
DATABASE_ROUTERS = ["contracts.kernel.router.ModuleRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
'''


def write_project(root: Path, modules: int = 100) -> int:
    """Write the project under ``root`` (which must not exist); returns the number of module files."""
    from contracts.kernel.lintconfig import render_lint_config

    root.mkdir(parents=True)
    shutil.copytree(ROOT / "contracts" / "kernel", root / "contracts" / "kernel", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "contracts" / "__init__.py").write_text('"""Published language."""\n')
    (root / "modules").mkdir()
    (root / "modules" / "__init__.py").write_text('"""Modules."""\n')
    written = 0
    for index in range(modules):
        (root / "contracts" / f"{label(index)}.py").write_text(_contract(index))
        written += 1
        for relative, text in _module_files(index, modules).items():
            path = root / "modules" / label(index) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written += 1
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "settings.py").write_text(SETTINGS)
    shutil.copy(ROOT / "manage.py", root / "manage.py")
    (root / "importlinter.ini").write_text(render_lint_config())
    (root / "legacy.ini").write_text(_legacy_ini(modules))
    (root / "tach.toml").write_text(_tach_toml(modules))
    return written
