"""``render_lint_config``: the import-linter configuration generated from module manifests."""

from __future__ import annotations

import types
from pathlib import Path

from importlinter.api import read_configuration

from contracts.kernel import ModuleConfig
from contracts.kernel.lintconfig import COMMAND, ROOT_PACKAGES, declaration_labels, render_lint_config


# Stand-ins for declared contracts and events: only the attributes the manifest logic reads.
class Pricing:
    __seams_module__ = "beta"
    __seams_name__ = "beta.Pricing"


class ShipmentSent:
    publisher = "gamma"
    event_type = "gamma.ShipmentSent"


def module(label: str, *, consumes: list[type] = (), handles: list[type] = ()) -> ModuleConfig:
    """A real ModuleConfig (so ``allowed_contract_modules`` is the real rule) for an app that is not installed."""
    config_class = type(
        f"{label.title()}Config",
        (ModuleConfig,),
        {
            "name": f"modules.{label}",
            "label": label,
            "path": f"/nowhere/{label}",
            "consumes": list(consumes),
            "handles": list(handles),
            "handled_events": lambda self: list(self.handles),
        },
    )
    return config_class(f"modules.{label}", types.ModuleType(f"modules.{label}"))


def project() -> tuple[list[ModuleConfig], list[str]]:
    modules = [
        module("alpha", consumes=[Pricing]),
        module("beta", handles=[ShipmentSent]),
        module("gamma"),
    ]
    return modules, ["alpha", "beta", "gamma", "delta"]


def contracts_of(text: str, tmp_path: Path) -> dict[str, dict]:
    """The contracts as import-linter itself reads the file, by name prefix (the label before ' ')."""
    path = tmp_path / "importlinter.ini"
    path.write_text(text)
    config = read_configuration(str(path))
    return {c["name"]: c for c in config["contracts_options"]}


def find(contracts: dict[str, dict], starts: str) -> dict:
    matches = [c for name, c in contracts.items() if name.startswith(starts)]
    assert len(matches) == 1, f"expected one contract named '{starts}...', got {list(contracts)}"
    return matches[0]


def test_import_linter_reads_the_root_packages_as_a_list(tmp_path: Path) -> None:
    path = tmp_path / "importlinter.ini"
    path.write_text(render_lint_config(*project()))
    assert read_configuration(str(path))["session_options"]["root_packages"] == list(ROOT_PACKAGES)


def test_each_module_is_forbidden_the_declarations_it_does_not_consume_or_handle(tmp_path: Path) -> None:
    contracts = contracts_of(render_lint_config(*project()), tmp_path)
    alpha = find(contracts, "alpha may import only")
    assert alpha["type"] == "forbidden"
    assert alpha["source_modules"] == ["modules.alpha"]
    assert alpha["forbidden_modules"] == ["contracts.delta", "contracts.gamma"]  # its own and beta (consumed) allowed
    assert find(contracts, "beta may import only")["forbidden_modules"] == ["contracts.alpha", "contracts.delta"]
    assert find(contracts, "gamma may import only")["forbidden_modules"] == [
        "contracts.alpha",
        "contracts.beta",
        "contracts.delta",
    ]


def test_the_contract_names_say_how_to_fix_a_break(tmp_path: Path) -> None:
    contracts = contracts_of(render_lint_config(*project()), tmp_path)
    name = next(n for n in contracts if n.startswith("alpha may import only"))
    assert "modules/alpha/apps.py" in name and "consumes" in name and COMMAND in name


def test_modules_are_independent_and_kept_away_from_app_and_extraction(tmp_path: Path) -> None:
    contracts = contracts_of(render_lint_config(*project()), tmp_path)
    independence = [c for c in contracts.values() if c["type"] == "independence"]
    assert [c["modules"] for c in independence] == [["modules.alpha", "modules.beta", "modules.gamma"]]
    no_app = find(contracts, "Modules must not import app")
    assert (no_app["type"], no_app["source_modules"], sorted(no_app["forbidden_modules"])) == (
        "forbidden",
        ["modules"],
        ["app", "extraction"],
    )


def test_declarations_import_no_module_and_the_kernel_no_declaration(tmp_path: Path) -> None:
    contracts = contracts_of(render_lint_config(*project()), tmp_path)
    declarations = find(contracts, "contracts must not import")
    assert declarations["source_modules"] == ["contracts"]
    assert sorted(declarations["forbidden_modules"]) == ["app", "extraction", "modules"]
    kernel = find(contracts, "contracts.kernel must not import")
    assert kernel["source_modules"] == ["contracts.kernel"]
    assert sorted(kernel["forbidden_modules"]) == [
        "app",
        "contracts.alpha",
        "contracts.beta",
        "contracts.delta",
        "contracts.gamma",
        "extraction",
        "modules",
    ]


def test_the_header_says_the_file_is_generated_and_by_what() -> None:
    header = render_lint_config(*project()).split("[importlinter]")[0]
    assert all(line.startswith("#") for line in header.strip().splitlines())
    assert "GENERATED" in header and COMMAND in header


def test_the_output_does_not_depend_on_the_order_of_its_inputs() -> None:
    modules, declarations = project()
    assert render_lint_config(modules, declarations) == render_lint_config(modules[::-1], declarations[::-1])


def test_a_module_allowed_every_declaration_gets_no_empty_contract(tmp_path: Path) -> None:
    modules = [module("alpha", consumes=[Pricing]), module("beta")]
    text = render_lint_config(modules, ["alpha", "beta"])
    contracts = contracts_of(text, tmp_path)
    assert not [n for n in contracts if n.startswith("alpha may import only")]
    assert find(contracts, "beta may import only")["forbidden_modules"] == ["contracts.alpha"]
    assert "# alpha may import every" in text


def test_a_single_module_has_no_independence_contract(tmp_path: Path) -> None:
    contracts = contracts_of(render_lint_config([module("alpha")], ["alpha"]), tmp_path)
    assert not [c for c in contracts.values() if c["type"] == "independence"]


def test_declaration_labels_are_the_contract_files_without_the_kernel() -> None:
    labels = declaration_labels()
    assert "kernel" not in labels and labels == sorted(labels)
    on_disk = {
        p.stem for p in (Path(__file__).resolve().parents[2] / "contracts").glob("*.py") if not p.stem.startswith("_")
    }
    assert set(labels) == on_disk
