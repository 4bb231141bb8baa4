"""Bad input is never a 500: each case answers with the status the contract error kind maps to,
and a body that says what was wrong. Plus the demo-data command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from modules.catalog.models import Product
from modules.inventory.models import StockItem
from tests.support.tokens import customer, staff

from .shop import JSON, add_product, place_order, stock_of

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def client() -> Client:
    c = Client()
    add_product(c, "KB-101", 4999, stock=5)
    return c


def locs(response: object) -> list[list[object]]:
    return [error["loc"] for error in response.json()["detail"]]  # type: ignore[attr-defined]


def test_an_unknown_sku_is_422_naming_the_line(client: Client) -> None:
    r = place_order(client, "ada@example.com", ("KB-101", 1), ("NOPE", 1))

    assert r.status_code == 422, r.content
    assert locs(r) == [["body", "payload", "lines", 1, "sku"]]
    assert "NOPE" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_quantity_below_one_is_422(client: Client, quantity: int) -> None:
    r = place_order(client, "ada@example.com", ("KB-101", quantity))

    assert r.status_code == 422, r.content
    assert locs(r) == [["body", "payload", "lines", 0, "quantity"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({}, "lines"),
        # The customer is the token's: an email in the body is refused, not silently used or ignored.
        ({"customer_email": "eve@example.com", "lines": [{"sku": "KB-101", "quantity": 1}]}, "customer_email"),
    ],
)
def test_an_order_without_lines_or_with_a_customer_email_is_422(
    client: Client, body: dict[str, object], field: str
) -> None:
    r = client.post("/api/orders/", body, content_type=JSON, headers=customer())

    assert r.status_code == 422, r.content
    assert ["body", "payload", field] in locs(r)


def test_malformed_json_is_a_client_error_with_a_message(client: Client) -> None:
    r = client.post("/api/orders/", "{oops", content_type=JSON, headers=customer())

    assert r.status_code in (400, 422)
    assert r.json()["detail"]


def test_an_unknown_order_is_404(client: Client) -> None:
    r = client.get("/api/orders/999999", headers=customer())

    assert r.status_code == 404
    assert r.json()["code"] == "orders.OrderNotFound"


def test_a_duplicate_product_sku_is_409(client: Client) -> None:
    r = client.post("/api/catalog/products/", {"sku": "KB-101", "name": "Again", "price_cents": 1}, content_type=JSON, headers=staff())

    assert r.status_code == 409, r.content
    assert r.json()["code"] == "catalog.ProductAlreadyExists"  # the contract's name, not modules.catalog.services...


def test_notifications_are_those_of_the_token_whatever_the_query_says(client: Client) -> None:
    assert place_order(client, "ada@example.com", ("KB-101", 1)).status_code == 201

    r = client.get("/api/notifications/", {"recipient": "ada@example.com"}, headers=customer("bob@example.com"))

    assert r.status_code == 200
    assert r.json() == []


def test_stock_is_set_only_for_catalog_products(client: Client) -> None:
    r = client.put("/api/inventory/stock/NOPE", {"quantity": 1}, content_type=JSON, headers=staff())

    assert r.status_code == 404, r.content
    assert r.json()["code"] == "catalog.ProductNotFound"
    assert not StockItem.objects.filter(sku="NOPE").exists()


def test_negative_stock_is_422(client: Client) -> None:
    r = client.put("/api/inventory/stock/KB-101", {"quantity": -1}, content_type=JSON, headers=staff())

    assert r.status_code == 422, r.content
    assert locs(r) == [["body", "payload", "quantity"]]
    assert stock_of(client, "KB-101") == (5, 0, 5)


def test_stock_with_no_record_is_404(client: Client) -> None:
    add_product(client, "NEW-1", 100)

    assert client.get("/api/inventory/stock/NEW-1").status_code == 404


def test_stock_cannot_drop_below_what_is_reserved(client: Client) -> None:
    assert place_order(client, "ada@example.com", ("KB-101", 3)).json()["status"] == "confirmed"

    refused = client.put("/api/inventory/stock/KB-101", {"quantity": 2}, content_type=JSON, headers=staff())
    allowed = client.put("/api/inventory/stock/KB-101", {"quantity": 3}, content_type=JSON, headers=staff())

    assert refused.status_code == 409, refused.content
    assert allowed.status_code == 200 and allowed.json() == {
        "sku": "KB-101",
        "on_hand": 3,
        "reserved": 3,
        "available": 0,
    }


def test_seed_shop_creates_demo_products_with_stock_and_if_empty_is_idempotent() -> None:
    out = StringIO()
    call_command("seed_shop", "--if-empty", stdout=out)

    seeded = Product.objects.count()
    assert seeded >= 5
    assert "KB-101" in out.getvalue() and "product" in out.getvalue().lower()
    assert StockItem.objects.count() == seeded
    assert stock_of(Client(), "KB-101")[0] > 0

    again = StringIO()
    call_command("seed_shop", "--if-empty", stdout=again)
    call_command("seed_shop", stdout=StringIO())  # without the flag: existing products are left alone

    assert "nothing seeded" in again.getvalue()
    assert Product.objects.count() == seeded and StockItem.objects.count() == seeded
    order = place_order(Client(), "ada@example.com", ("KB-101", 1))
    assert order.status_code == 201 and order.json()["status"] == "confirmed"
