"""seams.E002 (a model reached by name), E006 (undeclared contract import), E013 (forbidden import).

Each test writes a source file into a throwaway module directory and runs ``source_errors`` on it.
"""

import textwrap
from pathlib import Path

import pytest
from django.core.checks import CheckMessage

from contracts.kernel import Contract, Event, ModuleConfig
from contracts.kernel.checks import source_errors
from tests.unit.manifests import module_config


class Pricing(Contract, module="pricing"):
    def price_of(self, sku: str) -> int: ...


class Shipped(Event):
    publisher = "shipping"
    order_id: int


MODELS = {"catalog": {"product"}, "inventory": {"stock", "reservation"}}
PROJECT = {"app", "modules", "contracts", "extraction"}
HINTS = {
    "seams.E002": "A module's models are private to it",
    "seams.E006": "Add the contract you call to 'consumes'",
    "seams.E013": "Of the project's own packages a module imports only 'contracts'",
}


def check_source(
    tmp_path: Path, source: str, *, filename: str = "services.py", **manifest: object
) -> list[CheckMessage]:
    """Run the source checks of module 'catalog' over one file holding ``source``."""
    root = tmp_path / "modules" / "catalog"
    path = root / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    module: ModuleConfig = module_config("catalog", path=root, **manifest)  # type: ignore[arg-type]
    errors = source_errors(module, [path], MODELS, PROJECT)
    for error in errors:
        expected_hint = "Fix the syntax error" if "cannot be parsed" in error.msg else HINTS[error.id]
        assert error.hint and expected_hint in error.hint, error
        assert error.obj == "catalog"
    return errors


def ids(errors: list[CheckMessage]) -> list[str]:
    return [e.id for e in errors]


# --- E002 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "from django.apps import apps\nStock = apps.get_model('inventory', 'Stock')\n",
        "from django.apps import apps\nStock = apps.get_model('inventory.Stock')\n",
        "from django.apps import apps\nStock = apps.get_model('inventory', 'stock')\n",
        "from django.apps import apps\nStock = apps.get_model(app_label='inventory', model_name='Stock')\n",
        "from django.db import models\nstock = models.ForeignKey('inventory.Stock', on_delete=models.CASCADE)\n",
        "TARGET = 'inventory.Reservation'\n",
    ],
    ids=[
        "get_model-two-args",
        "get_model-dotted",
        "get_model-lowercase",
        "get_model-keywords",
        "string-foreign-key",
        "string-constant",
    ],
)
def test_reaching_another_modules_model_by_name_is_e002(tmp_path: Path, source: str) -> None:
    errors = check_source(tmp_path, source)
    assert ids(errors) and set(ids(errors)) == {"seams.E002"}
    assert "reaches another module's model by name" in errors[0].msg
    assert "services.py:" in errors[0].msg


def test_e002_names_what_and_where(tmp_path: Path) -> None:
    (error,) = check_source(tmp_path, "\n\nStock = apps.get_model('inventory', 'Stock')\n")
    assert error.msg == (
        f"Module 'catalog' reaches another module's model by name: get_model('inventory', 'Stock') at "
        f"{tmp_path}/modules/catalog/services.py:3."
    )


@pytest.mark.parametrize(
    "source",
    [
        "Product = apps.get_model('catalog', 'Product')\n",  # its own model
        "x = 'inventory.Unknown'\n",  # not a model of that module
        "x = 'nomodule.Stock'\n",
        "x = 'see inventory.Stock for details'\n",
        "x = get_model('auth', 'User')\n",  # not a module
    ],
)
def test_own_models_and_unrelated_strings_are_not_e002(tmp_path: Path, source: str) -> None:
    assert check_source(tmp_path, source) == []


def test_unparseable_source_is_reported(tmp_path: Path) -> None:
    """A file that could reach project code but cannot be read is an error, not a pass. (One that names
    no project code, call or model is not parsed here at all: ``lint-imports`` reports the syntax
    error of every file, through grimp.)"""
    (error,) = check_source(tmp_path, "from modules.inventory import models\ndef broken(:\n")
    assert error.id == "seams.E002"
    assert "cannot be parsed" in error.msg


