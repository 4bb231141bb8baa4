"""A Host outside ALLOWED_HOSTS is a JSON 400 on every path, with DEBUG on or off: never Django's
HTML page (with DEBUG on, a traceback)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

PATHS = ["/api/catalog/products/KB-101", "/internal/catalog/v1/catalog/get_product", "/health/ready", "/console/", "/nowhere"]


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
@pytest.mark.parametrize("path", PATHS)
def test_a_forged_host_is_a_json_400(path: str, debug: bool, caplog: pytest.LogCaptureFixture) -> None:
    with override_settings(DEBUG=debug, ALLOWED_HOSTS=["shop.example"]):
        response = Client(HTTP_HOST="evil.example").get(path)

    assert response.status_code == 400, response.content[:3000]
    assert response["Content-Type"] == "application/json", response.content[:3000]
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "This Host header is not served here.", "code": "seams.BadRequest"}
    assert any(r.name == "django.security.DisallowedHost" and "evil.example" in r.getMessage() for r in caplog.records)


def test_an_allowed_host_is_served() -> None:
    with override_settings(ALLOWED_HOSTS=["shop.example"]):
        assert Client(HTTP_HOST="shop.example").get("/health/live").status_code == 200
