"""``contracts.kernel.sourcefacts``: what the source says, read without importing it; and the
``seams`` import-linter contract's static reading of the manifests agrees with the real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.kernel import module_configs
from contracts.kernel.boundaries import allowed_declarations, load_project
from contracts.kernel.sourcefacts import (
    FileFacts,
    file_facts,
    leaving_level,
    owner_of,
    project_packages,
    read_manifest,
    worth_reading,
)
from tests.support.processes import ROOT


def test_every_top_level_package_file_and_namespace_dir_is_the_projects(tmp_path: Path) -> None:
    for name in ("app", "shared"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").touch()
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "helpers.py").touch()  # a namespace package imports all the same
    (tmp_path / "utils.py").touch()
    (tmp_path / "manage.py").touch()
    for not_code in (".venv", "venv", "build", "var", "node_modules", "docs", "my-tool"):
        (tmp_path / not_code).mkdir()
        (tmp_path / not_code / "x.py").touch()
    (tmp_path / "docs").joinpath("x.py").unlink()  # a directory without Python is not a package
    virtualenv = tmp_path / "py311"
    virtualenv.mkdir()
    (virtualenv / "pyvenv.cfg").touch()
    (virtualenv / "x.py").touch()
    assert sorted(project_packages(tmp_path)) == ["app", "loose", "manage", "shared", "utils"]


def test_the_real_project_packages_include_the_four_known_ones() -> None:
    assert {"app", "modules", "contracts", "extraction", "tests"} <= set(project_packages(ROOT))


@pytest.mark.parametrize(
    ("source", "name", "is_package", "expected"),
    [
        ("import a.b\n", "modules.x.f", False, ["a.b"]),
        ("from .models import M\n", "modules.x.f", False, ["modules.x.models"]),
        ("from . import models\n", "modules.x", True, ["modules.x"]),  # the package is what the rules need
        ("from .. import y\n", "modules.x.f", False, ["modules.y"]),
        ("def f():\n    from ..y.models import M\n", "modules.x.f", False, ["modules.y.models"]),
        ("from modules import y, z\n", "modules.x.f", False, ["modules.y", "modules.z"]),
    ],
    ids=["absolute", "relative", "package-relative", "parent", "lazy", "from-package"],
)
def test_imports_are_absolute_with_relative_and_lazy_ones_resolved(source: str, name: str, is_package: bool, expected: list[str]) -> None:
    assert [n for n, _ in file_facts(source, name, is_package=is_package).imports] == expected


def test_uses_publishes_and_subscribes_are_resolved_through_the_imports() -> None:
    source = (
        "from contracts.kernel import publish, subscribe, use\n"
        "from contracts.catalog import Catalog\n"
        "import contracts.orders as orders\n\n"
        "@subscribe(orders.OrderPlaced)\n"
        "def on_placed(event):\n"
        "    use(Catalog).get_product('x')\n"
        "    done = orders.OrderConfirmed(order_id=1)\n"
        "    publish(done)\n"
        "    publish(orders.OrderCancelled(order_id=1))\n"
    )
    facts = file_facts(source, "modules.x.handlers")
    assert [(r.target, r.line) for r in facts.uses] == [("contracts.catalog.Catalog", 7)]
    assert [r.target for r in facts.subscribes] == ["contracts.orders.OrderPlaced"]
    assert sorted(r.target for r in facts.publishes) == ["contracts.orders.OrderCancelled", "contracts.orders.OrderConfirmed"]


def test_a_syntax_error_is_reported_not_raised() -> None:
    assert "line 1" in file_facts("def (:\n", "m").syntax_error


def test_a_manifest_is_read_from_apps_py(tmp_path: Path) -> None:
    apps_py = tmp_path / "apps.py"
    apps_py.write_text(
        "from contracts.kernel import ModuleConfig\nfrom contracts.catalog import Catalog\nfrom contracts import orders\n\n"
        "class ShopConfig(ModuleConfig):\n    name = 'modules.shop'\n    label = 'shop'\n"
        "    consumes = [Catalog, orders.Orders]\n    publishes = (orders.OrderPlaced,)\n    provides = make()\n"
    )
    manifest = read_manifest(apps_py, "modules.shop")
    assert manifest.label == "shop"
    assert manifest.consumes == ["contracts.catalog.Catalog", "contracts.orders.Orders"]
    assert manifest.publishes == ["contracts.orders.OrderPlaced"]
    assert manifest.handles is None
    assert manifest.unreadable == ["provides = make()"]  # reported by the contract, never guessed


def test_owner_of_names_the_declaration_file() -> None:
    assert owner_of("contracts.catalog.Catalog") == "catalog"
    assert owner_of("contracts.kernel.use") is None
    assert owner_of("modules.catalog.models") is None


def dotted(items: object) -> list[str]:
    return sorted(f"contracts.{c.__module__.split('.')[1]}.{c.__name__}" for c in items)


def test_the_static_manifests_agree_with_the_installed_modules() -> None:
    """What lint-imports reads from apps.py is what Django loads: same lists, same allowed declarations."""
    project = load_project(ROOT)
    installed = {m.label: m for m in module_configs() if m.name == f"modules.{m.label}"}
    assert set(project.manifests) == set(installed)
    for label, manifest in project.manifests.items():
        module = installed[label]
        assert sorted(manifest.consumes) == dotted(module.consumes), label
        assert sorted(manifest.provides) == dotted(module.provides), label
        assert sorted(manifest.publishes) == dotted(module.publishes), label
        assert manifest.unreadable == []
        assert allowed_declarations(manifest, project) == module.allowed_contract_modules(), label


# --- the screen: a file it passes over holds nothing any rule reads -------------------------------
PROJECT = frozenset({"app", "modules", "contracts", "extraction", "utils"})


def _relevant(facts: FileFacts, module: str) -> list[object]:
    """What of a file's facts ``manage.py check`` or ``lint-imports`` looks at."""
    own = module + "."
    declarations = f"contracts.{module.split('.')[1]}"
    reached = [
        name for name, _ in facts.imports
        if name.split(".")[0] in PROJECT and name != "modules" and not (name == module or name.startswith(own))
        and not (name == "contracts" or name.startswith("contracts.kernel") or name.split(".")[:2] == declarations.split("."))
    ]
    return [*reached, *facts.uses, *facts.publishes, *facts.subscribes, *facts.model_lookups, *facts.model_strings]


