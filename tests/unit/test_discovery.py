"""contracts/kernel/discovery.py: finding modules and contract declarations on disk."""

from pathlib import Path

from contracts.kernel.discovery import discover_modules, import_contract_declarations, import_registrations


def test_discover_modules_lists_packages_sorted(tmp_path: Path) -> None:
    for name in ["orders", "catalog", "_private", "not_a_package", "zeta"]:
        (tmp_path / name).mkdir()
    for package in ["orders", "catalog", "_private", "zeta"]:
        (tmp_path / package / "__init__.py").touch()
    (tmp_path / "loose.py").touch()
    assert discover_modules(tmp_path) == ["catalog", "orders", "zeta"]


def test_the_projects_modules_are_discovered() -> None:
    assert "catalog" in discover_modules(Path(__file__).resolve().parents[2] / "modules")


def test_every_contract_declaration_file_but_the_kernel_is_imported() -> None:
    names = import_contract_declarations()
    assert "contracts.catalog" in names
    assert not any(name.startswith("contracts.kernel") for name in names)
    assert names == sorted(names)


def test_registrations_are_the_implementation_and_handlers_submodules() -> None:
    assert "modules.catalog.implementation" in import_registrations("modules.catalog")
    assert import_registrations("tests.unit.probe") == []  # it has neither
