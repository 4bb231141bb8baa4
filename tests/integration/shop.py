"""Helpers for the shop's integration tests: set up products and place orders over the API."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests.support.tokens import customer, staff

JSON = "application/json"


def add_product(client: Client, sku: str, price_cents: int, stock: int | None = None) -> None:
    r = client.post(
        "/api/catalog/products/", {"sku": sku, "name": f"Product {sku}", "price_cents": price_cents}, content_type=JSON,
        headers=staff(),
    )
    assert r.status_code == 201, r.content
    if stock is not None:
        r = client.put(f"/api/inventory/stock/{sku}", {"quantity": stock}, content_type=JSON, headers=staff())
        assert r.status_code == 200, r.content


def place_order(client: Client, email: str, *lines: tuple[str, int]) -> Any:
    """Placed by the customer ``email`` (their token: the order is theirs)."""
    return client.post(
        "/api/orders/",
        {"lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]},
        content_type=JSON,
        headers=customer(email),
    )


def emails_of(client: Client, email: str) -> list[dict[str, Any]]:
    """The emails sent to ``email``, read with their own token."""
    r = client.get("/api/notifications/", headers=customer(email))
    assert r.status_code == 200, r.content
    return r.json()


def stock_of(client: Client, sku: str) -> tuple[int, int, int]:
    r = client.get(f"/api/inventory/stock/{sku}")
    assert r.status_code == 200, r.content
    body = r.json()
    return body["on_hand"], body["reserved"], body["available"]