# --- E006 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "from contracts.pricing import Pricing\n",
        "import contracts.pricing\n",
        "from contracts import pricing\n",
        "from contracts.shipping import Shipped\n",
    ],
)
def test_importing_an_undeclared_contract_file_is_e006_once(tmp_path: Path, source: str) -> None:
    (error,) = check_source(tmp_path, source)
    assert error.id == "seams.E006"
    owner = "shipping" if "shipping" in source else "pricing"
    assert error.msg == (
        f"Module 'catalog' imports contracts.{owner} ({tmp_path}/modules/catalog/services.py:1) but does not "
        "declare a dependency on it."
    )
    assert "modules/catalog/apps.py (CatalogConfig)" in error.hint


def test_a_consumed_contract_may_be_imported(tmp_path: Path) -> None:
    assert check_source(tmp_path, "from contracts.pricing import Pricing\n", consumes=[Pricing]) == []


def test_a_handled_events_file_may_be_imported(tmp_path: Path) -> None:
    assert check_source(tmp_path, "from contracts.shipping import Shipped\n", handles=[Shipped]) == []


@pytest.mark.parametrize(
    "source",
    [
        "from contracts.kernel import use, publish\n",
        "from contracts import kernel\n",
        "import contracts\n",
        "from contracts.catalog import ProductDTO\n",  # its own declarations
        "from contracts.nothing_declared_here import X\n",  # not a declaration file
    ],
)
def test_kernel_and_own_contracts_are_not_e006(tmp_path: Path, source: str) -> None:
    assert check_source(tmp_path, source) == []


# --- E013 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("from modules.inventory.models import Stock\n", "modules.inventory"),
        ("import modules.inventory.services\n", "modules.inventory"),
        ("from modules import inventory\n", "modules.inventory"),
        ("from app.settings import DEBUG\n", "app.settings"),
        ("import app\n", "app"),
        ("from extraction import http\n", "extraction.http"),
        ("from ..inventory.models import Stock\n", "modules.inventory"),
        ("from .. import inventory\n", "modules.inventory"),
    ],
)
def test_importing_another_module_or_the_app_is_e013_once(tmp_path: Path, source: str, what: str) -> None:
    (error,) = check_source(tmp_path, source)
    assert error.id == "seams.E013"
    assert error.msg == f"Module 'catalog' imports {what} ({tmp_path}/modules/catalog/services.py:1)."


@pytest.mark.parametrize(
    "source",
    [
        "from modules.catalog.models import Product\n",
        "import modules.catalog.selectors\n",
        "from . import selectors\n",
        "from .models import Product\n",
        "from django.db import models\nimport pydantic\n",
        "import modules\n",
    ],
)
def test_own_code_and_third_party_imports_are_not_e013(tmp_path: Path, source: str) -> None:
    assert check_source(tmp_path, source) == []


def test_relative_imports_resolve_from_the_files_package(tmp_path: Path) -> None:
    """modules/catalog/api/views.py: '..' is modules.catalog (fine), '...' is modules (another module)."""
    assert check_source(tmp_path, "from ..models import Product\n", filename="api/views.py") == []
    assert check_source(tmp_path, "from . import schemas\n", filename="api/__init__.py") == []
    (error,) = check_source(tmp_path, "from ...inventory import models\n", filename="api/views.py")
    assert error.id == "seams.E013"
    assert "imports modules.inventory" in error.msg


def test_relative_imports_beyond_the_top_package_are_left_to_python(tmp_path: Path) -> None:
    assert check_source(tmp_path, "from .... import app\n") == []


def test_every_offence_of_a_file_is_reported_with_its_line(tmp_path: Path) -> None:
    errors = check_source(
        tmp_path,
        """\
        from contracts.kernel import use
        from contracts.pricing import Pricing
        from modules.inventory.models import Stock

        def f():
            return apps.get_model("inventory", "Stock")
        """,
    )
    assert [(e.id, e.msg.rsplit(":", 1)[1]) for e in errors] == [
        ("seams.E006", "2) but does not declare a dependency on it."),
        ("seams.E013", "3)."),
        ("seams.E002", "6."),
    ]


def test_a_file_that_is_not_utf8_is_reported_not_raised(tmp_path: Path) -> None:
    root = tmp_path / "modules" / "catalog"
    root.mkdir(parents=True)
    path = root / "legacy.py"
    path.write_bytes(b"NAME = '\xe9t\xe9'\n")  # Latin-1
    module: ModuleConfig = module_config("catalog", path=root)  # type: ignore[arg-type]
    (error,) = source_errors(module, [path], MODELS, PROJECT)
    assert error.id == "seams.E002"
    assert "cannot be parsed (not UTF-8 text: invalid continuation byte at byte 8)" in error.msg
