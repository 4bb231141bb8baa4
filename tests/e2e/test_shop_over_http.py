"""The reference shop as a user meets it: a real gunicorn process, a fresh database, demo data,
and the whole order flow over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.processes import gunicorn, manage, migrated_database, project_env
from tests.support.tokens import customer, staff

pytestmark = pytest.mark.e2e


def test_order_flow_over_http(tmp_path: Path) -> None:
    with migrated_database(tmp_path) as db_env:
        env = project_env({**db_env, "DEBUG": "false", "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"})
        seeded = manage(["seed_shop", "--if-empty"], env)
        assert "product" in seeded.stdout.lower()
        with gunicorn(env, log=tmp_path / "gunicorn.log") as base, httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/api/docs").status_code == 200
            schema = http.get("/api/openapi.json").json()
            assert "/api/orders/" in schema["paths"]

            http.post("/api/catalog/products/", json={"sku": "E2E-1", "name": "Test lamp", "price_cents": 2500}, headers=staff())
            assert http.put("/api/inventory/stock/E2E-1", json={"quantity": 3}, headers=staff()).status_code == 200

            placed = http.post(
                "/api/orders/", json={"lines": [{"sku": "E2E-1", "quantity": 2}]}, headers=customer("ada@example.com")
            )
            assert placed.status_code == 201, placed.text
            order = placed.json()
            assert order["total_cents"] == 5000
            assert order["status"] == "confirmed"
            assert http.get(f"/api/orders/{order['id']}", headers=customer("ada@example.com")).json()["status"] == "confirmed"

            stock = http.get("/api/inventory/stock/E2E-1").json()
            assert (stock["on_hand"], stock["reserved"], stock["available"]) == (3, 2, 1)

            refused = http.post(
                "/api/orders/", json={"lines": [{"sku": "E2E-1", "quantity": 2}]}, headers=customer("bob@example.com")
            )
            assert refused.status_code == 201
            assert refused.json()["status"] == "cancelled"

            ada = http.get("/api/notifications/", headers=customer("ada@example.com")).json()
            bob = http.get("/api/notifications/", headers=customer("bob@example.com")).json()
            assert len(ada) == 1 and len(bob) == 1

            unknown = http.post(
                "/api/orders/", json={"lines": [{"sku": "NOPE", "quantity": 1}]}, headers=customer("ada@example.com")
            )
            assert unknown.status_code == 422
            assert "sku" in unknown.json()["detail"][0]["loc"]
            assert http.post("/api/orders/", content=b"{oops", headers={"content-type": "application/json", **customer()}).status_code == 400
            assert http.get("/api/orders/999999", headers=customer()).status_code == 404