TRICKY = [
    ("from contracts.kernel import use\nx = use (Catalog)\n", "modules.x.f"),  # a space before the bracket
    ("from contracts.kernel import publish\nx = publish\\\n(e)\n", "modules.x.f"),
    ("s = 'inventory' '.Stock'\n", "modules.x.f"),  # implicit concatenation
    ("s = 'inventory.' 'Stock'\n", "modules.x.f"),
    ("s = 'inventory\\x2eStock'\n", "modules.x.f"),  # an escaped dot
    ("s = '''inventory.Stock\n'''\n", "modules.x.f"),
    ("s = f'inventory.Stock'\n", "modules.x.f"),
    ("from . . import y\n", "modules.x.f"),  # dots apart are one relative import
    ("from\\\n.. import y\n", "modules.x.f"),
    ("from ...y import z\n", "modules.x.api.views"),
    ("def f():\n    import utils\n", "modules.x.f"),
    ("from contracts . catalog import Catalog\n", "modules.x.f"),
    ("from contracts import catalog\n", "modules.x.f"),
    ("import ｍodules.y\n", "modules.x.f"),  # Python folds the full-width letter: this is modules.y
]


@pytest.mark.parametrize(("source", "name"), TRICKY)
def test_the_screen_lets_through_every_way_of_writing_a_fact(source: str, name: str) -> None:
    leaving = leaving_level(name, False, "modules.x")
    assert _relevant(file_facts(source, name), "modules.x"), "the case itself must hold a fact"
    assert worth_reading(source, project=PROJECT, leaving=leaving)


@pytest.mark.parametrize(
    "source",
    [
        "from django.db import models\n\n\nclass Item(models.Model):\n    key = models.CharField(max_length=9)\n",
        "from .models import Item\nfrom . import selectors\n",
        '"""Module orders: it uses nothing."""\nMAX = 3\n',
        "from contracts.kernel import implements, atomic\n",
        "from contracts.x import X, XNotFound\n\n\nclass XImplementation(X): ...\n",  # its own declarations
    ],
)
def test_the_screen_skips_files_that_reach_nothing(source: str) -> None:
    assert not _relevant(file_facts(source, "modules.x.f"), "modules.x")
    assert not worth_reading(source, project=PROJECT, leaving=2, own="x")


def test_another_modules_declarations_are_read_even_beside_the_own() -> None:
    source = "from contracts.x import X\nfrom contracts.y import Y\n"
    assert worth_reading(source, project=PROJECT, leaving=2, own="x")
    assert worth_reading("from contracts.x import X\n", project=PROJECT, leaving=2, own="y")


def _module_files() -> list[tuple[Path, str, bool]]:
    found = []
    for path in sorted((ROOT / "modules").rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("").parts
        is_package = relative[-1] == "__init__"
        found.append((path, ".".join(relative[:-1] if is_package else relative), is_package))
    return found


def test_no_file_of_the_project_or_the_synthetic_bench_that_holds_a_fact_is_skipped(tmp_path: Path) -> None:
    """The screen's one promise, over every module file of the shop and of a bench project."""
    from bench.synthetic import write_project

    write_project(tmp_path / "synthetic", 6)
    files = _module_files()
    for path in sorted((tmp_path / "synthetic" / "modules").rglob("*.py")):
        relative = path.relative_to(tmp_path / "synthetic").with_suffix("").parts
        is_package = relative[-1] == "__init__"
        files.append((path, ".".join(relative[:-1] if is_package else relative), is_package))
    skipped = 0
    for path, name, is_package in files:
        if name.count(".") < 1:
            continue  # modules/__init__.py: no module's file
        source = path.read_text(encoding="utf-8")
        module = ".".join(name.split(".")[:2])
        own = module.split(".")[1]
        if not worth_reading(source, project=PROJECT, leaving=leaving_level(name, is_package, module), own=own):
            skipped += 1
            assert not _relevant(file_facts(source, name, is_package=is_package), module), path
    assert skipped > len(files) / 3, "the screen should spare most models, selectors and domain files"
