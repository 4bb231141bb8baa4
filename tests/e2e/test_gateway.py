"""The gateway (strangler fig): with catalog served by its own process, the monolith still answers
/api/catalog/... by forwarding, its orders module reaches the catalog contract over HTTP, and a
service that is down is a 503, never a 500."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ROOT, gunicorn, migrated_database, project_env
from tests.support.tokens import customer, staff

pytestmark = pytest.mark.e2e


def test_the_monolith_forwards_an_extracted_modules_paths(tmp_path: Path) -> None:
    with migrated_database(tmp_path) as db_env:
        base_env = {**db_env, "DEBUG": "false", "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
        service_env = project_env({**base_env, "SEAMS_MODULES": "catalog"})
        with gunicorn(service_env, log=tmp_path / "catalog.log") as service:
            monolith_env = project_env({**base_env, "SEAMS_BIND_CATALOG": service})
            with gunicorn(monolith_env, log=tmp_path / "monolith.log") as monolith, httpx.Client(
                base_url=monolith, timeout=30
            ) as http:
                # The monolith's public API is unchanged: its OpenAPI still lists catalog's paths.
                assert any(p.startswith("/api/catalog/") for p in http.get("/api/openapi.json").json()["paths"])
                created = http.post(
                    "/api/catalog/products/", json={"sku": "GW-1", "name": "Gateway lamp", "price_cents": 1200}, headers=staff()
                )
                assert created.status_code == 201, created.text
                assert http.get("/api/catalog/products/GW-1").json()["name"] == "Gateway lamp"
                assert http.get("/api/catalog/products/NOPE").status_code == 404
                duplicate = http.post(
                    "/api/catalog/products/", json={"sku": "GW-1", "name": "Again", "price_cents": 1}, headers=staff()
                )
                assert duplicate.status_code == 409
                bad = http.post("/api/catalog/products/", json={"sku": "GW-2", "name": "x", "price_cents": -1}, headers=staff())
                assert bad.status_code == 422 and bad.json()["detail"]
                # orders calls the catalog contract: over HTTP now, with no change to its code.
                assert http.put("/api/inventory/stock/GW-1", json={"quantity": 5}, headers=staff()).status_code == 200
                placed = http.post(
                    "/api/orders/", json={"lines": [{"sku": "GW-1", "quantity": 2}]}, headers=customer("gw@example.com")
                )
                assert placed.status_code == 201, placed.text
                assert placed.json()["total_cents"] == 2400 and placed.json()["status"] == "confirmed"
                unknown = http.post(
                    "/api/orders/", json={"lines": [{"sku": "NOPE", "quantity": 1}]}, headers=customer("gw@example.com")
                )
                assert unknown.status_code == 422 and "sku" in str(unknown.json()["detail"])

        # The catalog service is gone: its paths and the orders that need it answer 503.
        with gunicorn(monolith_env, log=tmp_path / "monolith-alone.log") as monolith, httpx.Client(
            base_url=monolith, timeout=30
        ) as http:
            down = http.get("/api/catalog/products/GW-1")
            assert down.status_code == 503 and down.json()["code"] == "seams.ServiceUnavailable", down.text
            # No host for the client: the service's URL is in the monolith's log, under the error id.
            assert service.encode() not in down.content and down.json()["error_id"]
            placed = http.post(
                "/api/orders/", json={"lines": [{"sku": "GW-1", "quantity": 1}]}, headers=customer("gw@example.com")
            )
            assert placed.status_code == 503, placed.text
            assert placed.headers.get("Retry-After")

        # SEAMS_GATEWAY=off: the monolith no longer answers catalog's paths.
        off = project_env({**base_env, "SEAMS_BIND_CATALOG": service, "SEAMS_GATEWAY": "off"})
        code = (
            "import django; django.setup(); from django.test import Client; "
            "print(Client().get('/api/catalog/products/GW-1').status_code)"
        )
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=off, capture_output=True, text=True)
        assert result.stdout.strip().splitlines()[-1] == "404", result.stderr
