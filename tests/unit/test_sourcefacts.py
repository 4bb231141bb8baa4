"""``contracts.kernel.sourcefacts``: what the source says, read without importing it; and the
``seams`` import-linter contract's static reading of the manifests agrees with the real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.kernel import module_configs
from contracts.kernel.boundaries import allowed_declarations, load_project
from contracts.kernel.sourcefacts import file_facts, owner_of, project_packages, read_manifest
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
