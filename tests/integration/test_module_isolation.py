"""Module-isolated tests (``@pytest.mark.seams_module``): the orders module tested alone, then with
its direct dependency (catalog), and what happens when a test reaches further than it asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import TransactionTestCase

from contracts.catalog import Catalog, ProductDTO, ProductNotFound
from contracts.inventory import Inventory
from contracts.kernel import UnknownName, use
from contracts.kernel.errors import ConfigurationError
from contracts.kernel.isolation import ModuleIsolationError, Unreachable, isolate_module, module_scope
from contracts.kernel.models import NO_SUBSCRIBER, Publication, PublicationStatus
from contracts.kernel.testing import PublishedEvents
from contracts.orders import OrderPlaced
from modules.catalog.models import Product
from modules.inventory.models import StockItem
from modules.orders import services as orders


class FakeCatalog(Catalog):
    """Prices every SKU at 250 cents, except ``GONE``."""

    def get_product(self, sku: str) -> ProductDTO:
        return self.get_products([sku])[0]

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        if "GONE" in skus:
            raise ProductNotFound("No product has SKU 'GONE'.", sku="GONE")
        return [ProductDTO(sku=sku, name=sku, price_cents=250) for sku in skus]


@pytest.mark.seams_module("orders")
def test_standalone_a_consumed_contract_must_be_faked_and_the_error_says_how() -> None:
    with pytest.raises(ModuleIsolationError) as caught:
        orders.order_place(customer_email="ada@example.com", lines=[("KB-101", 1)])
    message = str(caught.value)
    assert "standalone test of module 'orders' called catalog.Catalog.get_products" in message
    assert "fake_contract(Catalog, FakeCatalog())" in message and "mode='direct'" in message


@pytest.mark.seams_module("orders")
def test_standalone_with_a_fake_the_module_works_and_its_events_are_recorded(
    fake_contract: Callable[[Any, Any], Any], published_events: PublishedEvents
) -> None:
    fake_contract(Catalog, FakeCatalog())
    order = orders.order_place(customer_email="ada@example.com", lines=[("KB-101", 2)])
    assert (order.status, order.total_cents) == ("pending", 500)
    published_events.assert_one(OrderPlaced, order_id=order.id, total_cents=500)


@pytest.mark.seams_module("orders")
def test_standalone_another_modules_database_is_out_of_reach() -> None:
    with pytest.raises(AssertionError, match="Database queries to 'inventory' are not allowed"):
        StockItem.objects.count()


@pytest.mark.seams_module("orders")
def test_standalone_a_contract_the_module_does_not_consume_is_refused_without_the_direct_hint() -> None:
    with pytest.raises(ModuleIsolationError) as caught:
        use(Inventory, consumer="tests").get_stock("KB-101")
    assert "inventory.Inventory.get_stock" in str(caught.value) and "mode='direct'" not in str(caught.value)


@pytest.mark.seams_module("orders", mode="direct")
def test_direct_the_real_catalog_prices_the_order_and_inventory_stays_out_of_reach() -> None:
    Product.objects.create(sku="KB-101", name="Keyboard", price_cents=4900)
    order = orders.order_place(customer_email="ada@example.com", lines=[("KB-101", 1)])
    assert order.total_cents == 4900
    with pytest.raises(ModuleIsolationError, match="inventory.Inventory"):
        use(Inventory, consumer="tests").get_stock("KB-101")


def test_scopes_name_their_modules_and_databases() -> None:
    assert module_scope("orders").modules == {"orders"}
    assert module_scope("orders", "direct").modules == {"orders", "catalog"}
    assert module_scope("orders", "direct").databases == ["catalog", "default", "orders"]
    with pytest.raises(UnknownName, match="No module is labelled 'order'"):
        module_scope("order")
    with pytest.raises(ConfigurationError, match="Unknown module test mode"):
        module_scope("orders", "all")


def test_only_the_modules_own_handlers_stay_subscribed_and_everything_comes_back() -> None:
    from contracts.kernel.registry import get_registry

    before = {s.name for s in get_registry().subscribers_for("orders.OrderPlaced")}
    with isolate_module("inventory"):
        inside = {s.module for s in get_registry().subscribers_for("orders.OrderPlaced")}
        assert isinstance(use(Catalog, consumer="tests"), Unreachable)
    assert isinstance(use(Catalog, consumer="tests"), Catalog)  # the real one again
    assert inside == {"inventory"}
    assert {s.name for s in get_registry().subscribers_for("orders.OrderPlaced")} == before


def test_isolation_narrows_the_subscribers_an_earlier_publish_worked_out() -> None:
    """The outbox caches who subscribes to an event type per registry; isolate_module swaps the
    registry's subscriber table, and the cache must follow (in a full PostgreSQL run an earlier
    test's publish of OrderPlaced made the isolated orders test write inventory's publication)."""
    from contracts.kernel.outbox.backend import _targets

    assert "inventory" in {module for _, module in _targets(OrderPlaced.event_type).rows}
    with isolate_module("orders"):
        assert {module for _, module in _targets(OrderPlaced.event_type).rows} <= {"orders"}
    assert "inventory" in {module for _, module in _targets(OrderPlaced.event_type).rows}


class IsolationInTransactionalTests(TransactionTestCase):
    """The marker also works where commits happen: other modules' handlers do not run at all."""

    databases = {"orders", "default"}

    def test_after_commit_only_in_scope_handlers_run(self) -> None:
        with isolate_module("orders"):
            from contracts.kernel.testing import override_contract

            with override_contract(Catalog, FakeCatalog()):
                order = orders.order_place(customer_email="ada@example.com", lines=[("KB-101", 1)])
        # Committed, and no publication for inventory's (or the probe's) OrderPlaced handler: only the
        # orders module's own handlers were subscribed, and it has none for OrderPlaced.
        # The event is stored all the same: one row with no subscriber records it.
        rows = Publication.objects.using("orders").filter(event_type="orders.OrderPlaced", payload__order_id=order.id)
        assert list(rows.values_list("subscriber", "status")) == [(NO_SUBSCRIBER, PublicationStatus.COMPLETED)]
