"""seams.E014 (a cycle of contract calls), E015 (``use()`` of a contract not consumed) and E016
(``publish()`` of an event not in ``publishes``), found from the manifests and the source before
anything runs.

The contracts and events below live in this test file, so the source written into a throwaway
module imports them from here (``_object_at`` imports what a name points at).
"""

import textwrap
from pathlib import Path

import pytest
from django.core.checks import CheckMessage

from contracts.kernel import Contract, Event
from contracts.kernel.checks import cycle_errors, source_errors
from tests.unit.manifests import module_config

HERE = __name__


class Quotes(Contract, module="quoting"):
    def price_of(self, sku: str) -> int: ...


class Shelves(Contract, module="catalog"):
    def shelf_of(self, sku: str) -> str: ...


class ProductRetired(Event):
    publisher = "catalog"
    sku: str


class Shipped(Event):
    publisher = "shipping"
    order_id: int


PROJECT = {"app", "modules", "contracts", "extraction", "tests"}


def check_source(tmp_path: Path, source: str, **manifest: object) -> list[CheckMessage]:
    root = tmp_path / "modules" / "catalog"
    root.mkdir(parents=True, exist_ok=True)
    path = root / "services.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    module = module_config("catalog", path=root, **manifest)  # type: ignore[arg-type]
    # The fixtures import this test file; that import is not what these tests are about.
    return [e for e in source_errors(module, [path], {}, PROJECT) if e.id != "seams.E013"]


# --- E015 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        f"from contracts.kernel import use\nfrom {HERE} import Quotes\n\ndef f():\n    return use(Quotes).price_of('x')\n",
        f"from contracts.kernel import use\nimport {HERE} as t\n\ndef f():\n    return use(t.Quotes)\n",
        f"from contracts.kernel import use as u, publish\nfrom contracts.kernel import use\nfrom {HERE} import Quotes as P\n\ndef f():\n    return use(P)\n",
    ],
    ids=["by-name", "by-attribute", "aliased"],
)
def test_use_of_a_contract_not_consumed_is_e015(tmp_path: Path, source: str) -> None:
    (error,) = check_source(tmp_path, source)
    assert error.id == "seams.E015"
    assert error.msg.startswith("Module 'catalog' calls use(")
    assert "services.py:" in error.msg and "does not consume quoting.Quotes" in error.msg
    assert "Add Quotes (from contracts.quoting) to 'consumes' in modules/catalog/apps.py (CatalogConfig)" in error.hint


def test_use_of_a_consumed_or_own_contract_is_fine(tmp_path: Path) -> None:
    source = f"from contracts.kernel import use\nfrom {HERE} import Quotes, Shelves\n\ndef f():\n    use(Quotes)\n    use(Shelves)\n"
    assert check_source(tmp_path, source, consumes=[Quotes]) == []


def test_a_use_that_is_not_the_kernels_is_not_read(tmp_path: Path) -> None:
    source = f"from {HERE} import Quotes\n\ndef use(x):\n    return x\n\nuse(Quotes)\n"
    assert check_source(tmp_path, source) == []


# --- E016 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        f"from contracts.kernel import publish\nfrom {HERE} import ProductRetired\n\ndef f():\n    publish(ProductRetired(sku='x'))\n",
        f"from contracts.kernel import publish\nfrom {HERE} import ProductRetired\n\ndef f():\n    event = ProductRetired(sku='x')\n    publish(event)\n",
    ],
    ids=["constructed-in-the-call", "assigned-first"],
)
def test_publish_of_an_event_missing_from_publishes_is_e016(tmp_path: Path, source: str) -> None:
    (error,) = check_source(tmp_path, source)
    assert error.id == "seams.E016"
    assert error.msg.startswith("Module 'catalog' publishes catalog.ProductRetired (")
    assert "Add ProductRetired to 'publishes' in modules/catalog/apps.py (CatalogConfig)" in error.hint


def test_publish_of_another_modules_event_says_whose_it_is(tmp_path: Path) -> None:
    source = f"from contracts.kernel import publish\nfrom {HERE} import Shipped\n\ndef f():\n    publish(Shipped(order_id=1))\n"
    (error,) = check_source(tmp_path, source)
    assert error.id == "seams.E016" and "declared for module 'shipping'" in error.hint


def test_publish_of_a_listed_event_is_fine(tmp_path: Path) -> None:
    source = f"from contracts.kernel import publish\nfrom {HERE} import ProductRetired\n\ndef f():\n    publish(ProductRetired(sku='x'))\n"
    assert check_source(tmp_path, source, publishes=[ProductRetired]) == []


# --- E014 ------------------------------------------------------------------------------------------
# Labels that are not the shop's: a contract declared here is registered like any other, and must
# not replace the shop's own catalog.Catalog for the tests that run after these.
class Orders(Contract, module="sales"):
    def total(self, order_id: int) -> int: ...


class Catalog(Contract, module="listing"):
    def name_of(self, sku: str) -> str: ...


class Stock(Contract, module="storage"):
    def on_hand(self, sku: str) -> int: ...


def test_two_modules_consuming_each_other_are_a_cycle_spelled_out() -> None:
    modules = [module_config("sales", consumes=[Catalog]), module_config("listing", consumes=[Orders])]
    (error,) = cycle_errors(modules)
    assert error.id == "seams.E014"
    assert error.msg == "Modules call each other's contracts in a cycle: listing -> sales -> listing."
    assert "@subscribe" in error.hint and "distributed deadlock" in error.hint


def test_a_cycle_through_a_third_module_is_reported_once() -> None:
    modules = [
        module_config("sales", consumes=[Catalog]),
        module_config("listing", consumes=[Stock]),
        module_config("storage", consumes=[Orders]),
    ]
    (error,) = cycle_errors(modules)
    assert "listing -> storage -> sales -> listing" in error.msg


def test_calls_one_way_and_consuming_ones_own_contract_are_no_cycle() -> None:
    modules = [module_config("sales", consumes=[Catalog, Orders]), module_config("listing"), module_config("storage", consumes=[Catalog])]
    assert cycle_errors(modules) == []


def test_the_shop_has_no_call_cycle() -> None:
    from contracts.kernel import module_configs

    assert cycle_errors(module_configs()) == []


class SaleMade(Event):
    publisher = "sales"
    order_id: int


def test_events_flowing_back_against_calls_are_no_cycle() -> None:
    """sales calls listing; listing reacts to sales' events: the normal way to avoid a call cycle."""
    modules = [module_config("sales", consumes=[Catalog]), module_config("listing", handles=[SaleMade])]
    assert cycle_errors(modules) == []


def test_the_allowed_declarations_worked_out_at_once_are_each_modules_own() -> None:
    """boundary_errors groups the subscribers once; the answer is what each module says of itself."""
    from contracts.kernel import module_configs
    from contracts.kernel.checks import allowed_contract_modules
    from contracts.kernel.registry import get_registry

    modules = module_configs()
    assert allowed_contract_modules(modules, get_registry()) == {m.label: m.allowed_contract_modules() for m in modules}
